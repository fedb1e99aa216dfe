"""amoCRM/Kommo adapter end to end against the amoCRM emulator."""

from __future__ import annotations

import math
import random
import threading

import pytest

from sheets_sync.crm import open_crm
from sheets_sync.crm.amocrm import AmoCrm
from sheets_sync.errors import ConfigError, CrmError, RemoteError
from sheets_sync_emulators.crm import AmoCrmApp
from sheets_sync_emulators.crm.limits import ManualClock

from .conftest import settings

FIELDS = {"id": "id", "name": "name", "revenue": "REVENUE", "potential": "Потенциал",
          "first_order": "FIRST_ORDER", "manual_category": "MANUAL"}
CODES = ["A", "B", "C", "D", "E"]


def seed(app: AmoCrmApp, count: int) -> list[str]:
    state = app.state
    state.add_field("Выручка", "numeric", code="REVENUE")
    state.add_field("Потенциал", "select", enums=["высокий", "низкий"])
    state.add_field("Первый заказ", "date", code="FIRST_ORDER")
    state.add_field("Ручная категория", "select", code="MANUAL", enums=["A", "B"])
    ids = []
    for i in range(count):
        values = {"REVENUE": f"{i * 1000}.5" if i % 3 else i * 1000,
                  "Потенциал": "высокий" if i % 2 else "низкий"}
        if i % 4 == 0:
            values["FIRST_ORDER"] = 1_700_000_000
        if i == 1:
            values["MANUAL"] = "B"
        ids.append(str(state.add_company(f"Компания {i}", values).id))
    return ids


def adapter(app: AmoCrmApp, **options: object) -> AmoCrm:
    opts = {"url": app.base_url, **options}  # type: ignore[attr-defined]
    crm = open_crm(settings("amocrm", FIELDS, "SS_CATEGORY", **opts))
    assert isinstance(crm, AmoCrm)
    return crm


def test_fetch_pages_and_normalises(amo: AmoCrmApp) -> None:
    ids = seed(amo, 620)
    crm = adapter(amo)
    frame = crm.fetch()
    assert list(frame.columns) == ["id", "name", "REVENUE", "Потенциал", "FIRST_ORDER", "MANUAL",
                                   "SS_CATEGORY"]
    assert frame["id"].tolist() == ids
    row = frame.set_index("id").loc[ids[1]]
    assert row["name"] == "Компания 1"
    assert row["REVENUE"] == 1000.5
    assert row["Потенциал"] == "высокий"  # enum id -> option text
    assert row["MANUAL"] == "B"
    # unix -> ISO date in the account's timezone: 1_700_000_000 is 2023-11-14 22:13 UTC,
    # already the 15th in the emulated account's Europe/Moscow (UTC+3)
    assert frame.set_index("id").loc[ids[4], "FIRST_ORDER"] == "2023-11-15"
    assert amo.log.count(path="/api/v4/account") == 1
    assert frame["SS_CATEGORY"].isna().all()
    pages = amo.log.select(path="/api/v4/companies", method="GET")
    assert len([e for e in pages if e.path == "/api/v4/companies"]) == math.ceil(620 / 250)
    crm.close()


def test_empty_account_answers_204(amo: AmoCrmApp) -> None:
    crm = adapter(amo)
    crm.ensure_category_field(CODES)
    amo.state.add_field("Выручка", "numeric", code="REVENUE")
    amo.state.add_field("Потенциал", "select", enums=["x"])
    amo.state.add_field("Первый заказ", "date", code="FIRST_ORDER")
    amo.state.add_field("Ручная", "select", code="MANUAL")
    frame = crm.fetch()
    assert frame.empty
    assert amo.log.count(status=204, path="/api/v4/companies") == 1


def test_setup_creates_field_then_adds_a_code(amo: AmoCrmApp) -> None:
    crm = adapter(amo)
    assert "created" in crm.ensure_category_field(CODES)[0]
    field = amo.state.field("SS_CATEGORY")
    assert field is not None and field.type == "select"
    assert [e["value"] for e in field.enums] == CODES
    enum_ids = [e["id"] for e in field.enums]
    assert "added options AA" in crm.ensure_category_field(["AA", *CODES])[0]
    assert [e["value"] for e in field.enums] == [*CODES, "AA"]
    assert [e["id"] for e in field.enums][:5] == enum_ids  # existing options keep their ids
    assert "every category" in crm.ensure_category_field(CODES)[0]


