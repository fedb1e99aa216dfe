"""One emulator server per vendor for the session, a fresh state and a manual clock per test.

Every test runs in virtual time: the emulators' limiters (the server's ``clock``) and the adapters'
pacers and retries (``sheets_sync.http.CLOCK`` and ``SLEEP``) share one
:class:`~sheets_sync_emulators.core.ManualClock`, which moves only when the client waits.
So the vendors' real limits (7 per second, 100 per 10 s, a bucket of 50 draining 2 per second)
are enforced as documented, nothing sleeps, and no outcome depends on the machine's speed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sheets_sync import http
from sheets_sync.crm.base import CrmSettings
from sheets_sync_emulators.core import ManualClock
from sheets_sync_emulators.crm import AmoCrmApp, Bitrix24App, EmulatorServer, HubSpotApp

FAST_RETRY = {"backoff": 0.005, "backoff_max": 0.05, "max_attempts": 4, "retry_budget": 5,
              "timeout": 5}


@pytest.fixture(scope="session")
def amocrm_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(AmoCrmApp()) as server:
        yield server


@pytest.fixture(scope="session")
def bitrix24_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(Bitrix24App()) as server:
        yield server


@pytest.fixture(scope="session")
def hubspot_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(HubSpotApp()) as server:
        yield server


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """The virtual time of this test, for the adapters (the emulator fixtures share it)."""
    manual = ManualClock()
    monkeypatch.setattr(http, "CLOCK", manual.now)
    monkeypatch.setattr(http, "SLEEP", manual.sleep)
    return manual


@pytest.fixture
def amo(amocrm_server: EmulatorServer, clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> AmoCrmApp:
    app = amocrm_server.app
    assert isinstance(app, AmoCrmApp)
    app.reset()
    amocrm_server.clock = clock  # the one clock of the server's services
    app.ban_after = 100
    app.limiter.configure(limit=7, window=1.0, enabled=True)  # amoCRM: 7 per second
    app.base_url = amocrm_server.base_url  # type: ignore[attr-defined]
    monkeypatch.setenv("AMOCRM_TOKEN", app.state.token)
    return app


@pytest.fixture
def b24(bitrix24_server: EmulatorServer, clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> Bitrix24App:
    app = bitrix24_server.app
    assert isinstance(app, Bitrix24App)
    app.reset()
    bitrix24_server.clock = clock  # the one clock of the server's services
    app.bucket.configure(capacity=50, rate=2.0, enabled=True)  # Bitrix24: 50 draining 2/s
    app.operation.configure(budget=480.0, window=600.0, enabled=True)
    app.base_url = bitrix24_server.base_url  # type: ignore[attr-defined]
    monkeypatch.setenv("BITRIX24_WEBHOOK", app.state.code)
    return app


@pytest.fixture
def hub(hubspot_server: EmulatorServer, clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> HubSpotApp:
    app = hubspot_server.app
    assert isinstance(app, HubSpotApp)
    app.reset()
    hubspot_server.clock = clock  # the one clock of the server's services
    app.limiter.configure(limit=100, window=10.0, enabled=True)  # HubSpot: 100 per 10 s
    app.base_url = hubspot_server.base_url  # type: ignore[attr-defined]
    monkeypatch.setenv("HUBSPOT_TOKEN", app.state.token)
    return app


def settings(kind: str, fields: dict[str, str], category_field: str, base_dir: Path | None = None,
             **options: Any) -> CrmSettings:
    """CrmSettings as the config loader builds them (``fields``: canonical -> CRM key)."""
    opts = {**FAST_RETRY, "category_field": category_field, **options}
    return CrmSettings(kind=kind, options=opts, base_dir=base_dir or Path("."),
                       id_field=fields.get("id", "id"), category_field=category_field,
                       fields=tuple(dict.fromkeys(fields.values())))
