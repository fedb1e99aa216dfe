"""A service: one emulated API (moto's shape), hosted by the one server in :mod:`.server`.

A service has routes (URL patterns to handlers), handlers, and a ``state`` object with
``reset()``; the base class gives it what every service shares: the fault switches
(:mod:`.faults`), the request log, the clock (:mod:`.clock`) and the request pipeline::

    arrival (clock read once, request numbered, on_request hooks)
      -> faults (drop, answer, status, 429, 5xx HTML; slow adds a delay)
      -> dispatch: authorize -> throttle -> route -> handler (under ``lock``)
      -> drop_after, log entry

Subclasses fill in the vendor's parts: ``routes`` (or :meth:`match`), :meth:`authorize`,
:meth:`throttle`, the vendor's error bodies (:meth:`error_body`, :meth:`html_error`,
:meth:`not_found`, :meth:`internal_error`) and, for batch writes, :meth:`count_items`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from .clock import Clock, monotonic
from .faults import Fault, Faults
from .messages import HttpError, LogEntry, Request, RequestLog, Response

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_NAMED = r"{\1}"
Route = tuple[str, Any, Callable[..., Response]]  # method, compiled regex, handler

NGINX_PAGE = ("<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
              "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
              "</body>\r\n</html>\r\n")
REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Temporarily Unavailable",
           504: "Gateway Time-out"}


class Service:
    """The vendor-neutral request pipeline; subclasses supply the vendor's parts.

    :attr:`clock` is the time the service's limiters, quotas and log read (seconds; see
    :mod:`.clock`); ``reset()`` leaves it as it is. :attr:`lock` is held while a handler runs.
    """

    name = "service"
    routes: list[Route] = []

    def __init__(self) -> None:
        self.clock: Clock = monotonic
        self.log = RequestLog()
        self.faults = Faults()
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Fresh state, empty log, no faults (subclasses extend and call this)."""
        self.log.clear()
        self.faults.reset()

    # -- the vendor's parts ------------------------------------------------------------------
    def route_path(self, request: Request) -> str:
        return request.path

    def match(self, request: Request) -> tuple[str, Callable[..., Response], dict[str, str]] | None:
        """(action, handler, path groups) for a request, or None (then :meth:`not_found`)."""
        path = self.route_path(request)
        for method, pattern, handler in self.routes:
            found = pattern.fullmatch(path)
            if found and method == request.method:
                return f"{method} {_GROUP.sub(_NAMED, pattern.pattern)}", handler, found.groupdict()
        return None

    def action(self, request: Request) -> str:
        """The name faults and the log use for this call."""
        found = self.match(request)
        return found[0] if found else "unknown"

    def owns(self, request: Request) -> bool:
        """Whether this service answers ``request`` on a server hosting several."""
        return self.match(request) is not None

    def authorize(self, request: Request) -> Response | None:
        return None

    def throttle(self, request: Request, now: float) -> Response | None:
        return None

    def before_request(self, request: Request) -> None:
        """Runs as a request arrives, after the on_request hooks and before faults."""

    def error_body(self, status: int, request: Request) -> Response:
        """The vendor's answer for ``status`` (429: its rate-limit answer)."""
        return Response.json(status, {"error": status})

    def html_error(self, status: int, request: Request) -> Response:
        """A 5xx HTML page, as the vendor's front end or proxy sends it."""
        page = NGINX_PAGE.format(status=status, reason=REASONS.get(status, "Error"))
        return Response(status, page.encode(), {"Content-Type": "text/html"})

    def not_found(self, request: Request) -> Response:
        return Response.json(404, {"error": "not found"})

    def internal_error(self, exc: Exception, request: Request) -> Response:
        """A bug in the emulator: answer 500 and keep serving."""
        return Response(500, f"emulator error: {exc!r}".encode(), {"Content-Type": "text/plain"})

    def count_items(self, request: Request) -> int | None:
        return None

    def control(self, method: str, name: str, data: Any) -> Any:
        """Service-specific ``/_emulator/<name>`` endpoints; NotImplemented for none."""
        return NotImplemented

    # -- the pipeline --------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        """Answer one request (faults, auth, limits, handler) and log it."""
        now = self.clock()
        hook = self.faults.arrival()
        if hook is not None:
            with self.lock:
                hook(self)
        self.before_request(request)
        action = self.action(request)
        entry = LogEntry(request.method, request.path, request.query_string, action, request.body, at=now)
        response = self._answer(request, action, now, entry)
        try:
            entry.items = self.count_items(request)
        except Exception:  # noqa: BLE001 - a malformed body is the handler's business
            entry.items = None
        if not response.drop:
            entry.status, entry.response_body = response.status, response.body
        self.log.add(entry)
        return response

    def _answer(self, request: Request, action: str, now: float, entry: LogEntry) -> Response:
        delay, after, response = 0.0, False, None
        for fault in self.faults.take(request, action):
            entry.fault = fault.kind
            if fault.kind == "slow":
                delay += fault.delay
            elif fault.kind == "drop":
                response = Response.dropped()
            elif fault.kind == "drop_after":
                after = True
            else:
                response = self.fault_response(fault, request)
        if response is None:
            response = self.dispatch(request, now)
            if after:
                entry.status = response.status  # applied; the client never hears of it
                response = Response.dropped()
        response.delay += delay  # slow faults delay whatever the answer is
        return response

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "answer":
            body = fault.body
            if isinstance(body, str):
                body = body.encode("utf-8")
            if isinstance(body, bytes):
                response = Response(fault.status, body, {"Content-Type": fault.content_type})
            else:
                response = Response.json(fault.status, body)
        elif fault.kind in ("500", "html"):
            response = self.html_error(fault.status, request)
        else:
            response = self.error_body(fault.status, request)
        retry_after = fault.retry_after_header()
        if retry_after is not None:
            response.headers["Retry-After"] = retry_after
        return response

    def dispatch(self, request: Request, now: float) -> Response:
        """Authorize, throttle, route and run the handler."""
        try:
            denied = self.authorize(request)
            if denied is not None:
                return denied
            limited = self.throttle(request, now)
            if limited is not None:
                return limited
            found = self.match(request)
            if found is None:
                return self.not_found(request)
            _, handler, groups = found
            with self.lock:
                return handler(self, request, **groups)
        except HttpError as exc:
            return exc.response
        except Exception as exc:  # noqa: BLE001 - an emulator bug must still answer
            return self.internal_error(exc, request)
