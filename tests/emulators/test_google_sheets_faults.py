"""Fault switches, the concurrent-edit hook and the request log."""

from __future__ import annotations

from typing import Any

import gspread
import pytest
import requests

from sheets_sync_emulators.google_sheets import EmulatorServer, EmulatorState, ManualClock


@pytest.fixture
def ws(gc: Any) -> Any:
    ws = gc.create("Faults").sheet1
    ws.update([["id", "name"], ["1", "a"], ["2", "b"]], "A1")
    return ws


def test_429_with_and_without_retry_after(emulator: EmulatorServer, ws: Any) -> None:
    emulator.state.faults.rate_limit(action="values.get", retry_after=7)
    with pytest.raises(gspread.exceptions.APIError) as err:
        ws.get("A1")
    assert err.value.code == 429 and err.value.error["status"] == "RESOURCE_EXHAUSTED"
    assert err.value.response.headers["Retry-After"] == "7"
    assert ws.get("A1") == [["id"]]  # the fault fired once
    emulator.state.faults.rate_limit(action="values.get")
    with pytest.raises(gspread.exceptions.APIError) as err:
        ws.get("A1")
    assert err.value.code == 429 and "Retry-After" not in err.value.response.headers


def test_500_with_html_body(emulator: EmulatorServer, ws: Any) -> None:
    emulator.state.faults.server_error(action="values.batchUpdate")
    with pytest.raises(gspread.exceptions.APIError) as err:
        ws.batch_update([{"range": "A1", "values": [["x"]]}])
    assert err.value.response.status_code == 500
    assert err.value.response.headers["Content-Type"].startswith("text/html")
    assert err.value.code == -1  # gspread cannot parse the HTML body
    assert ws.acell("A1").value == "id"  # nothing was written


def test_fault_on_the_nth_attempt_of_an_endpoint(emulator: EmulatorServer, ws: Any) -> None:
    fault = emulator.state.faults.add("status", status=503, action="values.get", method="GET", attempt=2, times=2)
    assert ws.get("A1") == [["id"]]
    for _ in range(2):
        with pytest.raises(gspread.exceptions.APIError) as err:
            ws.get("A1")
        assert err.value.code == 503
    assert ws.get("A1") == [["id"]]
    assert (fault.seen, fault.fired) == (4, 2)


def test_slow_answer_and_client_timeout(emulator: EmulatorServer, ws: Any) -> None:
    emulator.state.faults.slow(delay=0.5, action="values.get")
    ws.client.set_timeout(0.05)
    with pytest.raises(requests.exceptions.ReadTimeout):
        ws.get("A1")
    ws.client.set_timeout(None)
    emulator.state.faults.slow(delay=0.01, action="values.get")
    assert ws.get("A1") == [["id"]]  # a slow answer still answers


def test_dropped_connection(emulator: EmulatorServer, ws: Any) -> None:
    emulator.state.faults.drop(action="values.batchGet")
    with pytest.raises(requests.exceptions.ConnectionError):
        ws.batch_get(["A1"])
    assert ws.batch_get(["A1"])[0] == [["id"]]
    assert [e.fault for e in emulator.state.request_log if e.action == "values.batchGet"] == ["drop", None]


def test_owner_edit_between_read_and_write(emulator: EmulatorServer, ws: Any) -> None:
    seen = ws.get("A2:A3")

    def owner_sorts_and_inserts(state: EmulatorState) -> None:
        state.owner_sort(ws.spreadsheet.id, "Sheet1", column=0, ascending=False)
        state.owner_insert_rows(ws.spreadsheet.id, "Sheet1", 1)
        state.owner_update_values(ws.spreadsheet.id, "Sheet1!B2", [["owner typed this"]])

    emulator.state.before_next_write = owner_sorts_and_inserts
    ws.update([["A-updated"]], "B2")  # a blind write now lands in the owner's row
    assert seen == [["1"], ["2"]]
    assert ws.get_all_values() == [["id", "name"], ["", "A-updated"], ["2", "b"], ["1", "a"]]
    assert emulator.state.before_next_write is None  # the hook runs once


def test_request_log_counts_requests_and_bytes(emulator: EmulatorServer, ws: Any) -> None:
    emulator.state.clear_log()
    ws.batch_get(["A1:B3"])
    ws.batch_update([{"range": "B2", "values": [["z"]]}])
    log = emulator.state.request_log
    assert [e.action for e in log] == ["values.batchGet", "values.batchUpdate"]
    assert log[1].method == "POST" and b'"z"' in log[1].request_body and log[1].status == 200
    assert "ranges=" in log[0].query and log[0].bytes_received > 0
    summary = emulator.state.log_summary()
    assert summary["requests"] == 2 and summary["bytes_sent"] == log[1].bytes_sent


def test_control_endpoint_sets_faults_and_reads_the_log(emulator: EmulatorServer, ws: Any) -> None:
    base = emulator.base_url + "/_emulator"
    r = requests.post(base + "/faults", json={"kind": "429", "action": "values.get", "retry_after": 2}, timeout=5)
    assert r.status_code == 200 and r.json()["faults"][0]["kind"] == "429"
    with pytest.raises(gspread.exceptions.APIError):
        ws.get("A1")
    log = requests.get(base + "/log", timeout=5).json()["requests"]
    assert log[-1]["status"] == 429 and log[-1]["fault"] == "429"
    assert requests.delete(base + "/faults", timeout=5).json()["faults"] == []
    assert requests.delete(base + "/log", timeout=5).json()["requests"] == []


def test_per_minute_quota_with_an_injected_clock(emulator: EmulatorServer, ws: Any) -> None:
    clock = ManualClock()
    emulator.clock = clock  # the server's one clock: the quota reads it
    emulator.state.quota_per_minute = 2
    ws.get("A1")
    ws.get("A1")
    with pytest.raises(gspread.exceptions.APIError) as err:
        ws.get("A1")
    assert err.value.code == 429
    clock.advance(61)
    assert ws.get("A1") == [["id"]]