def test_writes_in_batches_of_50_with_a_rejected_record(amo: AmoCrmApp) -> None:
    ids = seed(amo, 130)
    crm = adapter(amo)
    crm.ensure_category_field(CODES)
    amo.faults.reject(ids[7], "Компания в архиве")
    changes = {cid: CODES[n % 5] for n, cid in enumerate(ids)}
    result = crm.write_categories(changes)
    assert set(result.rejected) == {ids[7]}
    assert "Компания в архиве" in result.rejected[ids[7]]
    assert sorted(result.written) == sorted(set(ids) - {ids[7]})
    for cid in result.written:
        assert amo.state.value_of(cid, "SS_CATEGORY") == changes[cid]
    assert amo.state.value_of(ids[7], "SS_CATEGORY") is None
    patches = [e for e in amo.log.select(method="PATCH") if e.path == "/api/v4/companies"]
    # 3 batches (50, 50, 30); the one holding the rejected record is sent again without it
    assert [e.items for e in patches] == [50, 49, 50, 30]
    assert [e.status for e in patches] == [400, 200, 200, 200]


def test_unknown_code_and_bad_id_rejected_without_a_request(amo: AmoCrmApp) -> None:
    ids = seed(amo, 3)
    crm = adapter(amo)
    crm.ensure_category_field(CODES)
    before = len(amo.log.entries)
    result = crm.write_categories({ids[0]: "Z", "abc": "A"})
    assert "run `sheets-sync crm setup`" in result.rejected[ids[0]]
    assert "abc" in result.rejected and not result.written
    assert all(e.method == "GET" for e in amo.log.entries[before:])


def test_company_deleted_while_the_sync_runs(amo: AmoCrmApp) -> None:
    ids = seed(amo, 60)
    crm = adapter(amo)
    crm.ensure_category_field(CODES)
    crm.fetch()
    amo.faults.on_request(len(amo.log.entries) + 1,
                          lambda app: app.state.delete_company(ids[55]))
    result = crm.write_categories(dict.fromkeys(ids, "A"))
    assert list(result.rejected) == [ids[55]]
    assert "NotFound" in result.rejected[ids[55]]
    assert len(result.written) == 59


def test_pacing_never_draws_a_429(amo: AmoCrmApp) -> None:
    ids = seed(amo, 800)
    crm = adapter(amo)
    crm.ensure_category_field(CODES)
    crm.fetch()
    crm.write_categories(dict.fromkeys(ids, "B"))
    assert len(amo.log.entries) > 2 * 7  # more than the limit allows in one window
    assert amo.log.count(status=429) == 0


def busiest_second(app: AmoCrmApp) -> int:
    """The most requests the emulator counted in any 1 s (virtual time) of the test."""
    times = [e.at for e in app.log.entries]
    return max((sum(1 for u in times if t <= u < t + 1.0) for t in times), default=0)


def test_pacing_at_the_limit_with_transit_jitter_draws_no_429(
        amo: AmoCrmApp, clock: ManualClock) -> None:
    ids = seed(amo, 1000)
    jitter = random.Random(7)
    lock = threading.Lock()

    def arrival() -> float:  # each request reaches amoCRM 0-90 ms after it was sent
        with lock:
            return clock.now() + jitter.uniform(0.0, 0.09)

    amo.clock = arrival
    crm = adapter(amo)  # rate_limit "7/1s", the documented limit itself
    crm.ensure_category_field(CODES)
    crm.fetch()
    crm.write_categories(dict.fromkeys(ids, "B"))
    assert len(amo.log.entries) > 3 * 7
    assert amo.log.count(status=429) == 0
    assert busiest_second(amo) <= 7


def test_without_pacing_the_limiter_answers_429_and_retries_cope(amo: AmoCrmApp) -> None:
    amo.limiter.configure(limit=2, window=0.2)
    ids = seed(amo, 300)
    crm = adapter(amo, rate_limit="off", max_attempts=20, backoff=0.02, backoff_max=0.1)
    crm.ensure_category_field(CODES)
    crm.write_categories(dict.fromkeys(ids, "C"))
    assert amo.log.count(status=429) > 0
    assert all(amo.state.value_of(cid, "SS_CATEGORY") == "C" for cid in ids)


