"""The CRM emulators' deals endpoints against each vendor's documented contract (issue 17):
amoCRM leads, Bitrix24 ``crm.deal.*``, HubSpot deals, search and pipelines; deterministic
seeding from Python and the command line; the amoCRM filters and IP ban; and an endpoint
that is not emulated saying so. Plain HTTP with ``requests``, virtual time throughout."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from typing import Any

import pytest
import requests

from sheets_sync_emulators.core import ManualClock
from sheets_sync_emulators.crm import AmoCrmApp, Bitrix24App, HubSpotApp
from sheets_sync_emulators.crm.__main__ import seed, seed_deals

AS_OF = dt.date(2026, 6, 30)


def amo_get(app: AmoCrmApp, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{app.base_url}{path}", params=params,  # type: ignore[attr-defined]
                        headers={"Authorization": f"Bearer {app.state.token}"}, timeout=10)


def b24_call(app: Bitrix24App, method: str, params: dict[str, Any] | None = None
             ) -> requests.Response:
    url = f"{app.base_url}/rest/1/{app.state.code}/{method}"  # type: ignore[attr-defined]
    return requests.post(url, json=params or {}, timeout=10)


def hub_call(app: HubSpotApp, method: str, path: str, body: Any = None,
             **params: Any) -> requests.Response:
    return requests.request(method, f"{app.base_url}{path}",  # type: ignore[attr-defined]
                            params=params, json=body, timeout=10,
                            headers={"Authorization": f"Bearer {app.state.token}"})


# -- amoCRM ------------------------------------------------------------------------------------


def test_amocrm_leads_page_with_price_status_closed_at_and_company(amo: AmoCrmApp) -> None:
    amo.limiter.configure(enabled=False)
    companies = [amo.state.add_company(f"Компания {i}").id for i in range(20)]
    amo.state.seed_deals(620, seed=3, as_of=AS_OF)
    first = amo_get(amo, "/api/v4/leads", limit=250, **{"with": "companies"})
    assert first.status_code == 200
    body = first.json()
    leads = body["_embedded"]["leads"]
    assert len(leads) == 250 and body["_page"] == 1 and "next" in body["_links"]
    won = [lead for lead in leads if lead["status_id"] == 142]
    lost = [lead for lead in leads if lead["status_id"] == 143]
    assert won and lost and len(won) > len(lost)
    for lead in won + lost:
        assert isinstance(lead["price"], int) and isinstance(lead["closed_at"], int)
        assert lead["closed_at"] <= lead["updated_at"]
        assert lead["pipeline_id"] == amo.state.main_pipeline().id
        (company,) = lead["_embedded"]["companies"]
        assert company["id"] in companies
    assert all(lead["closed_at"] is None for lead in leads if lead["status_id"] not in (142, 143))
    pages, page = [leads], 2
    while True:
        answer = amo_get(amo, "/api/v4/leads", limit=250, page=page)
        if answer.status_code == 204:
            break
        pages.append(answer.json()["_embedded"]["leads"])
        page += 1
    assert [len(p) for p in pages] == [250, 250, 120]
    assert amo_get(amo, "/api/v4/leads", limit=251).status_code == 400


def test_amocrm_pipelines_name_won_and_lost(amo: AmoCrmApp) -> None:
    body = amo_get(amo, "/api/v4/leads/pipelines").json()
    (pipeline,) = body["_embedded"]["pipelines"]
    statuses = {s["id"]: s["name"] for s in pipeline["_embedded"]["statuses"]}
    assert statuses[142] == "Успешно реализовано" and statuses[143] == "Закрыто и не реализовано"
    assert pipeline["is_main"] is True


def test_amocrm_filters_by_ids_query_and_update_time(amo: AmoCrmApp) -> None:
    """Asked for 2 ids, the emulator answered all 250 before issue 17."""
    ids = [amo.state.add_company(f"Компания {i}", None).id for i in range(260)]
    two = amo_get(amo, "/api/v4/companies", **{"filter[id][]": [ids[3], ids[200]]})
    assert [c["id"] for c in two.json()["_embedded"]["companies"]] == [ids[3], ids[200]]
    one = amo_get(amo, "/api/v4/companies", **{"filter[id]": ids[7]})
    assert [c["id"] for c in one.json()["_embedded"]["companies"]] == [ids[7]]
    found = amo_get(amo, "/api/v4/companies", query="компания 25")
    names = sorted(c["name"] for c in found.json()["_embedded"]["companies"])
    assert names == ["Компания 25"] + [f"Компания {i}" for i in range(250, 260)]
    assert amo_get(amo, "/api/v4/companies", query="нет такой").status_code == 204
    old = amo.state.add_lead("Старая", price=10, status_id=142, company_id=ids[0],
                             created_at=1_700_000_000, updated_at=1_700_000_000)
    new = amo.state.add_lead("Новая", price=20, status_id=142, company_id=ids[0],
                             created_at=1_800_000_000, updated_at=1_800_000_000)
    changed = amo_get(amo, "/api/v4/leads", **{"filter[updated_at][from]": 1_750_000_000})
    assert [lead["id"] for lead in changed.json()["_embedded"]["leads"]] == [new.id]
    until = amo_get(amo, "/api/v4/leads", **{"filter[updated_at][to]": 1_750_000_000})
    assert [lead["id"] for lead in until.json()["_embedded"]["leads"]] == [old.id]


def test_amocrm_custom_fields_page_up_to_250(amo: AmoCrmApp) -> None:
    for i in range(300):
        amo.state.add_field(f"Поле {i}", "text")
    page = amo_get(amo, "/api/v4/companies/custom_fields", limit=250).json()
    assert len(page["_embedded"]["custom_fields"]) == 250 and page["_page_count"] == 2
    assert amo_get(amo, "/api/v4/companies/custom_fields", limit=251).status_code == 400


def test_amocrm_ip_ban_lifts_after_its_time_on_the_emulator_clock(amo: AmoCrmApp,
                                                                clock: ManualClock) -> None:
    amo.ban_after = 3
    amo.ban_seconds = 900
    statuses = [amo_get(amo, "/api/v4/account").status_code for _ in range(10)]
    assert statuses[:7] == [200] * 7 and statuses[7:] == [429, 429, 429]
    blocked = amo_get(amo, "/api/v4/account")
    assert blocked.status_code == 403 and "403 Forbidden" in blocked.text
    assert "text/html" in blocked.headers["Content-Type"]
    clock.advance(899)
    assert amo_get(amo, "/api/v4/account").status_code == 403
    clock.advance(1)
    assert amo_get(amo, "/api/v4/account").status_code == 200


def test_amocrm_endpoint_not_emulated_says_so(amo: AmoCrmApp) -> None:
    answer = amo_get(amo, "/api/v4/tasks")
    assert answer.status_code == 501
    assert answer.json()["detail"] == "not emulated: GET /api/v4/tasks"


# -- Bitrix24 ----------------------------------------------------------------------------------


def test_bitrix24_deal_list_pages_of_50_with_next_and_total(b24: Bitrix24App) -> None:
    b24.bucket.configure(enabled=False)
    companies = [b24.state.add_company(f"Компания {i}").id for i in range(10)]
    b24.state.seed_deals(120, seed=2, as_of=AS_OF)
    select = ["ID", "COMPANY_ID", "OPPORTUNITY", "CLOSEDATE", "STAGE_ID", "STAGE_SEMANTIC_ID"]
    rows, start, pages = [], 0, []
    while start is not None:
        body = b24_call(b24, "crm.deal.list", {"select": select, "start": start}).json()
        assert body["total"] == 120
        rows += body["result"]
        pages.append(len(body["result"]))
        start = body.get("next")
    assert pages == [50, 50, 20] and len({r["ID"] for r in rows}) == 120
    for row in rows:
        assert set(row) == set(select)
        assert int(row["COMPANY_ID"]) in companies
        assert float(row["OPPORTUNITY"]) > 0 and row["OPPORTUNITY"].endswith(".00")
        dt.datetime.fromisoformat(row["CLOSEDATE"])
        assert row["STAGE_SEMANTIC_ID"] == {"WON": "S", "LOSE": "F"}.get(row["STAGE_ID"], "P")
    assert {r["STAGE_SEMANTIC_ID"] for r in rows} == {"S", "F", "P"}


def test_bitrix24_deal_filters_by_modify_date_and_semantic(b24: Bitrix24App) -> None:
    company = b24.state.add_company("Acme")
    old = b24.state.add_deal("Старая", COMPANY_ID=company.id, OPPORTUNITY=100, STAGE_ID="WON",
                             CLOSEDATE="2026-01-10", DATE_MODIFY="2026-01-10T12:00:00+03:00")
    new = b24.state.add_deal("Новая", COMPANY_ID=company.id, OPPORTUNITY=200, STAGE_ID="WON",
                             CLOSEDATE="2026-03-10", DATE_MODIFY="2026-03-10T12:00:00+03:00")
    b24.state.add_deal("Открытая", COMPANY_ID=company.id, DATE_MODIFY="2026-03-11T12:00:00+03:00")
    changed = b24_call(b24, "crm.deal.list", {
        "filter": {">DATE_MODIFY": "2026-02-01T00:00:00+03:00", "STAGE_SEMANTIC_ID": "S"},
        "select": ["ID", "OPPORTUNITY"]}).json()
    assert changed["result"] == [{"ID": str(new.id), "OPPORTUNITY": "200.00"}]
    got = b24_call(b24, "crm.deal.get", {"id": old.id}).json()["result"]
    assert got["CLOSEDATE"].startswith("2026-01-10") and got["CLOSED"] == "Y"
    assert got["COMPANY_ID"] == str(company.id) and got["STAGE_SEMANTIC_ID"] == "S"
    missing = b24_call(b24, "crm.deal.get", {"id": 999999})
    assert missing.status_code == 400 and missing.json()["error_description"] == "Not found"


def test_bitrix24_method_names_in_any_case_and_batch_references(b24: Bitrix24App) -> None:
    company = b24.state.add_company("Acme", REVENUE=125000)
    listed = b24_call(b24, "crm.company.List.json", {"select": ["ID", "TITLE"]})
    assert listed.status_code == 200 and listed.json()["result"][0]["TITLE"] == "Acme"
    b24.state.add_deal("Заказ", COMPANY_ID=company.id, OPPORTUNITY=10, STAGE_ID="WON")
    body = b24_call(b24, "batch", {"halt": 0, "cmd": {
        "company": f"crm.company.get?id={company.id}",
        "deals": "crm.deal.list?filter[COMPANY_ID]=$result[company][ID]&select[]=TITLE",
        "title": "crm.company.list?filter[TITLE]=$result[company][TITLE]&select[]=ID"}}).json()
    result = body["result"]["result"]
    assert result["deals"] == [{"ID": result["deals"][0]["ID"], "TITLE": "Заказ"}]
    assert result["title"] == [{"ID": str(company.id)}]


def test_bitrix24_method_not_emulated_says_so(b24: Bitrix24App) -> None:
    answer = b24_call(b24, "crm.activity.list")
    assert answer.status_code == 501
    assert answer.json()["error_description"] == \
        f"not emulated: POST /rest/1/{b24.state.code}/crm.activity.list"
    inside = b24_call(b24, "batch", {"cmd": {"a": "tasks.task.list"}}).json()["result"]
    assert inside["result_error"] == {"a": {"error": "NOT_EMULATED",
                                            "error_description": "not emulated: tasks.task.list"}}


# -- HubSpot -----------------------------------------------------------------------------------


def test_hubspot_deals_page_with_company_associations(hub: HubSpotApp) -> None:
    companies = [hub.state.add_company(name=f"Acme {i}").id for i in range(5)]
    hub.state.seed_deals(130, seed=4, as_of=AS_OF)
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        params = {"limit": 100, "associations": "companies",
                  "properties": "amount,closedate,dealstage,pipeline"}
        if after:
            params["after"] = after
        body = hub_call(hub, "GET", "/crm/v3/objects/deals", **params).json()
        seen += body["results"]
        after = body.get("paging", {}).get("next", {}).get("after")
        if after is None:
            break
    assert len(seen) == 130 and len({d["id"] for d in seen}) == 130
    for deal in seen:
        props = deal["properties"]
        assert {"amount", "closedate", "dealstage", "hs_lastmodifieddate"} <= set(props)
        float(props["amount"])
        dt.datetime.fromisoformat(props["closedate"].replace("Z", "+00:00"))
        (link,) = deal["associations"]["companies"]["results"]
        assert link["id"] in companies and link["type"] == "deal_to_company"
    assert {d["properties"]["dealstage"] for d in seen} == {"closedwon", "closedlost",
                                                            "contractsent"}


def test_hubspot_search_deals_changed_since_and_won_stages(hub: HubSpotApp) -> None:
    acme = hub.state.add_company(name="Acme")
    for day in range(1, 31):
        hub.state.add_deal(company_id=acme.id, dealname=f"D{day}", amount=str(day * 100),
                           dealstage="closedwon" if day % 3 else "closedlost",
                           closedate=f"2026-04-{day:02d}",
                           hs_lastmodifieddate=f"2026-04-{day:02d}T10:00:00.000Z")
    since = str(int(dt.datetime(2026, 4, 11, tzinfo=dt.UTC).timestamp() * 1000))
    request = {"filterGroups": [{"filters": [
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": since}]}],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["amount", "dealstage"], "limit": 15}
    first = hub_call(hub, "POST", "/crm/v3/objects/deals/search", request).json()
    assert first["total"] == 20 and len(first["results"]) == 15
    request["after"] = first["paging"]["next"]["after"]
    second = hub_call(hub, "POST", "/crm/v3/objects/deals/search", request).json()
    assert len(second["results"]) == 5 and "paging" not in second
    names = [d["properties"]["amount"] for d in first["results"] + second["results"]]
    assert names == [str(day * 100) for day in range(11, 31)]
    pipelines = hub_call(hub, "GET", "/crm/v3/pipelines/deals").json()["results"]
    won = {s["id"] for p in pipelines for s in p["stages"]
           if s["metadata"]["isClosed"] == "true" and float(s["metadata"]["probability"]) == 1}
    assert won == {"closedwon"}


def test_hubspot_path_not_emulated_says_so(hub: HubSpotApp) -> None:
    answer = hub_call(hub, "GET", "/crm/v3/objects/tickets")
    assert answer.status_code == 501
    assert answer.json()["message"] == "not emulated: GET /crm/v3/objects/tickets"


# -- seeding -----------------------------------------------------------------------------------


def _snapshot(app: AmoCrmApp | Bitrix24App | HubSpotApp) -> list[Any]:
    if isinstance(app, AmoCrmApp):
        return [(e.id, e.extra, e.company_id, e.created_at, e.updated_at)
                for e in app.state.leads.values()]
    if isinstance(app, Bitrix24App):
        return [(i.id, i.fields) for i in app.state.deals.values()]
    return [(r.id, r.properties, r.associations) for r in app.state.deals.values()]


@pytest.mark.parametrize("factory", [AmoCrmApp, Bitrix24App, HubSpotApp])
def test_seeded_deals_are_the_same_on_every_run(factory: type) -> None:
    import random

    runs = []
    for _ in range(2):
        app = factory()
        seed(app, 12, random.Random(5))
        assert seed_deals(app, 300, seed=5, as_of=AS_OF) == 300
        runs.append(_snapshot(app))
    assert runs[0] == runs[1]
    other = factory()
    seed(other, 12, random.Random(5))
    seed_deals(other, 300, seed=6, as_of=AS_OF)
    assert _snapshot(other) != runs[0]


def test_command_line_seeds_deals() -> None:
    with subprocess.Popen(
            [sys.executable, "-m", "sheets_sync_emulators.crm", "hubspot", "--companies", "4",
             "--deals", "25", "--as-of", "2026-05-31", "--no-rate-limit"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
        _read_then_stop(process)
    bad = subprocess.run([sys.executable, "-m", "sheets_sync_emulators.crm", "amocrm",
                          "--as-of", "31.05.2026"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "is not a date like 2026-11-01" in bad.stderr


def _read_then_stop(process: subprocess.Popen[str]) -> None:
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        base_url = lines[0].rsplit(" ", 1)[-1].strip()
        assert "25 demo deals over 4 companies, up to 2026-05-31" in lines[3]
        body = requests.get(f"{base_url}/crm/v3/objects/deals", params={"limit": 100},
                            headers={"Authorization": "Bearer pat-na1-emulator-token"},
                            timeout=10).json()
        assert len(body["results"]) == 25
        assert max(d["properties"]["closedate"] for d in body["results"]
                   if d["properties"]["dealstage"] != "contractsent") <= "2026-05-31T23"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_amocrm_if_modified_since_keeps_later_changes(amo: AmoCrmApp) -> None:
    company = amo.state.add_company("Acme")
    amo.state.add_lead("Старая", price=1, company_id=company.id, updated_at=1_700_000_000)
    new = amo.state.add_lead("Новая", price=2, company_id=company.id, updated_at=1_800_000_000)
    since = "Sat, 01 Jun 2024 00:00:00 GMT"  # 1_717_200_000
    answer = requests.get(f"{amo.base_url}/api/v4/leads", timeout=10,  # type: ignore[attr-defined]
                          headers={"Authorization": f"Bearer {amo.state.token}",
                                   "If-Modified-Since": since})
    assert [lead["id"] for lead in answer.json()["_embedded"]["leads"]] == [new.id]


def test_bitrix24_id_ranges_in_filters(b24: Bitrix24App) -> None:
    ids = [b24.state.add_deal(f"D{i}").id for i in range(120)]

    def listed(filt: dict[str, Any], start: int = -1) -> list[int]:
        body = b24_call(b24, "crm.deal.list", {"filter": filt, "select": ["ID"],
                                               "start": start}).json()
        return [int(r["ID"]) for r in body["result"]]
    assert listed({">ID": ids[10]}) == ids[11:61]
    assert listed({">=ID": ids[10], "<ID": ids[13]}) == ids[10:13]
    assert listed({"<=ID": ids[2]}) == ids[:3]
    assert listed({">ID": ids[-1]}) == []
    assert listed({">ID": ids[100], "TITLE": "D110"}, start=0) == [ids[110]]


def test_hubspot_archived_records_are_gone(hub: HubSpotApp) -> None:
    deal = hub.state.add_deal(dealname="Gone", amount="5")
    hub.state.add_deal(dealname="Kept", amount="6")
    assert hub_call(hub, "DELETE", f"/crm/v3/objects/deals/{deal.id}").status_code == 204
    live = hub_call(hub, "GET", "/crm/v3/objects/deals").json()["results"]
    assert [d["properties"]["dealname"] for d in live] == ["Kept"]
    archived = hub_call(hub, "GET", "/crm/v3/objects/deals", archived="true").json()
    assert archived["results"] == []
