"""The Google Sheets v4 + Drive v3 + OAuth service, as the one server hosts it.

:class:`GoogleSheets` plugs the Google parts into the shared pipeline
(:class:`~sheets_sync_emulators.core.Service`): the routes (:mod:`.routes`), OAuth (:mod:`.auth`),
the per-user read and write quotas, the owner's-edit hooks, and Google's error bodies: the JSON
``{"error": {"code", "message", "status"}}``, the 429 with its ``ErrorInfo``, the HTML 5xx page.
Faults, the request log and the clock are the core's; they live on the :class:`EmulatorState`
(``state.faults``, ``state.request_log``, ``state.clock``) so that a test holding only the state
reaches them.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from ..core import Clock, Request, Response, Service
from . import auth, routes
from .errors import NOT_FOUND, ApiError
from .handlers import Call, Reply
from .state import EmulatorState

HTML_ERROR = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error {status} (Server Error)!!1</title>\n"
    "  <p><b>{status}.</b> <ins>That\u2019s an error.</ins>\n  <p>There was an error. Please try again later. "
    "<ins>That\u2019s all we know.</ins>\n"
)
HTML_500 = HTML_ERROR.format(status=500)
RATE_LIMIT_MESSAGE = (
    "Quota exceeded for quota metric '{metric}' and limit '{metric} per minute per user' of service "
    "'sheets.googleapis.com' for consumer 'project_number:000000000000'."
)
#: Sheets actions counted as reads; every other Sheets action is a write (Drive is not counted)
READ_ACTIONS = {"spreadsheets.get", "values.get", "values.batchGet", "values.batchGetByDataFilter",
                "developerMetadata.get", "developerMetadata.search"}
JSON = "application/json; charset=UTF-8"


def rate_limited(bucket: str = "read") -> ApiError:
    """Google's 429 for a per-user quota, with its ``ErrorInfo`` detail."""
    metric = "Read requests" if bucket == "read" else "Write requests"
    return ApiError(429, RATE_LIMIT_MESSAGE.format(metric=metric), details=[{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "RATE_LIMIT_EXCEEDED",
        "domain": "googleapis.com",
        "metadata": {
            "quota_limit": f"{bucket.capitalize()}RequestsPerMinutePerUser",
            "quota_metric": f"sheets.googleapis.com/{bucket}_requests",
            "consumer": "projects/000000000000",
            "service": "sheets.googleapis.com",
        },
    }, {
        "@type": "type.googleapis.com/google.rpc.Help",
        "links": [{"description": "Request a higher quota limit.",
                   "url": "https://cloud.google.com/docs/quota#requesting_higher_quota"}],
    }])


def _encode(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    return json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")


def _error(err: ApiError) -> Response:
    return Response(err.code, _encode(err.body()), {"Content-Type": JSON, **err.headers})


def bucket_of(action: str) -> str:
    return "read" if action in READ_ACTIONS else "write"


class GoogleSheets(Service):
    """Google Sheets v4, Drive v3 and OAuth2 over one :class:`EmulatorState`."""

    name = "google_sheets"

    def __init__(self, state: EmulatorState | None = None, accept_any_token: bool = False) -> None:
        # no Service.__init__: faults, log, clock and lock are the state's
        self.state = state if state is not None else EmulatorState(accept_any_token=accept_any_token)

    @property
    def faults(self) -> Any:  # type: ignore[override]
        return self.state.faults

    @property
    def log(self) -> Any:  # type: ignore[override]
        return self.state.request_log

    @property
    def lock(self) -> threading.RLock:  # type: ignore[override]
        return self.state.lock

    @property
    def clock(self) -> Clock:  # type: ignore[override]
        return self.state.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.state.clock = clock

    def reset(self) -> None:
        self.state.reset()

    # -- routing
    def action(self, request: Request) -> str:
        return routes.action_for(request.method, request.path)

    def owns(self, request: Request) -> bool:
        return routes.match(request.method, request.path) is not None

    def before_request(self, request: Request) -> None:
        state = self.state
        with state.lock:
            hook, state.before_next_request = state.before_next_request, None
            if hook is not None:
                hook(state)

    def dispatch(self, request: Request, now: float) -> Response:
        state = self.state
        found = routes.match(request.method, request.path)
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            if found is None:
                raise ApiError(404, NOT_FOUND)
            action, fn, params = found
            email = None
            if action != "oauth.token":
                email = auth.caller(state, headers.get("authorization"))
            call = Call(state, request.method, request.path, params, request.query, request.body, headers, email)
            bucket = bucket_of(action)
            if action.startswith(("spreadsheets.", "values.", "developerMetadata.")) \
                    and state.quota_exceeded(email, bucket, now):
                raise rate_limited(bucket)
            with state.lock:
                if action in routes.WRITE_ACTIONS:
                    hook, state.before_next_write = state.before_next_write, None
                    if hook is not None:
                        hook(state)
                reply: Reply = fn(call)
        except ApiError as err:
            return _error(err)
        except Exception as exc:  # noqa: BLE001 - a bug in the emulator: Google's 500, keep serving
            return self.internal_error(exc, request)
        return Response(reply.status, _encode(reply.body), {"Content-Type": reply.content_type, **reply.headers})

    # -- Google's error shapes
    def error_body(self, status: int, request: Request) -> Response:
        if status == 429:
            return _error(rate_limited(bucket_of(self.action(request))))
        if status == 413:
            return _error(ApiError(413, "Request payload too large.", status="INVALID_ARGUMENT"))
        return _error(ApiError(status, "The service is currently unavailable."))

    def html_error(self, status: int, request: Request) -> Response:
        return Response(status, HTML_ERROR.format(status=status).encode(), {"Content-Type": "text/html; charset=UTF-8"})

    def not_found(self, request: Request) -> Response:
        return _error(ApiError(404, NOT_FOUND))

    def internal_error(self, exc: Exception, request: Request) -> Response:
        return _error(ApiError(500, f"Internal error encountered. ({type(exc).__name__}: {exc})"))

    # -- /_emulator/ endpoints of this service
    def control(self, method: str, name: str, data: Any) -> Any:
        state = self.state
        if name == "service-accounts" and method == "POST":
            state.register_service_account(data["email"], data["public_key_pem"])
            return {"ok": True}
        if name == "spreadsheets" and method == "POST":
            ss = state.create_spreadsheet(data.get("title") or "Untitled spreadsheet", owner=data.get("owner"))
            return {"spreadsheetId": ss.id}
        if name == "accept-any-token" and method == "POST":
            state.accept_any_token = bool(data.get("enabled", True))
            return {"ok": True}
        return NotImplemented
