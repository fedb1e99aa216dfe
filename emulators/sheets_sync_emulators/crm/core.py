"""The CRM emulators' names for the shared core (:mod:`sheets_sync_emulators.core`).

A CRM emulator is an :class:`App`, a :class:`~sheets_sync_emulators.core.Service`: the vendor
package's ``App`` subclass adds the vendor's auth, rate limiter and error bodies; its
``routes``, ``handlers`` and ``state`` (with ``reset()``) are its own. Faults, the request log
and the clock are the core's, the same as the Google emulator's.
"""

from __future__ import annotations

from ..core import HttpError, LogEntry, Request, RequestLog, Response, Route, Service
from ..core.faults import Faults

App = Service

__all__ = ["App", "Faults", "HttpError", "LogEntry", "Request", "RequestLog", "Response", "Route"]
