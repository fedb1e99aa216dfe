"""A stateful Google Sheets API v4 + Drive v3 + OAuth2 emulator on 127.0.0.1, a service of the
one emulator server (:mod:`sheets_sync_emulators.core`).

See README.md in this directory. Typical use in tests::

    from sheets_sync_emulators.google_sheets import EmulatorServer, emulator_session
    with EmulatorServer() as server:
        ...
"""

from ..core import Fault, LogEntry, ManualClock
from .client import check_loopback, emulator_http_client, emulator_session, mount_redirect
from .errors import ApiError
from .server import EmulatorServer
from .service import GoogleSheets
from .state import EmulatorState

__all__ = [
    "ApiError",
    "EmulatorServer",
    "EmulatorState",
    "Fault",
    "GoogleSheets",
    "LogEntry",
    "ManualClock",
    "check_loopback",
    "emulator_http_client",
    "emulator_session",
    "mount_redirect",
]
