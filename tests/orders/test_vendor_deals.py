"""[orders] source = "crm" against the amoCRM, Bitrix24 and HubSpot emulators: a sync through the
CLI reads the deals with the vendor's paging and won status, the metrics land in the sheet and
agree with the emulator's seeded deals (their plan, computed here independently), and a second
sync of amoCRM and Bitrix24 asks only for the deals changed since the first."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from sheets_sync.demo import default_rules_text
from sheets_sync_emulators.crm import AmoCrmApp, App, Bitrix24App, EmulatorServer, HubSpotApp

AS_OF = dt.date(2026, 11, 23)  # the day SHEETS_SYNC_NOW gives every test
DEALS, SEED, COMPANIES, COSTS = 600, 5, 8, 1_000_000

try:  # the deals endpoints of the emulators (issue 17, emulator side)
    from sheets_sync_emulators.crm.deals import plan
except ImportError:  # pragma: no cover - until the emulators have them
    plan = None  # type: ignore[assignment]
pytestmark = pytest.mark.skipif(plan is None, reason="the CRM emulators have no deals endpoints yet")


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, EmulatorServer]]:
    apps: dict[str, App] = {"amocrm": AmoCrmApp(token="amo-long-lived-secret-token-0001"),
                            "bitrix24": Bitrix24App(code="b24secretwebhookcode77"),
                            "hubspot": HubSpotApp(token="pat-na1-0123456789-secret-token")}
    started = {kind: EmulatorServer(app).start() for kind, app in apps.items()}
    yield started
    for server in started.values():
        server.stop()


def config(kind: str, url: str) -> str:
    crm = {"amocrm": (url, "AMOCRM_TOKEN", "SS_CATEGORY", "id", "name", "COSTS"),
           "bitrix24": (f"{url}/rest/1/", "BITRIX24_WEBHOOK", "UF_CRM_SS_CATEGORY", "ID", "TITLE",
                        "UF_CRM_COSTS"),
           "hubspot": (url, "HUBSPOT_TOKEN", "client_category", "id", "name", "costs")}[kind]
    return f'''rules = "rules.py"
[crm]
kind = "{kind}"
url = "{crm[0]}"
token_env = "{crm[1]}"
category_field = "{crm[2]}"
[sheet]
workbook = "clients.xlsx"
[fields]
id = "{crm[3]}"
name = "{crm[4]}"
costs = "{crm[5]}"
[orders]
source = "crm"
'''


def expected() -> dict[int, dict[str, Any]]:
    """Per company index: revenue_12m, orders_12m, last_order of the seeded won deals."""
    out: dict[int, dict[str, Any]] = {i: {"revenue_12m": 0, "orders_12m": 0, "last_order": None}
                                      for i in range(COMPANIES)}
    for deal in plan(DEALS, COMPANIES, random.Random(SEED), AS_OF):
        if deal.outcome != "won" or deal.closed is None or deal.closed > AS_OF:
            continue
        mine = out[deal.client]
        if deal.closed > AS_OF - dt.timedelta(days=365):
            mine["revenue_12m"] += deal.amount
            mine["orders_12m"] += 1
        mine["last_order"] = max(filter(None, [mine["last_order"], deal.closed]))
    return out


def sheet(folder: Path) -> dict[str, dict[str, Any]]:
    ws = openpyxl.load_workbook(folder / "clients.xlsx")["Clients"]
    rows = list(ws.iter_rows(values_only=True))
    return {str(r[0]): dict(zip(rows[0], r, strict=False)) for r in rows[1:]}


@pytest.mark.parametrize("kind", ["amocrm", "bitrix24", "hubspot"])
def test_sync_reads_the_crm_deals(kind: str, servers: dict[str, EmulatorServer], tmp_path: Path,
                                  cli: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    server = servers[kind]
    app: Any = server.app
    app.reset()
    state = app.state
    # the deals carry no cost: the companies keep theirs in a field, mapped in [fields]
    if isinstance(app, AmoCrmApp):
        app.limiter.configure(enabled=False)
        state.add_field("Затраты", "numeric", code="COSTS")
        ids = [str(state.add_company(f"Компания {i}", {"COSTS": COSTS}).id) for i in range(COMPANIES)]
        monkeypatch.setenv("AMOCRM_TOKEN", state.token)
    elif isinstance(app, Bitrix24App):
        app.bucket.configure(enabled=False)
        app.operation.configure(enabled=False)
        state.add_userfield("COSTS", "double", "Затраты")
        ids = [str(state.add_company(f"Компания {i}", UF_CRM_COSTS=COSTS).id) for i in range(COMPANIES)]
        monkeypatch.setenv("BITRIX24_WEBHOOK", state.code)
    else:
        assert isinstance(app, HubSpotApp)
        app.limiter.configure(enabled=False)
        state.add_property("costs", "costs", "number")
        ids = [str(state.add_company(name=f"Company {i}", costs=COSTS).id) for i in range(COMPANIES)]
        monkeypatch.setenv("HUBSPOT_TOKEN", state.token)
    state.seed_deals(DEALS, seed=SEED, as_of=AS_OF)
    (tmp_path / "rules.py").write_text(default_rules_text(), encoding="utf-8")
    cfg = tmp_path / "sheets-sync.toml"
    cfg.write_text(config(kind, server.base_url), encoding="utf-8")
    cli("crm", "setup", "--config", str(cfg))  # the category field
    cli("sync", "--config", str(cfg))
    got = sheet(tmp_path)
    want = expected()
    secret = state.code if isinstance(app, Bitrix24App) else state.token
    kept = (tmp_path / "sheets-sync.state.sqlite").read_bytes()
    assert secret.encode() not in kept  # the deals are kept by the account's host, not its address
    for index, cid in enumerate(ids):
        row = got[cid]
        assert (row["revenue_12m"], row["orders_12m"]) == (want[index]["revenue_12m"], want[index]["orders_12m"]), cid
        assert row["revenue"] == want[index]["revenue_12m"]  # no revenue field mapped: the deals'
        last = row["last_order"]
        assert (last.date() if last else None) == want[index]["last_order"], cid
        assert row["xyz"] in ("X", "Y", "Z", None) and (row["rfm"] is None or len(str(row["rfm"])) == 3)
        assert row["category"] != "unqualified" and row["profit"] == row["revenue"] - COSTS

    # a second sync: amoCRM and Bitrix24 are asked only for what changed since the first
    before = len(app.log.entries)
    if isinstance(app, AmoCrmApp):
        state.add_lead("Новая", price=777_000, status_id=142, closed_at=int(time.time()) - 86_400 * 4,
                       company_id=int(ids[0]), updated_at=int(time.time()))
    elif isinstance(app, Bitrix24App):
        state.add_deal("Новая", OPPORTUNITY=777_000, STAGE_ID="WON", COMPANY_ID=int(ids[0]),
                       CLOSEDATE=(AS_OF - dt.timedelta(days=4)).isoformat())
    else:
        state.add_deal(company_id=ids[0], amount="777000", dealstage="closedwon",
                       closedate=(AS_OF - dt.timedelta(days=4)).isoformat())
    cli("sync", "--config", str(cfg))
    assert sheet(tmp_path)[ids[0]]["revenue_12m"] == want[0]["revenue_12m"] + 777_000
    listing = {"amocrm": "/api/v4/leads", "bitrix24": "crm.deal.list",
               "hubspot": "/crm/v3/objects/deals"}[kind]
    pages = [e for e in app.log.entries[before:] if listing in e.path]
    if kind == "hubspot":  # no filter on its list of deals: read whole (100 a page)
        assert len(pages) == DEALS // 100 + 1
    else:  # one page of changes, not the 600 deals again
        assert len(pages) == 1, [e.path for e in pages]
