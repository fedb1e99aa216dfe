"""The Google emulator on the one server (:class:`sheets_sync_emulators.core.EmulatorServer`).

    server = EmulatorServer().start()
    server.base_url            # "http://127.0.0.1:54321"
    server.state.faults.rate_limit(action="values.batchGet", retry_after=1)
    server.stop()

Control endpoints under ``/_emulator/`` are the core's (``health``, ``reset``, ``faults``,
``log``, ``clock``) plus this service's ``POST service-accounts`` (``{"email",
"public_key_pem"}``), ``POST spreadsheets`` (``{"title"}``) and ``POST accept-any-token``
(``{"enabled": true}``).
"""

from __future__ import annotations

from ..core import Clock
from ..core import EmulatorServer as _Server
from .service import GoogleSheets
from .state import EmulatorState


class EmulatorServer(_Server):
    """A Sheets v4 + Drive v3 + OAuth emulator on 127.0.0.1 (port 0 = any free port)."""

    def __init__(self, state: EmulatorState | None = None, host: str = "127.0.0.1", port: int = 0,
                 accept_any_token: bool = False, clock: Clock | None = None) -> None:
        super().__init__(GoogleSheets(state, accept_any_token), host=host, port=port, clock=clock)

    @property
    def state(self) -> EmulatorState:
        service = self.services[0]
        assert isinstance(service, GoogleSheets)
        return service.state

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"
