"""Bitrix24 adapter end to end against the Bitrix24 emulator (webhook URL, batch, leaky bucket)."""

from __future__ import annotations

import math
import random
import threading

import pandas as pd
import pytest

from sheets_sync.crm import open_crm
from sheets_sync.crm.bitrix24 import Bitrix24Crm
from sheets_sync.errors import ConfigError, RemoteError
from sheets_sync_emulators.crm import Bitrix24App
from sheets_sync_emulators.crm.limits import ManualClock

from .conftest import settings

FIELDS = {"id": "ID", "name": "TITLE", "revenue": "REVENUE", "costs": "UF_CRM_COSTS",
          "potential": "UF_CRM_POTENTIAL", "notes": "UF_CRM_TAGS"}
CATEGORY = "UF_CRM_SS_CATEGORY"
CODES = ["A", "B", "C", "D", "E"]


def seed(app: Bitrix24App, count: int) -> list[str]:
    state = app.state
    state.add_userfield("COSTS", "money", "Затраты")
    state.add_userfield("POTENTIAL", "enumeration", "Потенциал", items=["высокий", "низкий"])
    state.add_userfield("TAGS", "string", "Метки", multiple=True)
    ids = []
    for i in range(count):
        company = state.add_company(f"ООО Ромашка {i}", REVENUE=i * 1000,
                                    UF_CRM_COSTS=f"{i * 10}.5|RUB",
                                    UF_CRM_POTENTIAL="высокий" if i % 2 else "низкий",
                                    UF_CRM_TAGS=["vip", "b2b"] if i == 2 else [])
        ids.append(str(company.id))
    return ids


def adapter(app: Bitrix24App, **options: object) -> Bitrix24Crm:
    opts = {"url": f"{app.base_url}/rest/1/", **options}  # type: ignore[attr-defined]
    crm = open_crm(settings("bitrix24", FIELDS, CATEGORY, **opts))
    assert isinstance(crm, Bitrix24Crm)
    return crm


def list_calls(app: Bitrix24App) -> int:
    return len([e for e in app.log.entries if e.path.endswith("/crm.company.list.json")])


@pytest.mark.parametrize("paging", ["id", "offset"])
def test_fetch_pages_and_normalises(b24: Bitrix24App, paging: str) -> None:
    ids = seed(b24, 120)
    crm = adapter(b24, paging=paging)
    frame = crm.fetch()
    assert list(frame.columns) == ["ID", "TITLE", "REVENUE", "UF_CRM_COSTS", "UF_CRM_POTENTIAL",
                                   "UF_CRM_TAGS", CATEGORY]
    assert frame["ID"].tolist() == ids
    row = frame.set_index("ID").loc[ids[2]]
    assert row["REVENUE"] == 2000  # "2000" -> number
    assert row["UF_CRM_COSTS"] == 20.5  # money "20.5|RUB" -> number
    assert row["UF_CRM_POTENTIAL"] == "низкий"  # item ID -> VALUE
    assert row["UF_CRM_TAGS"] == "vip, b2b"
    assert pd.isna(frame.set_index("ID").loc[ids[3], "UF_CRM_TAGS"])  # PHP [] -> None
    # id paging asks once more after a full last page; offset stops on the missing `next`
    expected = math.ceil(120 / 50) + (1 if paging == "id" and 120 % 50 == 0 else 0)
    assert list_calls(b24) == expected


def test_id_paging_survives_a_deletion_mid_fetch(b24: Bitrix24App) -> None:
    ids = seed(b24, 150)
    crm = adapter(b24)
    # after the fields call and the first page, a company on page 1 is deleted
    b24.faults.on_request(3, lambda app: app.state.delete_company(ids[10]))
    frame = crm.fetch()
    assert len(frame) == 150  # keyset paging loses nothing (offset paging would skip one)


def test_setup_creates_enumeration_then_adds_a_code(b24: Bitrix24App) -> None:
    crm = adapter(b24)
    assert "created" in crm.ensure_category_field(CODES)[0]
    uf = b24.state.userfields[CATEGORY]
    assert uf.user_type_id == "enumeration"
    assert [i["VALUE"] for i in uf.items] == CODES
    assert "added items EE" in crm.ensure_category_field([*CODES, "EE"])[0]
    assert [i["VALUE"] for i in uf.items] == [*CODES, "EE"]
    assert "every category" in crm.ensure_category_field(CODES)[0]


@pytest.mark.parametrize("as_list", [False, True])
def test_batch_writes_with_rejected_records(b24: Bitrix24App, as_list: bool) -> None:
    ids = seed(b24, 120)
    crm = adapter(b24)
    crm.ensure_category_field(CODES)
    b24.result_error_as_list = as_list  # as recorded on live portals: errors without keys
    b24.faults.reject(ids[5], "Недостаточно прав для изменения компании")
    b24.state.delete_company(ids[70])
    changes = {cid: CODES[n % 5] for n, cid in enumerate(ids)}
    result = crm.write_categories(changes)
    assert result.rejected == {ids[5]: "Недостаточно прав для изменения компании",
                               ids[70]: "Company is not found"}
    assert len(result.written) == 118
    for cid in result.written:
        assert b24.state.value_of(cid, CATEGORY) == changes[cid]
    batches = [e for e in b24.log.entries if e.path.endswith("/batch.json")]
    assert [e.items for e in batches] == [50, 50, 20]
    assert all(e.status == 200 for e in batches)


