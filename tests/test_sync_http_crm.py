"""The sync pass with an HTTP CRM (HubSpot's emulator): setup, sync, a rejected record kept in
the ledger and shown in the sheet until it goes through, and the token never printed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest

from sheets_sync import http
from sheets_sync_emulators.crm import EmulatorServer, HubSpotApp
from sheets_sync_emulators.crm.limits import ManualClock

TOKEN = "pat-na1-0123456789-secret-token"


@pytest.fixture
def hubspot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[HubSpotApp, Path]]:
    clock = ManualClock()  # virtual time for the emulator's limiter and the CLI's pacing
    monkeypatch.setattr(http, "CLOCK", clock.now)
    monkeypatch.setattr(http, "SLEEP", clock.sleep)
    app = HubSpotApp(token=TOKEN)  # HubSpot's 100 requests per 10 s
    app.clock = clock.now
    for name in ("costs", "orders_12m", "overdue_days"):
        app.state.add_property(name, name, "number")
    with EmulatorServer(app) as server:
        rows = [("Acme", 300000, 100000, 6, 0), ("Globex", 100000, 95000, 1, 0), ("Initech", 50000, 80000, 2, 10),
                ("Umbrella", 90000, 40000, 5, 0), ("Hooli", "", 10, 1, 0)]
        for name, revenue, costs, orders, overdue in rows:
            app.state.add_company(name=name, annualrevenue=revenue, costs=costs, orders_12m=orders,
                                  overdue_days=overdue)
        monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
        (tmp_path / "rules.py").write_text((Path(__file__).parent.parent / "rules.py").read_text())
        config = tmp_path / "sheets-sync.toml"
        config.write_text(f'''
[crm]
kind = "hubspot"
url = "{server.base_url}"
token_env = "HUBSPOT_TOKEN"
category_field = "client_category"
category_label = "Client category"
backoff = 0.01
[sheet]
workbook = "clients.xlsx"
[log]
file = "logs/sync.log"
max_bytes = 700
backups = 2
[fields]
id = "id"
name = "name"
revenue = "annualrevenue"
costs = "costs"
orders_12m = "orders_12m"
overdue_days = "overdue_days"
''')
        yield app, config


def test_setup_sync_rejection_ledger_and_retry(cli: Callable[..., str], hubspot: tuple[HubSpotApp, Path]) -> None:
    app, config = hubspot
    out = cli("crm", "setup", "--config", str(config))
    assert "client_category" in out
    acme = next(c for c in app.state.companies.values() if c.properties["name"] == "Acme")
    app.faults.reject(acme.id, "Record is locked")
    summary = json.loads(cli("sync", "--config", str(config), "--json", code=1))
    assert summary["crm"]["rejected"] == [{"id": acme.id, "category": "A", "message": summary["crm"]["rejected"][0]
                                           ["message"]}]
    assert "Record is locked" in summary["crm"]["rejected"][0]["message"]
    assert summary["crm"]["written"] == 3  # Hooli is unqualified: no revenue
    assert app.state.value_of(acme.id, "client_category") is None
    ws = openpyxl.load_workbook(config.parent / "clients.xlsx")["Clients"]
    header = [c.value for c in ws[1]]
    row = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == acme.id)
    assert "CRM rejected category A" in row[header.index("problems")]

    app.faults.reset()
    summary = json.loads(cli("sync", "--config", str(config), "--json", code=1))
    assert summary["crm"] == {"written": 1, "rejected": []}
    assert app.state.value_of(acme.id, "client_category") == "A"
    ws = openpyxl.load_workbook(config.parent / "clients.xlsx")["Clients"]
    row = next(r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == acme.id)
    assert not row[header.index("problems")]
    assert cli("sync", "--config", str(config), code=1).startswith("No changes")

    # the log: rotated, with the rejection and the summaries
    logs = sorted((config.parent / "logs").glob("sync.log*"))
    assert [p.name for p in logs] == ["sync.log", "sync.log.1", "sync.log.2"]  # 2 backups kept, no more
    text = "".join(p.read_text() for p in logs)
    assert "sync done, exit 1: No changes" in text
    # the token appears nowhere: outputs, the log, the state file, the workbook
    everything = out + json.dumps(summary) + text + (config.parent / "sheets-sync.state.sqlite").read_bytes().decode(
        "utf-8", "replace")
    assert TOKEN not in everything
    for cell in ws.iter_rows(values_only=True):
        assert TOKEN not in " ".join(str(v) for v in cell)


def test_wrong_token_is_one_line_without_the_token(cli: Callable[..., str], hubspot: tuple[HubSpotApp, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _, config = hubspot
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-na1-wrong-token-value")
    out = cli("sync", "--config", str(config), code=2)
    assert "HUBSPOT_TOKEN" in out and "wrong-token-value" not in out and out.count("\n") == 1
    text = (config.parent / "logs" / "sync.log").read_text()
    assert "sync failed, exit 2" in text and "wrong-token-value" not in text
