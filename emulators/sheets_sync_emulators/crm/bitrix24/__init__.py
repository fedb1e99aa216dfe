"""A Bitrix24 REST emulator behind an incoming-webhook URL ``/rest/{user_id}/{code}/``.

``Bitrix24App()`` holds :attr:`state` (:class:`~.state.Bitrix24State`), the request log and
the fault switches. Limits, as Bitrix24 documents them: a leaky bucket of 50 requests draining
2 per second (:attr:`bucket`, over it: 503 ``QUERY_LIMIT_EXCEEDED``) and an operating-time
budget per method (:attr:`operation`, 480 s per 10 minutes, over it: 429
``OPERATION_TIME_LIMIT``); each executed method costs :attr:`op_cost` seconds of it. Set
:attr:`result_error_as_list` to answer ``batch`` errors as a plain list, as recorded on live
portals. Every answer is HTTP 200 for ``batch``; see :mod:`.handlers` for the assumptions.
Method names are matched case-insensitively. A method or path it does not emulate answers 501
``NOT_EMULATED``, ``not emulated: <method>`` (inside a batch, that command's error), so a
client's failure names the emulator's gap, not the client.
"""

from __future__ import annotations

import time
from typing import Any

from ...core import HttpError, Request, Response, Service
from ...core.limits import LeakyBucket, OperationBudget
from . import handlers
from .handlers import MethodError, Outcome
from .php import parse_query
from .routes import WEBHOOK
from .state import Bitrix24State

__all__ = ["Bitrix24App", "Bitrix24State"]


class Bitrix24App(Service):
    name = "bitrix24"

    def __init__(self, user_id: int = 1, code: str = "b24webhookcode0001",
                 capacity: int = 50, drain: float = 2.0) -> None:
        self.state = Bitrix24State(user_id, code)
        self.bucket = LeakyBucket(capacity, drain)
        self.operation = OperationBudget(480.0, 600.0)
        self.op_cost = 0.0
        self.result_error_as_list = False
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self.state.reset()
        self.bucket.reset()
        self.operation.reset()
        self.op_cost = 0.0
        self.result_error_as_list = False

    @staticmethod
    def error(status: int, error: str, description: str) -> Response:
        return Response.json(status, {"error": error, "error_description": description})

    def authorize(self, request: Request) -> Response | None:
        match = WEBHOOK.fullmatch(request.path)
        if match is None:
            return None  # answered 501 by not_found
        if match["user_id"] != str(self.state.user_id) or match["code"] != self.state.code:
            return self.error(401, "NO_AUTH_FOUND", "Wrong authorization data")
        return None

    def throttle(self, request: Request, now: float) -> Response | None:
        if self.bucket.hit(now):
            return None
        return self.error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")

    def error_body(self, status: int, request: Request) -> Response:
        if status == 503:
            return self.error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
        if status == 429:
            return self.error(429, "OPERATION_TIME_LIMIT",
                              "Method is blocked due to operation time limit.")
        return self.error(status, "INTERNAL_SERVER_ERROR", "Internal server error")

    def not_found(self, request: Request) -> Response:
        return self.error(501, "NOT_EMULATED", f"not emulated: {request.method} {request.path}")

    def params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = parse_query(request.target.partition("?")[2])
        if request.body:
            content_type = request.header("Content-Type") or ""
            if "json" in content_type:
                try:
                    body = request.json()
                except ValueError:
                    raise HttpError(self.error(400, "INVALID_REQUEST", "Invalid JSON")
                                    ) from None
                if isinstance(body, dict):
                    params.update(body)
            else:
                params.update(parse_query(request.body.decode("utf-8")))
        return params

    def call(self, method: str, params: dict[str, Any]) -> Outcome:
        """Run one REST method (directly or from a batch), charging its operating time."""
        impl = handlers.find(method)
        if impl is None:
            raise MethodError(501, "NOT_EMULATED", f"not emulated: {method}")
        method = method.lower()
        now = self.clock()
        if self.operation.blocked(method, now):
            raise MethodError(429, "OPERATION_TIME_LIMIT",
                              "Method is blocked due to operation time limit.")
        try:
            return impl(self, params)
        finally:
            if self.op_cost:
                self.operation.spend(method, now, self.op_cost)

    def dispatch(self, request: Request, now: float) -> Response:
        if WEBHOOK.fullmatch(request.path) is None or request.method not in ("GET", "POST"):
            return self.not_found(request)
        return super().dispatch(request, now)

    def action(self, request: Request) -> str:
        """The REST method's name (``crm.company.list``, ``batch``): what faults match on."""
        match = WEBHOOK.fullmatch(request.path)
        return match["method"] if match else "unknown"

    # the generic router has no routes; every webhook call lands here
    def handle_method(self, request: Request, method: str) -> Response:
        if method.lower() != "batch" and handlers.find(method) is None:
            return self.not_found(request)
        start = time.time()
        try:
            params = self.params(request)
            with self.lock:
                outcome = (handlers.batch(self, params) if method.lower() == "batch"
                           else self.call(method, params))
        except MethodError as exc:
            return Response.json(exc.status, exc.body())
        except HttpError as exc:
            return exc.response
        body: dict[str, Any] = {"result": outcome.result}
        if outcome.next is not None:
            body["next"] = outcome.next
        if outcome.total is not None:
            body["total"] = outcome.total
        body["time"] = handlers.time_block(self, method.lower(), start)
        return Response.json(200, body)

    def count_items(self, request: Request) -> int | None:
        match = WEBHOOK.fullmatch(request.path)
        if match is None or match["method"].lower() != "batch":
            return None
        cmd = self.params(request).get("cmd") or {}
        return len(cmd)


def _dispatch(app: Bitrix24App, request: Request, **groups: str) -> Response:
    return app.handle_method(request, groups["method"])


Bitrix24App.routes = [("GET", WEBHOOK, _dispatch), ("POST", WEBHOOK, _dispatch)]
