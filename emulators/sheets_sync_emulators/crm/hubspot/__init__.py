"""A HubSpot CRM emulator: companies, contacts, deals, their properties, deal pipelines and
associations (CRM v3 objects and search, v4 association lists), Bearer auth, 100 requests / 10 s.

``HubSpotApp()`` holds :attr:`state` (:class:`~.state.HubSpotState`), the request log and the
fault switches. :attr:`limiter` is HubSpot's Free/Starter burst limit (100 requests per rolling
10 s; ``limit``/``window`` arguments change it for other tiers or fast tests); over it the
answer is 429 ``RATE_LIMIT`` with ``policyName: TEN_SECONDLY_ROLLING``. Every answer carries the
documented ``X-HubSpot-RateLimit-*`` headers. A path it does not emulate answers 501 with
``not emulated: <method> <path>`` in HubSpot's error shape (category ``NOT_EMULATED``), so a
client's failure names the emulator's gap, not the client. See :mod:`.handlers` for the
assumptions.
"""

from __future__ import annotations

import uuid

from ...core import Request, Response, Service
from ...core.limits import SlidingWindow
from .handlers import error
from .routes import ROUTES
from .state import HubSpotState

__all__ = ["HubSpotApp", "HubSpotState"]


class HubSpotApp(Service):
    name = "hubspot"
    routes = ROUTES

    def __init__(self, token: str = "pat-na1-emulator-token", limit: int = 100,
                 window: float = 10.0) -> None:
        self.state = HubSpotState(token)
        self.limiter = SlidingWindow(limit, window)
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self.state.reset()
        self.limiter.reset()

    def authorize(self, request: Request) -> Response | None:
        if request.header("Authorization") != f"Bearer {self.state.token}":
            return error(401, "Authentication credentials not found. This API supports OAuth "
                              "2.0 authentication and you can find more details at "
                              "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                         "INVALID_AUTHENTICATION")
        return None

    def throttle(self, request: Request, now: float) -> Response | None:
        if self.limiter.hit(now):
            return None
        return self.rate_limited()

    def rate_limited(self) -> Response:
        return Response.json(429, {
            "status": "error", "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT", "correlationId": str(uuid.uuid4()),
            "policyName": "TEN_SECONDLY_ROLLING",
            "groupName": f"publicapi:private-app-burst:{self.state.portal_id}",
            "requestId": uuid.uuid4().hex})

    def handle(self, request: Request) -> Response:
        response = super().handle(request)
        now = self.clock()
        response.headers.update({
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.limiter.window * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.limiter.limit),
            "X-HubSpot-RateLimit-Remaining": str(self.limiter.remaining(now))})
        return response

    def error_body(self, status: int, request: Request) -> Response:
        if status == 429:
            return self.rate_limited()
        return error(status, "internal error", "INTERNAL_ERROR" if status >= 500 else None)

    def not_found(self, request: Request) -> Response:
        return error(501, f"not emulated: {request.method} {request.path}", "NOT_EMULATED")

    def count_items(self, request: Request) -> int | None:
        if request.path.endswith("/batch/update"):
            body = request.json()
            return len(body.get("inputs") or []) if isinstance(body, dict) else None
        return None
