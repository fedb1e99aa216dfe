"""HubSpot adapter end to end against the HubSpot emulator (cursor paging, 207, 100 per 10 s)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sheets_sync.crm import open_crm
from sheets_sync.crm.hubspot import HubSpotCrm
from sheets_sync.errors import ConfigError, RemoteError
from sheets_sync_emulators.crm import HubSpotApp
from sheets_sync_emulators.crm.limits import ManualClock

from .conftest import settings

FIELDS = {"id": "id", "name": "name", "revenue": "annualrevenue", "orders_12m": "orders_12m",
          "potential": "potential", "referrals": "has_referrals"}
CATEGORY = "client_category"
CODES = ["A", "B", "C", "D", "E"]


def seed(app: HubSpotApp, count: int) -> list[str]:
    state = app.state
    state.add_property("orders_12m", "Orders (12 months)", "number", "number")
    state.add_property("potential", "Potential", "enumeration",
                       options=["high", "low"]).options[0]["label"] = "High potential"
    state.add_property("has_referrals", "Has referrals", "bool", "booleancheckbox")
    ids = []
    for i in range(count):
        company = state.add_company(name=f"Acme {i}", annualrevenue=f"{i * 1000}.25",
                                    orders_12m=str(i % 7) if i % 5 else "",
                                    potential="high" if i % 2 else "low",
                                    has_referrals="true" if i % 3 == 0 else "false")
        ids.append(company.id)
    return ids


def adapter(app: HubSpotApp, **options: object) -> HubSpotCrm:
    opts = {"url": app.base_url, **options}  # type: ignore[attr-defined]
    crm = open_crm(settings("hubspot", FIELDS, CATEGORY, **opts))
    assert isinstance(crm, HubSpotCrm)
    return crm


def batches(app: HubSpotApp) -> list[tuple[int, int | None]]:
    return [(e.status, e.items) for e in app.log.entries if e.path.endswith("/batch/update")]


def test_fetch_follows_the_cursor_and_normalises(hub: HubSpotApp) -> None:
    ids = seed(hub, 250)
    frame = adapter(hub).fetch()
    assert list(frame.columns) == ["id", "name", "annualrevenue", "orders_12m", "potential",
                                   "has_referrals", CATEGORY]
    assert frame["id"].tolist() == ids
    rows = frame.set_index("id")
    assert rows.loc[ids[1], "annualrevenue"] == 1000.25  # "1000.25" -> number
    assert rows.loc[ids[1], "orders_12m"] == 1
    assert pd.isna(rows.loc[ids[5], "orders_12m"])  # "" -> None
    assert rows.loc[ids[1], "potential"] == "High potential"  # value -> label
    assert frame["has_referrals"].tolist()[3:5] == [True, False]  # "true"/"false" -> bool
    pages = [e for e in hub.log.entries if e.path == "/crm/v3/objects/companies"]
    assert len(pages) == math.ceil(250 / 100)


def test_setup_creates_enumeration_then_adds_a_code(hub: HubSpotApp) -> None:
    crm = adapter(hub)
    assert "created" in crm.ensure_category_field(CODES)[0]
    prop = hub.state.properties[CATEGORY]
    assert (prop.type, prop.field_type) == ("enumeration", "select")
    assert prop.option_values() == CODES
    assert "added options AAA" in crm.ensure_category_field(["AAA", *CODES])[0]
    assert prop.option_values() == [*CODES, "AAA"]
    assert "every category" in crm.ensure_category_field(CODES)[0]


def test_batches_of_100_with_207_partial_failure(hub: HubSpotApp) -> None:
    ids = seed(hub, 230)
    crm = adapter(hub)
    crm.ensure_category_field(CODES)
    hub.faults.reject(ids[3], "Record is locked by a workflow")
    hub.state.delete_company(ids[150])
    changes = {cid: CODES[n % 5] for n, cid in enumerate(ids)}
    result = crm.write_categories(changes)
    assert result.rejected[ids[3]] == "VALIDATION_ERROR: Record is locked by a workflow"
    assert result.rejected[ids[150]].startswith("OBJECT_NOT_FOUND")
    assert len(result.written) == 228
    for cid in result.written:
        assert hub.state.value_of(cid, CATEGORY) == changes[cid]
    assert batches(hub) == [(207, 100), (207, 100), (200, 30)]


def test_whole_batch_validation_error_is_halved_once_then_reported(hub: HubSpotApp) -> None:
    ids = seed(hub, 40)
    crm = adapter(hub)
    crm.ensure_category_field(CODES)
    crm.properties()  # the adapter believes "Z" is an option; the portal disagrees
    crm._properties[CATEGORY]["options"].append({"value": "Z", "label": "Z"})  # type: ignore[index]
    changes = dict.fromkeys(ids, "A")
    changes[ids[17]] = "Z"
    result = crm.write_categories(changes)
    # the batch of 40, then its halves once: the half holding ids[17] is reported as a whole
    assert sorted(result.rejected) == sorted(ids[:20])
    assert "was not one of the allowed options" in result.rejected[ids[17]]
    assert "refused the batch of 20 without naming a record" in result.rejected[ids[3]]
    assert sorted(result.written) == sorted(ids[20:])
    assert batches(hub) == [(400, 40), (400, 20), (200, 20)]


def test_a_batch_refused_without_ids_costs_three_requests_not_2n(hub: HubSpotApp) -> None:
    ids = seed(hub, 100)
    crm = adapter(hub)
    crm.ensure_category_field(CODES)
    crm.properties()
    crm._properties[CATEGORY]["options"].append({"value": "Z", "label": "Z"})  # type: ignore[index]
    result = crm.write_categories(dict.fromkeys(ids, "Z"))  # every record is bad
    assert len(result.rejected) == 100 and not result.written
    assert len(batches(hub)) == 3  # bisecting to single records took 199


def test_pacing_never_draws_a_429(hub: HubSpotApp) -> None:
    hub.limiter.configure(limit=10, window=0.1)  # a smaller tier, same kind of window
    ids = seed(hub, 1200)
    crm = adapter(hub, rate_limit="10/0.1s")
    crm.ensure_category_field(CODES)
    crm.fetch()
    crm.write_categories(dict.fromkeys(ids, "C"))
    assert len(hub.log.entries) > 20
    assert hub.log.count(status=429) == 0


def test_without_pacing_429_rate_limit_is_retried(hub: HubSpotApp) -> None:
    hub.limiter.configure(limit=3, window=0.1)
    ids = seed(hub, 400)
    crm = adapter(hub, rate_limit="off", max_attempts=30, backoff=0.02, backoff_max=0.1)
    crm.ensure_category_field(CODES)
    crm.fetch()
    crm.write_categories(dict.fromkeys(ids, "D"))
    assert hub.log.count(status=429) > 0
    assert all(hub.state.value_of(cid, CATEGORY) == "D" for cid in ids)


def test_retry_after_is_honoured(hub: HubSpotApp) -> None:
    seed(hub, 3)
    crm = adapter(hub)
    waits: list[float] = []
    crm.http._sleep = waits.append  # record instead of sleeping
    hub.faults.fail(429, times=1, retry_after=0.04)
    hub.faults.fail(500, times=1)
    crm.fetch()
    assert waits[0] == 0.04
    assert 0 <= waits[1] <= 0.05  # exponential backoff with jitter, capped by backoff_max


def test_the_retry_budget_is_counted_on_the_clock(hub: HubSpotApp, clock: ManualClock) -> None:
    crm = adapter(hub, max_attempts=100, backoff=1, backoff_max=1, retry_budget=10)
    hub.faults.fail(500, times=1000)
    with pytest.raises(RemoteError, match=r"still failing after \d+ attempts in (9\.\d|10\.0) s"):
        crm.fetch()
    assert 8 <= hub.log.count(status=500) <= 40  # jittered waits of at most 1 s, 10 s budget
    assert sum(clock.slept) < 10


def test_persistent_5xx_ends_in_remote_error(hub: HubSpotApp) -> None:
    crm = adapter(hub, max_attempts=3)
    hub.faults.fail(500, times=50)
    with pytest.raises(RemoteError, match="still failing after 3 attempts"):
        crm.fetch()
    assert hub.log.count(status=500) == 3


def test_dropped_connection_on_create_is_not_repeated(hub: HubSpotApp) -> None:
    crm = adapter(hub)
    hub.faults.drop(times=1, path="/crm/v3/properties/companies", after=1)
    with pytest.raises(RemoteError, match="may or may not have been carried out"):
        crm.ensure_category_field(CODES)
    assert len([e for e in hub.log.entries if e.method == "POST"]) == 1


def test_bad_token(hub: HubSpotApp, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-na1-not-the-token-0000")
    crm = adapter(hub)
    with pytest.raises(ConfigError, match="INVALID_AUTHENTICATION") as info:
        crm.fetch()
    assert "pat-na1-not-the-token-0000" not in str(info.value)


def test_category_name_validated(hub: HubSpotApp) -> None:
    with pytest.raises(ConfigError, match="lower case"):
        open_crm(settings("hubspot", FIELDS, "Client Category", url="http://127.0.0.1:9"))


def test_check(hub: HubSpotApp) -> None:
    seed(hub, 1)
    crm = adapter(hub)
    assert not crm.check(CODES)[-1].ok
    crm.ensure_category_field(CODES)
    assert all(i.ok for i in crm.check(CODES))


@pytest.mark.parametrize("record", [{"id": "7"}, {"properties": {"name": "x"}},
                                    {"id": "7", "properties": "x"}])
def test_a_record_of_the_wrong_shape_fails_the_read(hub: HubSpotApp, record: dict) -> None:
    seed(hub, 3)
    crm = adapter(hub)
    hub.faults.fail(200, times=10, path="/crm/v3/objects/companies?", body={"results": [record]})
    with pytest.raises(RemoteError, match="wrong shape: record #0 has no"):
        crm.fetch()
