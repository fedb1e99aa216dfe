"""Loopback HTTP emulators of the CRMs sheets-sync writes to: amoCRM/Kommo, Bitrix24, HubSpot.

Each vendor package is split as moto splits a service: ``state`` (plain objects with
``reset()``), ``handlers`` (one function per API action) and ``routes`` (URL patterns); the
package's app, a :class:`~sheets_sync_emulators.core.Service`, adds the vendor's auth, rate
limiter and error bodies. The emulators' one server
(:class:`~sheets_sync_emulators.core.EmulatorServer`) serves any of them on 127.0.0.1, with the
fault switches, request log and clock every service shares::

    from sheets_sync_emulators.crm import EMULATORS, EmulatorServer
    with EmulatorServer(EMULATORS["hubspot"]()) as server:
        ...

Standalone: ``python -m sheets_sync_emulators.crm amocrm|bitrix24|hubspot [--port N]``.
"""

from __future__ import annotations

from collections.abc import Callable

from .amocrm import AmoCrmApp
from .bitrix24 import Bitrix24App
from .core import App, LogEntry, Request, RequestLog, Response
from .hubspot import HubSpotApp
from .server import EmulatorServer

EMULATORS: dict[str, Callable[[], App]] = {
    "amocrm": AmoCrmApp,
    "kommo": AmoCrmApp,
    "bitrix24": Bitrix24App,
    "hubspot": HubSpotApp,
}

__all__ = ["EMULATORS", "AmoCrmApp", "App", "Bitrix24App", "EmulatorServer", "HubSpotApp",
           "LogEntry", "Request", "RequestLog", "Response"]
