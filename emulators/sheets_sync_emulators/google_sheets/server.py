"""The HTTP server: ThreadingHTTPServer on 127.0.0.1, one thread, bounded start-up wait.

    server = EmulatorServer().start()
    server.base_url            # "http://127.0.0.1:54321"
    server.state.faults.rate_limit(action="values.batchGet", retry_after=1)
    server.stop()

Control endpoints (no auth, not logged, not subject to faults) live under ``/_emulator/``:
``GET health``, ``POST reset``, ``GET|POST|DELETE faults``, ``GET|DELETE log``,
``POST service-accounts`` (``{"email", "public_key_pem"}``), ``POST spreadsheets``
(``{"title"}``), ``POST accept-any-token`` (``{"enabled": true}``).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import auth, routes
from .errors import NOT_FOUND, ApiError
from .handlers import Call, Reply
from .state import EmulatorState, LoggedRequest

HTML_500 = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 500 (Server Error)!!1</title>\n"
    "  <p><b>500.</b> <ins>That\u2019s an error.</ins>\n  <p>There was an error. Please try again later. "
    "<ins>That\u2019s all we know.</ins>\n"
)
RATE_LIMIT_MESSAGE = (
    "Quota exceeded for quota metric '{metric}' and limit '{metric} per minute per user' of service "
    "'sheets.googleapis.com' for consumer 'project_number:000000000000'."
)
#: Sheets actions counted as reads; every other Sheets action is a write (Drive is not counted)
READ_ACTIONS = {"spreadsheets.get", "values.get", "values.batchGet", "values.batchGetByDataFilter",
                "developerMetadata.get", "developerMetadata.search"}


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
MAX_BODY = 64 * 1024 * 1024


def _encode(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    return json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sheets-sync-emulator"
    sys_version = ""
    disable_nagle_algorithm = True  # one small response must not wait for a delayed ACK
    wbufsize = 1 << 16  # headers and body leave in one write (flushed after each request)
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from the base class
        return

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    # ------------------------------------------------------------------ plumbing
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ApiError(413, "Request payload too large.", status="INVALID_ARGUMENT")
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self, method: str) -> None:
        state = self.server.state
        split = urlsplit(self.path)
        raw_path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        try:
            body = self._read_body()
        except ApiError as err:
            self._send(err.code, _encode(err.body()), "application/json; charset=UTF-8")
            return
        if raw_path.startswith("/_emulator/"):
            self._control(method, raw_path[len("/_emulator/"):].strip("/"), body)
            return
        found = routes.match(method, raw_path)
        action = found[0] if found else "unknown"
        entry = LoggedRequest(method, raw_path, split.query, action, body)
        with state.lock:
            state.request_log.append(entry)
            hook, state.before_next_request = state.before_next_request, None
        if hook is not None:
            with state.lock:
                hook(state)
        fault = state.faults.pick(method, action, raw_path)
        if fault is not None:
            entry.fault = fault.kind
            if fault.kind == "drop":
                self._drop()
                return
            if fault.kind == "slow":
                time.sleep(fault.delay)
            elif fault.kind == "drop_after":
                reply = self._dispatch(state, method, raw_path, query, body, found)
                entry.status = reply.status
                self._drop()
                return
            else:
                self._fault_reply(entry, fault.kind, fault.retry_after, fault.status)
                return
        reply = self._dispatch(state, method, raw_path, query, body, found)
        payload = _encode(reply.body)
        entry.status, entry.response_body = reply.status, payload
        self._send(reply.status, payload, reply.content_type, reply.headers)

    def _fault_reply(self, entry: LoggedRequest, kind: str, retry_after: float | None, status: int) -> None:
        if kind == "500":
            payload = HTML_500.encode()
            entry.status, entry.response_body = 500, payload
            self._send(500, payload, "text/html; charset=UTF-8")
            return
        code = 429 if kind == "429" else status
        bucket = "read" if entry.action in READ_ACTIONS else "write"
        error = rate_limited(bucket) if code == 429 else ApiError(code, "The service is currently unavailable.")
        payload = _encode(error.body())
        headers = {}
        if code == 429 and retry_after is not None:
            headers["Retry-After"] = str(int(retry_after) if float(retry_after).is_integer() else retry_after)
        entry.status, entry.response_body = code, payload
        self._send(code, payload, "application/json; charset=UTF-8", headers)

    def _dispatch(self, state: EmulatorState, method: str, raw_path: str, query: dict[str, list[str]],
                  body: bytes, found: Any) -> Reply:
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            if found is None:
                raise ApiError(404, NOT_FOUND)
            action, fn, params = found
            email = None
            if action != "oauth.token":
                email = auth.caller(state, headers.get("authorization"))
            call = Call(state, method, raw_path, params, query, body, headers, email)
            bucket = "read" if action in READ_ACTIONS else "write"
            if action.startswith(("spreadsheets.", "values.", "developerMetadata.")) \
                    and state.quota_exceeded(email, bucket):
                raise rate_limited(bucket)
            if action in routes.WRITE_ACTIONS:
                with state.lock:
                    hook, state.before_next_write = state.before_next_write, None
                    if hook is not None:
                        hook(state)
            with state.lock:
                return fn(call)
        except ApiError as err:
            return Reply(status=err.code, body=err.body(), headers=err.headers)
        except Exception as err:  # a bug in the emulator: answer like Google's 500, keep serving
            return Reply(status=500, body=ApiError(500, f"Internal error encountered. ({type(err).__name__}: {err})")
                         .body())

    # ------------------------------------------------------------------ control
    def _control(self, method: str, name: str, body: bytes) -> None:
        state = self.server.state
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            data = {}
        out: Any = {"ok": True}
        if name == "health":
            pass
        elif name == "reset" and method == "POST":
            state.reset()
        elif name == "faults":
            if method == "POST":
                for spec in data if isinstance(data, list) else [data]:
                    spec = dict(spec)
                    state.faults.add(str(spec.pop("kind")), **spec)
            elif method == "DELETE":
                state.faults.clear()
            out = {"faults": [f.to_json() for f in state.faults.items]}
        elif name == "log":
            if method == "DELETE":
                state.clear_log()
            with state.lock:
                out = {"requests": [
                    {"method": e.method, "path": e.path, "query": e.query, "action": e.action, "status": e.status,
                     "fault": e.fault, "bytes_sent": e.bytes_sent, "bytes_received": e.bytes_received,
                     "request_body": base64.b64encode(e.request_body).decode()}
                    for e in state.request_log]}
        elif name == "service-accounts" and method == "POST":
            state.register_service_account(data["email"], data["public_key_pem"])
        elif name == "spreadsheets" and method == "POST":
            ss = state.create_spreadsheet(data.get("title") or "Untitled spreadsheet", owner=data.get("owner"))
            out = {"spreadsheetId": ss.id}
        elif name == "accept-any-token" and method == "POST":
            state.accept_any_token = bool(data.get("enabled", True))
        else:
            self._send(404, _encode({"error": {"code": 404, "message": f"No control endpoint {name}",
                                               "status": "NOT_FOUND"}}), "application/json; charset=UTF-8")
            return
        self._send(200, _encode(out), "application/json; charset=UTF-8")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    state: EmulatorState

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out or went away is normal in fault tests: stay quiet."""
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class EmulatorServer:
    """A Sheets v4 + Drive v3 + OAuth emulator on 127.0.0.1 (port 0 = any free port)."""

    def __init__(self, state: EmulatorState | None = None, host: str = "127.0.0.1", port: int = 0,
                 accept_any_token: bool = False) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the emulator only listens on a loopback address")
        self.state = state or EmulatorState(accept_any_token=accept_any_token)
        self._host, self._port = host, port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the emulator is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    def start(self, timeout: float = 5.0) -> EmulatorServer:
        """Bind, serve in a daemon thread and wait (at most ``timeout`` s) until it answers."""
        if self._httpd is not None:
            return self
        httpd = _Server((self._host, self._port), _Handler)
        httpd.state = self.state
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="google-sheets-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.base_url + "/_emulator/health", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the emulator did not start in time") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