def test_forced_429_and_5xx_are_retried(amo: AmoCrmApp) -> None:
    seed(amo, 5)
    crm = adapter(amo)
    amo.faults.fail(429, times=2, retry_after=0.01)
    amo.faults.fail(502, times=1)
    crm.fetch()
    statuses = [e.status for e in amo.log.entries]
    assert statuses[:4] == [429, 429, 502, 200]
    assert crm.http.stats["retries"] == 3


def test_persistent_failure_ends_in_remote_error(amo: AmoCrmApp) -> None:
    crm = adapter(amo)
    amo.faults.fail(503, times=100)
    with pytest.raises(RemoteError, match=r"still failing after 4 attempts.*HTTP 503"):
        crm.fetch()
    assert amo.log.count(status=503) == 4


def test_bad_token_is_a_config_error_without_the_token(amo: AmoCrmApp,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMOCRM_TOKEN", "wrong-secret-token-123")
    crm = adapter(amo)
    with pytest.raises(ConfigError) as info:
        crm.fetch()
    text = str(info.value)
    assert "401" in text and "AMOCRM_TOKEN" in text and "Неверный логин" in text
    assert "wrong-secret-token-123" not in text


@pytest.mark.parametrize(("zone", "option", "day"), [
    ("UTC", None, "2023-11-14"), ("Asia/Vladivostok", None, "2023-11-15"),
    ("Europe/Moscow", "America/New_York", "2023-11-14")])
def test_dates_are_days_of_the_account_timezone(amo: AmoCrmApp, zone: str, option: str | None,
                                                day: str) -> None:
    ids = seed(amo, 1)
    amo.state.timezone = zone
    crm = adapter(amo, **({"timezone": option} if option else {}))
    assert crm.fetch().set_index("id").loc[ids[0], "FIRST_ORDER"] == day
    assert amo.log.count(path="/api/v4/account") == (0 if option else 1)


def test_unknown_timezone_is_refused(amo: AmoCrmApp) -> None:
    with pytest.raises(ConfigError, match="not a known timezone"):
        adapter(amo, timezone="Mars/Olympus")
    seed(amo, 1)
    amo.state.timezone = "Mars/Olympus"
    with pytest.raises(CrmError, match="account timezone = 'Mars/Olympus'"):
        adapter(amo).fetch()


def test_ip_block_stops_the_run_until_the_next_sync(amo: AmoCrmApp) -> None:
    ids = seed(amo, 3)
    crm = adapter(amo)
    crm.ensure_category_field(CODES)
    amo.ban_after = 0  # amoCRM now answers 403 to everything from this address
    with pytest.raises(RemoteError, match="resumes at the next sync") as info:
        crm.write_categories(dict.fromkeys(ids, "A"))
    assert info.value.exit_code == 4 and "HTTP 403" in str(info.value)
    assert amo.log.count(status=403) == 1  # not retried: the block lasts


def test_check_reports_fields_and_codes(amo: AmoCrmApp) -> None:
    seed(amo, 1)
    crm = adapter(amo)
    items = crm.check(CODES)
    assert items[0].ok and not items[-1].ok and "crm setup" in items[-1].message
    crm.ensure_category_field(CODES)
    assert all(i.ok for i in crm.check(CODES))


def test_category_field_of_wrong_type(amo: AmoCrmApp) -> None:
    seed(amo, 1)
    amo.state.add_field("Категория", "text", code="SS_CATEGORY")
    crm = adapter(amo)
    with pytest.raises(CrmError, match="not a list"):
        crm.write_categories({"1": "A"})


def test_unknown_mapped_field_is_a_config_error(amo: AmoCrmApp) -> None:
    crm = adapter(amo)
    with pytest.raises(ConfigError, match="no company field 'REVENUE'"):
        crm.fetch()


@pytest.mark.parametrize("company", [{"name": "x"}, {"id": "12"},
                                     {"id": 12, "custom_fields_values": [{"field_id": "a"}]}])
def test_a_company_of_the_wrong_shape_fails_the_read(amo: AmoCrmApp, company: dict) -> None:
    seed(amo, 3)
    crm = adapter(amo)
    amo.faults.fail(200, times=10, path="/api/v4/companies?",
                    body={"_embedded": {"companies": [company]}})
    with pytest.raises(RemoteError, match="wrong shape: company #0"):
        crm.fetch()
