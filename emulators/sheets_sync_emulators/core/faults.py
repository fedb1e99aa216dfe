"""The one fault-injection API of every emulated service (``service.faults``).

Every service has the same switches, set from Python or over HTTP
(``POST /_emulator/faults`` with the same fields as JSON, a list for several;
``GET`` lists them, ``DELETE`` clears). Each kind answers in the service's own shapes:

==============  ==========================================================================
``429``         the service's rate-limit answer (Google: ``RESOURCE_EXHAUSTED`` with its
                ``ErrorInfo``; amoCRM, HubSpot, Bitrix24: their own bodies), with
                ``Retry-After`` when ``retry_after`` is set: seconds (``3``, ``0.5``), an
                HTTP-date that many seconds from now (``retry_after_form="date"``), or a
                string sent as it is
``status``      any ``status`` with the service's error body for it (``retry_after`` too)
``500``         a 5xx HTML page, as a proxy or Google's front end sends (``status``, 500 by
                default); ``html`` is the same kind under its plain name
``answer``      exactly this ``body`` (bytes, text, or a JSON value) and ``content_type``
``slow``        answer ``delay`` real seconds late (a request is applied first); slow
                faults add up, and delay the answer of another fault firing on the request
``drop``        close the connection without answering; nothing is applied
``drop_after``  apply the request, then close the connection without answering (the client
                cannot tell whether it was applied)
==============  ==========================================================================

Which requests: ``action`` (the service's name of the call: ``"values.batchUpdate"``,
``"crm.company.list"``, ``"PATCH /api/v4/companies"``), ``method``, ``path`` (a substring of
the path and query) and ``path_regex`` (searched in the path); ``None`` matches anything. A
fault fires on the ``attempt``-th matching request (``after=n`` is ``attempt=n + 1``) and the
``times - 1`` after it. Faults form a queue: a request is offered to them in the order they were
added and the first that fires (other than ``slow``) ends the walk, so
``fail(429, times=2); fail(502)`` answers 429, 429, 502.

Besides: ``reject(record_id, message)`` makes writes to that record fail in the vendor's own
error shape (services with records honour it), and ``on_request(n, callback)`` calls
``callback(service)`` when the service's ``n``-th request arrives (1-based), e.g. to edit a
record in the middle of a sync.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from .messages import Request

KINDS = ("429", "status", "500", "html", "answer", "slow", "drop", "drop_after")


@dataclass
class Fault:
    kind: str
    action: str | None = None
    method: str | None = None
    path: str | None = None
    path_regex: str | None = None
    attempt: int = 1
    times: int = 1
    status: int = 500
    retry_after: float | str | None = None
    retry_after_form: str = "seconds"  # or "date"
    delay: float = 0.0
    body: Any = None
    content_type: str = "application/json"
    seen: int = 0  # matching requests offered to it
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (one of {', '.join(KINDS)})")
        if self.kind == "429":
            self.status = 429
        if self.retry_after_form not in ("seconds", "date"):
            raise ValueError("retry_after_form is 'seconds' or 'date'")
        if self.path_regex:
            re.compile(self.path_regex)

    def matches(self, request: Request, action: str) -> bool:
        return ((self.action is None or self.action == action)
                and (self.method is None or self.method.upper() == request.method.upper())
                and (self.path is None or self.path in request.target)
                and (self.path_regex is None or re.search(self.path_regex, request.path) is not None))

    def retry_after_header(self) -> str | None:
        """The ``Retry-After`` value, or None for none."""
        value = self.retry_after
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if self.retry_after_form == "date":  # wall-clock time by definition
            return email.utils.formatdate(time.time() + float(value), usegmt=True)
        return str(int(value)) if float(value).is_integer() else f"{value:g}"

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if isinstance(out["body"], bytes):
            out["body"] = out["body"].decode("utf-8", "replace")
        return out


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[Fault] = []
        self.rejected: dict[str, str | None] = {}
        self._hooks: dict[int, Callable[[Any], None]] = {}
        self._count = 0

    def reset(self) -> None:
        """No faults, no rejected records, no hooks; requests are numbered from 1 again."""
        with self._lock:
            self.items = []
            self.rejected = {}
            self._hooks = {}
            self._count = 0

    def clear(self) -> None:
        """No faults (rejected records and hooks stay)."""
        with self._lock:
            self.items = []

    # -- adding
    def add(self, kind: str, *, after: int | None = None, **options: Any) -> Fault:
        """Schedule a fault of ``kind``; the keywords are :class:`Fault`'s fields."""
        if after is not None:
            options["attempt"] = after + 1
        fault = Fault(kind=kind, **options)
        with self._lock:
            self.items.append(fault)
        return fault

    def rate_limit(self, retry_after: float | str | None = None, **options: Any) -> Fault:
        return self.add("429", retry_after=retry_after, **options)

    def server_error(self, status: int = 500, **options: Any) -> Fault:
        """A 5xx with an HTML body (Google's "That's an error" page; a proxy's page elsewhere)."""
        return self.add("500", status=status, **options)

    def fail(self, status: int, times: int = 1, after: int = 0, path: str | None = None,
             body: Any = None, retry_after: float | str | None = None, method: str | None = None,
             **options: Any) -> Fault:
        """``status`` with the service's error body for it, or with ``body`` (a JSON value)."""
        if body is not None:
            return self.add("answer", status=status, times=times, after=after, path=path, body=body,
                            retry_after=retry_after, method=method, **options)
        return self.add("status", status=status, times=times, after=after, path=path,
                        retry_after=retry_after, method=method, **options)

    def answer(self, status: int, body: bytes | str, content_type: str = "application/json",
               times: int = 1, after: int = 0, path: str | None = None, method: str | None = None,
               **options: Any) -> Fault:
        """Exactly these bytes (an HTML page with 200, an empty or truncated body...)."""
        raw = body.encode("utf-8") if isinstance(body, str) else body
        return self.add("answer", status=status, body=raw, content_type=content_type, times=times,
                        after=after, path=path, method=method, **options)

    def slow(self, delay: float, **options: Any) -> Fault:
        return self.add("slow", delay=delay, **options)

    def drop(self, **options: Any) -> Fault:
        return self.add("drop", **options)

    def drop_after(self, **options: Any) -> Fault:
        return self.add("drop_after", **options)

    def reject(self, record_id: str | int, message: str | None = None) -> None:
        with self._lock:
            self.rejected[str(record_id)] = message

    def on_request(self, number: int, callback: Callable[[Any], None]) -> None:
        with self._lock:
            self._hooks[number] = callback

    # -- firing
    def arrival(self) -> Callable[[Any], None] | None:
        """Number a request as it arrives; the ``on_request`` callback for its number, if any."""
        with self._lock:
            self._count += 1
            return self._hooks.pop(self._count, None)

    def take(self, request: Request, action: str) -> list[Fault]:
        """The faults that fire on this request, in the queue's order (see the module doc)."""
        fired: list[Fault] = []
        with self._lock:
            for fault in self.items:
                if not fault.matches(request, action):
                    continue
                fault.seen += 1
                if fault.fired >= fault.times or fault.seen < fault.attempt:
                    continue
                fault.fired += 1
                fired.append(fault)
                if fault.kind != "slow":
                    break
        return fired

    def to_json(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self.items]
