"""What every CRM emulator shares: the request/response types, the request log, fault switches.

An emulator is an :class:`App`: ``app.handle(request) -> Response``. The app checks auth, applies
the vendor's rate limiter, runs the fault switches, dispatches to a route and records the call
in :attr:`App.log`. Vendor apps (``amocrm``, ``bitrix24``, ``hubspot``) subclass it and supply
the routes and the vendor's error bodies; :mod:`.server` serves any app over HTTP.

Fault switches (``app.faults``), all counted per test because tests call ``app.reset()``:

* ``fail(status, times=1, after=0, path=None, body=None, retry_after=None, method=None)``:
  answer the next ``times`` matching requests (after skipping ``after`` of them) with
  ``status`` and the vendor's body for it (429, 503, 500...). ``path`` matches a substring of
  the path and query; ``method`` (e.g. ``"PATCH"``) narrows it to writes.
* ``answer(status, body, content_type=..., times=1, after=0, path=None, method=None)``: answer
  with these
  exact bytes (an HTML page with 200, an empty or truncated body, an error body with 200).
* ``drop(times=1, after=0, path=None)``: close the connection without answering.
* ``slow(seconds, times=1, after=0, path=None)``: answer late.
* ``reject(record_id, message=None)``: writes to that record fail with the vendor's own error
  shape (a validation error, a per-command error, a Multi-Status entry).
* ``on_request(n, callback)``: call ``callback(app)`` when request number ``n`` arrives (1-based),
  e.g. to delete or edit a company in the middle of a sync.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    target: str  # path and query as sent
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lower:
                return value
        return None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    delay: float = 0.0

    @classmethod
    def json(cls, status: int, payload: Any, content_type: str = "application/json",
             headers: Mapping[str, str] | None = None) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return cls(status, body, {"Content-Type": f"{content_type}; charset=utf-8",
                                  **(headers or {})})


class HttpError(Exception):
    """Raised by a handler to answer with a vendor error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class LogEntry:
    """One request as the emulator saw it (tests read these to count requests and batches)."""

    method: str
    path: str
    status: int
    request_bytes: int
    response_bytes: int
    items: int | None = None  # records or commands in a batch write, when the handler says
    at: float = 0.0