def test_pacing_keeps_the_bucket_from_overflowing(b24: Bitrix24App) -> None:
    b24.bucket.configure(capacity=20, rate=2.0)  # a smaller bucket, same drain
    ids = seed(b24, 600)
    crm = adapter(b24, rate_limit="20/10s")
    crm.ensure_category_field(CODES)
    crm.fetch()
    crm.write_categories(dict.fromkeys(ids, "A"))
    assert len(b24.log.entries) > 20  # more than the bucket holds
    assert b24.log.count(status=503) == 0


def test_pacing_at_the_bucket_size_with_transit_jitter_draws_no_503(
        b24: Bitrix24App, clock: ManualClock) -> None:
    b24.bucket.configure(capacity=10, rate=2.0)
    ids = seed(b24, 600)
    jitter = random.Random(11)
    lock = threading.Lock()

    def arrival() -> float:  # each request reaches the portal 0-200 ms after it was sent
        with lock:
            return clock.now() + jitter.uniform(0.0, 0.2)

    b24.clock = arrival
    crm = adapter(b24, rate_limit="10/5s")  # exactly the bucket: 10, draining 2 per second
    crm.ensure_category_field(CODES)
    crm.fetch()
    crm.write_categories(dict.fromkeys(ids, "A"))
    assert len(b24.log.entries) > 2 * 10
    assert b24.log.count(status=503) == 0


def test_without_pacing_query_limit_exceeded_is_retried(b24: Bitrix24App) -> None:
    b24.bucket.configure(capacity=3, rate=10.0)
    ids = seed(b24, 150)
    crm = adapter(b24, rate_limit="off", max_attempts=30, backoff=0.02, backoff_max=0.1)
    crm.ensure_category_field(CODES)
    crm.fetch()
    crm.write_categories(dict.fromkeys(ids, "B"))
    assert b24.log.count(status=503) > 0
    assert all(b24.state.value_of(cid, CATEGORY) == "B" for cid in ids)


def test_operation_time_limit_is_retried_then_reported(b24: Bitrix24App) -> None:
    seed(b24, 10)
    crm = adapter(b24)
    crm.ensure_category_field(CODES)
    b24.faults.fail(429, times=1)  # OPERATION_TIME_LIMIT once: retried
    crm.fetch()
    assert b24.log.count(status=429) == 1
    b24.op_cost = 1.0
    b24.operation.configure(budget=2.0, window=600.0)
    with pytest.raises(RemoteError, match="OPERATION_TIME_LIMIT"):
        for _ in range(4):
            crm.fetch()


def test_dropped_connection_and_slow_answer_are_retried(b24: Bitrix24App) -> None:
    seed(b24, 10)
    crm = adapter(b24, timeout=0.2)
    b24.faults.drop(times=1)
    b24.faults.slow(3.0, times=1, after=1)  # real seconds: 15 times the client's timeout
    assert len(crm.fetch()) == 10
    assert crm.http.stats["transport_errors"] == 2


def test_webhook_code_in_url_is_refused(b24: Bitrix24App) -> None:
    with pytest.raises(ConfigError, match="secret code") as info:
        adapter(b24, url=f"{b24.base_url}/rest/1/{b24.state.code}/")  # type: ignore[attr-defined]
    assert b24.state.code not in str(info.value)


def test_whole_webhook_url_in_the_environment(b24: Bitrix24App,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    seed(b24, 3)
    monkeypatch.setenv("B24_HOOK", f"{b24.base_url}/rest/1/{b24.state.code}/")  # type: ignore[attr-defined]
    crm = open_crm(settings("bitrix24", FIELDS, CATEGORY, token_env="B24_HOOK",
                            rate_limit="50/0.25s"))
    assert len(crm.fetch()) == 3


def test_wrong_code_is_a_config_error_and_masked(b24: Bitrix24App,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BITRIX24_WEBHOOK", "notTheRightCode42")
    crm = adapter(b24)
    with pytest.raises(ConfigError, match="NO_AUTH_FOUND") as info:
        crm.fetch()
    assert "notTheRightCode42" not in str(info.value)
    assert "/rest/1/***/" in str(info.value)


def test_check(b24: Bitrix24App) -> None:
    seed(b24, 1)
    crm = adapter(b24)
    assert not crm.check(CODES)[-1].ok
    crm.ensure_category_field(CODES)
    items = crm.check(CODES)
    assert all(i.ok for i in items)
    assert b24.state.code not in " ".join(i.message for i in items)


def test_category_field_must_be_a_user_field(b24: Bitrix24App) -> None:
    with pytest.raises(ConfigError, match="UF_CRM_"):
        open_crm(settings("bitrix24", FIELDS, "category", url=f"{b24.base_url}/rest/1/"))  # type: ignore[attr-defined]


@pytest.mark.parametrize("body", [{"result": [{"TITLE": "x"}]}, {"result": {"ID": "1"}},
                                  {"result": [{"ID": "1"}], "next": "50"}])
def test_a_list_of_the_wrong_shape_fails_the_read(b24: Bitrix24App, body: dict) -> None:
    seed(b24, 3)
    crm = adapter(b24)
    b24.faults.fail(200, times=10, path="crm.company.list", body=body)
    with pytest.raises(RemoteError, match="wrong shape"):
        crm.fetch()
