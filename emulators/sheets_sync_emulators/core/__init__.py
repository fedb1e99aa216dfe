"""What every emulated service shares (moto's shape): one threaded HTTP server that hosts any
service's routes, one fault-injection API, one request log and one injectable clock.

* :mod:`.service`: :class:`Service`, the base of every service (routes, handlers and a state
  with ``reset()`` are the service's own; the pipeline, faults, log and clock are here)
* :mod:`.server`: :class:`EmulatorServer`, the one server, and its ``/_emulator/`` control API
* :mod:`.faults`: :class:`Faults`, the same switches for every service, from Python or HTTP
* :mod:`.clock`: :class:`ManualClock` and the real clock
* :mod:`.limits`: the rate limiters the services enforce
"""

from .clock import Clock, ManualClock, monotonic
from .faults import Fault, Faults
from .messages import HttpError, LogEntry, Request, RequestLog, Response
from .server import EmulatorServer
from .service import Route, Service

__all__ = ["Clock", "EmulatorServer", "Fault", "Faults", "HttpError", "LogEntry", "ManualClock", "Request",
           "RequestLog", "Response", "Route", "Service", "monotonic"]
