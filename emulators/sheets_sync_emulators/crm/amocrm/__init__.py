"""An amoCRM/Kommo API v4 emulator: companies, company custom fields, Bearer auth, 7 rps.

``AmoCrmApp()`` holds :attr:`state` (:class:`~.state.AmoState`), the request log and the fault
switches; serve it with :class:`~sheets_sync_emulators.core.EmulatorServer`. The rate
limiter (:attr:`limiter`, 7 requests per rolling second) answers 429; after ``ban_after``
violations every request answers 403, as amoCRM blocks an IP that keeps ignoring 429s.
See :mod:`.handlers` for what follows the documentation and what is assumed.
"""

from __future__ import annotations

from ...core import Request, Response, Service
from ...core.limits import SlidingWindow
from .handlers import problem
from .routes import ROUTES
from .state import AmoState

__all__ = ["AmoCrmApp", "AmoState"]


class AmoCrmApp(Service):
    name = "amocrm"
    routes = ROUTES

    def __init__(self, token: str = "amo-test-token", rate: int = 7, window: float = 1.0,
                 ban_after: int | None = 100) -> None:
        self.state = AmoState(token)
        self.limiter = SlidingWindow(rate, window)
        self.ban_after = ban_after
        super().__init__()

    def reset(self) -> None:
        super().reset()
        self.state.reset()
        self.limiter.reset()
        self.violations = 0

    def authorize(self, request: Request) -> Response | None:
        if self.ban_after is not None and self.violations >= self.ban_after:
            return problem(403, "Forbidden", "Access denied: too many requests over the limit")
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
        return problem(404, "Not Found", "Not Found")

    def count_items(self, request: Request) -> int | None:
        if request.method == "PATCH" and request.path == "/api/v4/companies":
            body = request.json()
            return len(body) if isinstance(body, list) else None
        return None
