"""An amoCRM/Kommo API v4 emulator: companies, contacts, leads (сделки), their custom fields,
the lead pipelines, Bearer auth, 7 rps.

``AmoCrmApp()`` holds :attr:`state` (:class:`~.state.AmoState`), the request log and the fault
switches; serve it with :class:`~sheets_sync_emulators.core.EmulatorServer`. The rate
limiter (:attr:`limiter`, 7 requests per rolling second) answers 429; after ``ban_after``
violations every request answers 403 for :attr:`ban_seconds` of the app's clock, as amoCRM
blocks an IP that keeps ignoring 429s (``ban_after = 0``: every request is over the limit, the
block starts at once and starts again when it lifts). amoCRM's documentation says the address
is restricted but names no duration; the emulator assumes 15 minutes (``ban_seconds``). The
403 is nginx's HTML page, as recorded in amocrm-api-php issue 434 (``403 Forbidden`` /
``nginx``), not JSON. A path it does not emulate answers 501 with ``not emulated: <method>
<path>`` (problem+json), so a client's failure names the emulator's gap, not the client.
See :mod:`.handlers` for what follows the documentation and what is assumed.
"""

from __future__ import annotations

from ...core import Request, Response, Service
from ...core.limits import SlidingWindow
from .handlers import problem
from .routes import ROUTES
from .state import AmoState

__all__ = ["AmoCrmApp", "AmoState"]

BAN_SECONDS = 900.0
FORBIDDEN_PAGE = (b"<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
                  b"<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n"
                  b"</body>\r\n</html>\r\n")


class AmoCrmApp(Service):
    name = "amocrm"
    routes = ROUTES

    def __init__(self, token: str = "amo-test-token", rate: int = 7, window: float = 1.0,
                 ban_after: int | None = 100, ban_seconds: float = BAN_SECONDS) -> None:
        self.state = AmoState(token)
        self.limiter = SlidingWindow(rate, window)
        self.ban_after = ban_after
        self.ban_seconds = ban_seconds
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self.state.reset()
        self.limiter.reset()
        self.violations = 0
        self.banned_until: float | None = None

    def banned(self) -> bool:
        """Whether the address is blocked now (by the app's clock); lifts after ban_seconds."""
        now = self.clock()
        if self.banned_until is not None:
            if now < self.banned_until:
                return True
            self.banned_until, self.violations = None, 0
        if self.ban_after is not None and self.violations >= self.ban_after:
            self.banned_until = now + self.ban_seconds
            return True
        return False

    def authorize(self, request: Request) -> Response | None:
        if self.banned():
            return Response(403, FORBIDDEN_PAGE, {"Content-Type": "text/html"})
        if request.header("Authorization") != f"Bearer {self.state.token}":
            return problem(401, "Unauthorized", "Неверный логин или пароль")
        return None

    def throttle(self, request: Request, now: float) -> Response | None:
        if self.limiter.hit(now):
            return None
        self.violations += 1
        return problem(429, "Too Many Requests", "Too Many Requests")

    def error_body(self, status: int, request: Request) -> Response:
        titles = {429: "Too Many Requests", 500: "Internal Server Error",
                  502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
        title = titles.get(status, "Error")
        return problem(status, title, title)

    def not_found(self, request: Request) -> Response:
        return problem(501, "Not Implemented",
                       f"not emulated: {request.method} {request.path}")

    def count_items(self, request: Request) -> int | None:
        if request.method in ("PATCH", "POST") and request.path in (
                "/api/v4/companies", "/api/v4/contacts", "/api/v4/leads"):
            body = request.json()
            return len(body) if isinstance(body, list) else None
        return None