class RequestLog:
    def __init__(self) -> None:
        self._entries: list[LogEntry] = []
        self._lock = threading.Lock()

    def add(self, entry: LogEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    @property
    def entries(self) -> list[LogEntry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def count(self, status: int | None = None, path: str | None = None,
              method: str | None = None) -> int:
        return len(self.select(status=status, path=path, method=method))

    def select(self, status: int | None = None, path: str | None = None,
               method: str | None = None) -> list[LogEntry]:
        return [e for e in self.entries
                if (status is None or e.status == status)
                and (path is None or path in e.path)
                and (method is None or e.method == method)]


@dataclass
class _Rule:
    kind: str  # "fail" | "drop" | "slow"
    times: int
    after: int
    path: str | None
    status: int = 0
    body: Any = None
    retry_after: float | None = None
    seconds: float = 0.0
    raw: bytes | None = None
    content_type: str = "application/json"
    method: str | None = None

    def matches(self, request: Request) -> bool:
        return (self.path is None or self.path in request.target) and \
            (self.method is None or self.method == request.method)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._rules: list[_Rule] = []
            self.rejected: dict[str, str | None] = {}
            self._hooks: dict[int, Callable[[Any], None]] = {}

    def fail(self, status: int, times: int = 1, after: int = 0, path: str | None = None,
             body: Any = None, retry_after: float | None = None,
             method: str | None = None) -> None:
        with self._lock:
            self._rules.append(_Rule("fail", times, after, path, status, body, retry_after,
                                     method=method))

    def answer(self, status: int, body: bytes | str, content_type: str = "application/json",
               times: int = 1, after: int = 0, path: str | None = None,
               method: str | None = None) -> None:
        raw = body.encode("utf-8") if isinstance(body, str) else body
        with self._lock:
            self._rules.append(_Rule("fail", times, after, path, status, raw=raw,
                                     content_type=content_type, method=method))

    def drop(self, times: int = 1, after: int = 0, path: str | None = None) -> None:
        with self._lock:
            self._rules.append(_Rule("drop", times, after, path))

    def slow(self, seconds: float, times: int = 1, after: int = 0,
             path: str | None = None) -> None:
        with self._lock:
            self._rules.append(_Rule("slow", times, after, path, seconds=seconds))

    def reject(self, record_id: str | int, message: str | None = None) -> None:
        with self._lock:
            self.rejected[str(record_id)] = message

    def on_request(self, number: int, callback: Callable[[Any], None]) -> None:
        with self._lock:
            self._hooks[number] = callback

    def hook_for(self, number: int) -> Callable[[Any], None] | None:
        with self._lock:
            return self._hooks.pop(number, None)

    def take(self, request: Request) -> list[_Rule]:
        """The rules that fire for this request (each consumes one of its ``times``).

        Slow rules add up; the first failing or dropping rule ends the list, so rules queued
        one after another fail successive requests in the order they were added.
        """
        fired = []
        with self._lock:
            for rule in self._rules:
                if rule.times <= 0 or not rule.matches(request):
                    continue
                if rule.after > 0:
                    rule.after -= 1
                    continue
                rule.times -= 1
                fired.append(rule)
                if rule.kind != "slow":
                    break  # one failure per request; the next rule waits for the next one
            self._rules = [r for r in self._rules if r.times > 0]
        return fired


Route = tuple[str, Any, Callable[..., Response]]  # method, compiled regex, handler


class App:
    """The vendor-neutral request pipeline; subclasses fill in the vendor's parts.

    :attr:`clock` is the time every limiter of the app and the request log read (seconds,
    monotonic). It is ``time.monotonic`` unless a test sets another, e.g. a
    :class:`~.limits.ManualClock`'s ``now`` shared with the adapter under test, so that rate
    limits and retries play out the same on any machine. ``reset()`` leaves it as it is.
    """

    name = "crm"

    def __init__(self) -> None:
        self.clock: Callable[[], float] = time.monotonic
        self.log = RequestLog()
        self.faults = Faults()
        self._lock = threading.RLock()  # handlers mutate state under it
        self._count = 0
        self.reset()

    # -- to be provided by each vendor --------------------------------------------------
    routes: list[Route] = []

    def reset(self) -> None:
        """Fresh state, empty log, no faults (subclasses extend and call this)."""
        self.log.clear()
        self.faults.reset()
        self._count = 0

    def authorize(self, request: Request) -> Response | None:
        return None

    def throttle(self, request: Request, now: float) -> Response | None:
        return None

    def error_body(self, status: int, request: Request) -> Response:
        return Response.json(status, {"error": status})

    def not_found(self, request: Request) -> Response:
        return Response.json(404, {"error": "not found"})

    def count_items(self, request: Request) -> int | None:
        return None

    def route_path(self, request: Request) -> str:
        return request.path

    # -- the pipeline ---------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        with self._lock:
            self._count += 1
            number = self._count
        hook = self.faults.hook_for(number)
        if hook is not None:
            with self._lock:
                hook(self)
        response = self._handle(request)
        try:
            items = self.count_items(request)
        except Exception:  # noqa: BLE001 - a malformed body is the handler's business
            items = None
        self.log.add(LogEntry(request.method, request.path, response.status,
                              len(request.body), len(response.body), items, self.clock()))
        return response

    def _handle(self, request: Request) -> Response:
        denied = self.authorize(request)
        if denied is not None:
            return denied
        delay = 0.0
        for rule in self.faults.take(request):
            if rule.kind == "drop":
                return Response(0, drop=True)
            if rule.kind == "slow":
                delay += rule.seconds
                continue
            if rule.raw is not None:
                forced = Response(rule.status, rule.raw, {"Content-Type": rule.content_type})
            elif rule.body is not None:
                forced = Response.json(rule.status, rule.body)
            else:
                forced = self.error_body(rule.status, request)
            if rule.retry_after is not None:
                forced.headers["Retry-After"] = _seconds_text(rule.retry_after)
            return forced
        limited = self.throttle(request, self.clock())
        if limited is not None:
            return limited
        path = self.route_path(request)
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if match and method == request.method:
                try:
                    with self._lock:
                        response = handler(self, request, **match.groupdict())
                except HttpError as exc:
                    response = exc.response
                response.delay += delay
                return response
        return self.not_found(request)


def _seconds_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
