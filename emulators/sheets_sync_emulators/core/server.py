"""The one HTTP server of the emulators: a ``ThreadingHTTPServer`` on 127.0.0.1 that hosts any
number of services (:mod:`.service`), one thread per connection.

    with EmulatorServer(HubSpotApp()) as server:       # port 0: any free port
        server.base_url                                # "http://127.0.0.1:54321"
        server.service.faults.fail(429, times=3)
    EmulatorServer(google, hubspot, clock=ManualClock())   # several services, one clock

A request goes to the first service that :meth:`~.service.Service.owns` it (else to the first
service). Control endpoints live under ``/_emulator/`` (no auth, not logged, not faulted), the
same for every service; with several services, ``?service=NAME`` picks one (default: all for
``reset``/``log``/``clock``, the first for ``faults``):

* ``GET health``; ``POST reset``
* ``GET|POST|DELETE faults``: list, add (the :class:`~.faults.Fault` fields as JSON, or a list
  of them), clear
* ``GET|DELETE log``: the request log (DELETE empties it)
* ``GET|POST clock``: ``{"now", "manual"}``; POST ``{"manual": true, "start": 1000}`` puts one
  :class:`~.clock.ManualClock` on every service, ``{"advance": 5}`` moves it, ``{"manual":
  false}`` goes back to real time
* anything else a service answers in :meth:`~.service.Service.control` (Google:
  ``service-accounts``, ``spreadsheets``, ``accept-any-token``).
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .clock import Clock, ManualClock, manual_clock_of, monotonic
from .messages import Request, Response
from .service import Service

MAX_BODY = 64 * 1024 * 1024
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sheets-sync-emulator"
    sys_version = ""
    disable_nagle_algorithm = True  # one small response must not wait for a delayed ACK
    wbufsize = 1 << 16  # headers and body leave in one write (flushed after each request)
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        return

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._serve("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._serve("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        hosted: EmulatorServer = self.server.hosted
        request = Request(method, self.path, dict(self.headers.items()))
        if request.path.startswith("/_emulator/"):
            self._control(hosted, request)
            return
        service = hosted.service_for(request)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            self._send(service.error_body(413, request))
            return
        request.body = self.rfile.read(length) if length else b""
        try:
            response = service.handle(request)
        except Exception as exc:  # noqa: BLE001 - an emulator bug must still answer
            response = service.internal_error(exc, request)
        if response.delay:
            time.sleep(response.delay)  # real time: the client's socket timeout is real time
        if response.drop:
            self._drop()
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

    def _control(self, hosted: EmulatorServer, request: Request) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if 0 < length <= MAX_BODY else b""
        try:
            data = json.loads(body) if body else {}
            out = hosted.control(request.method, request.path[len("/_emulator/"):].strip("/"),
                                 request.query, data)
        except (ValueError, TypeError, KeyError) as exc:
            self._send(Response.json(400, {"error": {"code": 400, "message": str(exc),
                                                     "status": "INVALID_ARGUMENT"}}))
            return
        if out is NotImplemented:
            self._send(Response.json(404, {"error": {"code": 404, "status": "NOT_FOUND",
                                                     "message": f"No control endpoint {request.path}"}}))
            return
        self._send(Response.json(200, out))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    hosted: EmulatorServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out or went away is normal in fault tests: stay quiet."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class EmulatorServer:
    """Serves ``services`` on ``host`` (loopback only), ``port`` (0: any free port)."""

    def __init__(self, *services: Service, host: str = "127.0.0.1", port: int = 0,
                 clock: Clock | None = None) -> None:
        if not services:
            raise ValueError("an emulator server needs at least one service")
        if host not in LOOPBACK:
            raise ValueError("the emulators only listen on a loopback address")
        self.services = list(services)
        self.host, self.port = host, port
        if clock is not None:
            self.clock = clock
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def service(self) -> Service:
        """The first (usually the only) service."""
        return self.services[0]

    @property
    def app(self) -> Service:
        """The first service (the name the CRM emulators' callers use)."""
        return self.services[0]

    @property
    def clock(self) -> Clock:
        return self.services[0].clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        """One clock for every hosted service."""
        for service in self.services:
            service.clock = clock

    def service_for(self, request: Request) -> Service:
        for service in self.services:
            if service.owns(request):
                return service
        return self.services[0]

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the emulator is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self, timeout: float = 5.0) -> EmulatorServer:
        """Bind, serve in a daemon thread and wait (at most ``timeout`` s) until it answers."""
        if self._httpd is not None:
            return self
        httpd = _Server((self.host, self.port), _Handler)
        httpd.hosted = self
        self._httpd = httpd
        names = "+".join(s.name for s in self.services)
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{names}-emulator", daemon=True)
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
                    raise RuntimeError(f"the {names} emulator did not start within {timeout} s") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_until_interrupted(self) -> None:
        """Block until Ctrl+C, then stop (the command lines' main loop)."""
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- /_emulator/ ---------------------------------------------------------------------------
    def control(self, method: str, name: str, query: dict[str, list[str]], data: Any) -> Any:
        """Answer a control endpoint (see the module doc); NotImplemented when there is none."""
        wanted = (query.get("service") or [None])[0]
        chosen = [s for s in self.services if wanted in (None, s.name)]
        if not chosen:
            raise KeyError(f"no service {wanted!r} here ({', '.join(s.name for s in self.services)})")
        if name == "health":
            return {"ok": True, "services": [s.name for s in self.services]}
        if name == "reset" and method == "POST":
            for service in chosen:
                service.reset()
            return {"ok": True}
        if name == "faults":
            service = chosen[0]
            if method == "POST":
                for spec in data if isinstance(data, list) else [data]:
                    spec = dict(spec)
                    service.faults.add(str(spec.pop("kind")), **spec)
            elif method == "DELETE":
                service.faults.clear()
            return {"faults": service.faults.to_json()}
        if name == "log":
            if method == "DELETE":
                for service in chosen:
                    service.log.clear()
            return {"requests": [e.to_json() for s in chosen for e in s.log]}
        if name == "clock":
            return self._control_clock(method, chosen, data)
        for service in chosen:
            out = service.control(method, name, data)
            if out is not NotImplemented:
                return out
        return NotImplemented

    def _control_clock(self, method: str, services: list[Service], data: Any) -> Any:
        if method == "POST":
            if "manual" in data:
                clock: Clock = ManualClock(float(data.get("start", 1000.0))) if data["manual"] else monotonic
                for service in services:
                    service.clock = clock
            if "advance" in data:
                manual = manual_clock_of(services[0].clock)
                if manual is None:
                    raise ValueError("the clock is real time; POST {\"manual\": true} first")
                manual.advance(float(data["advance"]))
        clock = services[0].clock
        return {"now": clock(), "manual": manual_clock_of(clock) is not None}
