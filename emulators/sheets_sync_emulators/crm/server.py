"""Serve a CRM emulator app over HTTP on 127.0.0.1 (standard library ``http.server``).

    with EmulatorServer(HubSpotApp()) as server:
        server.base_url        # "http://127.0.0.1:54321"
        server.app.faults.fail(429, times=3)

Port 0 by default (the OS picks a free one); :meth:`start` waits a bounded time for the socket
to answer and raises ``RuntimeError`` otherwise. Each request is served on its own thread.
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .core import App, Request, Response

MAX_BODY = 32 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sheets-sync-crm-emulator"
    sys_version = ""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        return

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve("PATCH")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(Response(413, b"payload too large"))
            return
        body = self.rfile.read(length) if length else b""
        request = Request(method, self.path, dict(self.headers.items()), body)
        try:
            response = self.server.app.handle(request)
        except Exception as exc:  # noqa: BLE001 - an emulator bug must still answer
            response = Response(500, f"emulator error: {exc!r}".encode(),
                                {"Content-Type": "text/plain"})
        if response.delay:
            time.sleep(response.delay)
        if response.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and response.status not in (204, 304):
            self.wfile.write(response.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: App) -> None:
        super().__init__(address, _Handler)
        self.app = app


class EmulatorServer:
    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host, self.port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self, timeout: float = 5.0) -> EmulatorServer:
        self._server = _Server((self.host, self.port), self.app)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name=f"{self.app.name}-emulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        port = self._server.server_address[1]
        while True:
            try:
                with socket.create_connection((self.host, port), timeout=0.5):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{self.app.name} emulator did not start within "
                                       f"{timeout} s") from None
                time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start() if self._server is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
