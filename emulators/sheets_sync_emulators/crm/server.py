"""The CRM emulators are served by the one server, :class:`sheets_sync_emulators.core.EmulatorServer`."""

from ..core.server import EmulatorServer

__all__ = ["EmulatorServer"]
