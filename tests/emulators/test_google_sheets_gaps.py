"""What real clients met in the emulator (issue 14, item 4): nested request arrays, request kinds
not emulated, textFormatRuns and hyperlinks, conditional formats in effectiveFormat, float32
colours, separate read and write quotas with Google's 429 body."""

from __future__ import annotations

from typing import Any

import gspread
import pytest
import requests

from sheets_sync_emulators.google_sheets import EmulatorServer
from sheets_sync_emulators.google_sheets.batch import KINDS, REAL_KINDS

GREEN = {"red": 0.8980392, "green": 0.49803922, "blue": 0.2}  # 229/255, 127/255, 51/255: stored as sent


@pytest.fixture
def sh(gc: Any) -> Any:
    return gc.create("Gaps")


def _cells(sh: Any, rng: str) -> list[dict[str, Any]]:
    meta = sh.client.request(
        "get", f"https://sheets.googleapis.com/v4/spreadsheets/{sh.id}",
        params={"ranges": rng, "includeGridData": "true"}).json()
    rows = meta["sheets"][0]["data"][0].get("rowData", [])
    return [cell for row in rows for cell in row.get("values", [])]


def test_nested_request_arrays_are_flattened(sh: Any) -> None:
    replies = sh.batch_update({"requests": [
        [{"addSheet": {"properties": {"title": "One"}}}, {"addSheet": {"properties": {"title": "Two"}}}],
        [[{"updateSheetProperties": {"properties": {"sheetId": 0, "title": "Zero"}, "fields": "title"}}]],
    ]})["replies"]
    assert len(replies) == 3 and "addSheet" in replies[0] and replies[2] == {}
    assert [w.title for w in sh.worksheets()] == ["Zero", "One", "Two"]


def test_a_real_kind_not_emulated_is_a_501_and_the_batch_is_undone(sh: Any) -> None:
    with pytest.raises(gspread.exceptions.APIError) as err:
        sh.batch_update({"requests": [{"addSheet": {"properties": {"title": "undone"}}},
                                      {"moveDimension": {"source": {"sheetId": 0, "dimension": "ROWS",
                                                                    "startIndex": 0, "endIndex": 1},
                                                         "destinationIndex": 3}}]})
    assert err.value.code == 501
    assert err.value.error["message"].startswith("not emulated: moveDimension")
    assert err.value.error["status"] == "UNIMPLEMENTED"
    assert [w.title for w in sh.worksheets()] == ["Sheet1"]


def test_every_real_kind_not_emulated_is_a_501_naming_it(sh: Any) -> None:
    missing = sorted(REAL_KINDS - set(KINDS))
    assert len(missing) >= 10
    for kind in missing:
        with pytest.raises(gspread.exceptions.APIError) as err:
            sh.batch_update({"requests": [{kind: {}}]})
        assert err.value.code == 501, kind
        assert err.value.error["message"].startswith(f"not emulated: {kind} "), kind


def test_a_note_written_with_update_cells_is_stored_and_returned(sh: Any) -> None:
    sh.batch_update({"requests": [{"updateCells": {
        "start": {"sheetId": 0, "rowIndex": 1, "columnIndex": 1},
        "rows": [{"values": [{"userEnteredValue": {"stringValue": "x"}, "note": "called 3 times"}]}],
        "fields": "userEnteredValue,note"}}]})
    (cell,) = _cells(sh, "B2")
    assert cell["note"] == "called 3 times" and cell["formattedValue"] == "x"
    sh.batch_update({"requests": [{"updateCells": {
        "range": {"sheetId": 0, "startRowIndex": 1, "endRowIndex": 2, "startColumnIndex": 1, "endColumnIndex": 2},
        "rows": [{"values": [{}]}], "fields": "note"}}]})
    (cell,) = _cells(sh, "B2")
    assert "note" not in cell and cell["formattedValue"] == "x"  # only the note was cleared


def test_a_kind_google_does_not_have_keeps_googles_unknown_name_400(sh: Any) -> None:
    with pytest.raises(gspread.exceptions.APIError) as err:
        sh.batch_update({"requests": [{"moveDimensions": {}}]})
    assert err.value.code == 400 and 'Unknown name "moveDimensions"' in err.value.error["message"]


def test_the_kind_lists() -> None:
    assert set(KINDS) <= REAL_KINDS
    assert {"moveDimension", "duplicateSheet", "findReplace", "updateBorders", "insertRange", "appendCells",
            "addBanding", "addFilterView", "updateProtectedRange", "addChart"} <= REAL_KINDS - set(KINDS)


def test_text_format_runs_are_stored_and_hyperlinks_reported(sh: Any) -> None:
    runs = [{"startIndex": 0, "format": {"bold": True}},
            {"startIndex": 4, "format": {"italic": True, "foregroundColor": GREEN}}]
    sh.batch_update({"requests": [
        {"updateCells": {"start": {"sheetId": 0, "rowIndex": 0, "columnIndex": 0},
                         "rows": [{"values": [
                             {"userEnteredValue": {"stringValue": "bold ital"}, "textFormatRuns": runs},
                             {"userEnteredValue": {"formulaValue": '=HYPERLINK("https://example.com/a","a")'}},
                             {"userEnteredValue": {"stringValue": "site"},
                              "userEnteredFormat": {"textFormat": {"link": {"uri": "https://example.com/b"}}}},
                         ]}],
                         "fields": "userEnteredValue,textFormatRuns,userEnteredFormat.textFormat.link"}}]})
    first, second, third = _cells(sh, "A1:C1")
    assert first["textFormatRuns"][0] == {"format": {"bold": True}}
    assert first["textFormatRuns"][1]["startIndex"] == 4
    assert first["textFormatRuns"][1]["format"]["foregroundColor"] == GREEN
    assert second["hyperlink"] == "https://example.com/a" and second["formattedValue"] == "a"
    assert third["hyperlink"] == "https://example.com/b"


def test_effective_format_shows_the_conditional_colour(sh: Any) -> None:
    ws = sh.sheet1
    ws.update([["A", 3], ["B", 10], ["a", 1]], "A1")
    column = {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 10, "startColumnIndex": 0, "endColumnIndex": 1}
    sh.batch_update({"requests": [
        {"addConditionalFormatRule": {"index": 0, "rule": {"ranges": [column], "booleanRule": {
            "condition": {"type": "TEXT_EQ", "values": [{"userEnteredValue": "A"}]},
            "format": {"backgroundColor": GREEN}}}}},
        {"addConditionalFormatRule": {"index": 1, "rule": {"ranges": [column], "booleanRule": {
            "condition": {"type": "CUSTOM_FORMULA", "values": [{"userEnteredValue": "=$B1>5"}]},
            "format": {"textFormat": {"bold": True}}}}}},
    ]})
    a, b, lower_a = (cells[0] for cells in (_cells(sh, "A1"), _cells(sh, "A2"), _cells(sh, "A3")))
    assert a["effectiveFormat"]["backgroundColor"] == GREEN
    assert a["effectiveFormat"]["backgroundColorStyle"] == {"rgbColor": GREEN}
    assert "userEnteredFormat" not in a  # the rule colours the effective format only
    assert b["effectiveFormat"]["backgroundColor"] == {"red": 1, "green": 1, "blue": 1}
    assert b["effectiveFormat"]["textFormat"]["bold"] is True  # =$B2>5, moved to row 2
    assert lower_a["effectiveFormat"]["backgroundColor"] == GREEN  # TEXT_EQ ignores case
    assert lower_a["effectiveFormat"]["textFormat"]["bold"] is False


@pytest.mark.parametrize(("given", "expected"), [
    (0.8980392, 0.8980392),  # float32 0.89803922 * 255 = 229.0000015: 229/255 (float64 gave 228/255)
    (229 / 255, 0.8980392),
    (0.5, 0.49803922),  # truncated: 127/255
    (1 / 255, 0.003921569),
    (1.0, 1),
])
def test_colours_round_like_google(sh: Any, given: float, expected: float) -> None:
    sh.batch_update({"requests": [{"repeatCell": {
        "range": {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 1, "startColumnIndex": 0, "endColumnIndex": 1},
        "cell": {"userEnteredFormat": {"backgroundColor": {"red": given}}},
        "fields": "userEnteredFormat.backgroundColor"}}]})
    (cell,) = _cells(sh, "A1")
    assert cell["userEnteredFormat"]["backgroundColor"] == {"red": expected}


def test_read_and_write_quotas_are_separate_buckets(emulator: EmulatorServer, sh: Any) -> None:
    ws = sh.sheet1
    now = [5000.0]
    state = emulator.state
    state.clock = lambda: now[0]
    state.read_quota_per_minute, state.write_quota_per_minute = 2, 1
    ws.get("A1")
    ws.get("A1")
    with pytest.raises(gspread.exceptions.APIError) as err:
        ws.get("A1")
    assert err.value.code == 429
    body = err.value.error
    assert body["status"] == "RESOURCE_EXHAUSTED"
    assert "'Read requests'" in body["message"] and "'Read requests per minute per user'" in body["message"]
    info = body["details"][0]
    assert info["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert info["reason"] == "RATE_LIMIT_EXCEEDED" and info["domain"] == "googleapis.com"
    assert info["metadata"]["quota_metric"] == "sheets.googleapis.com/read_requests"
    assert info["metadata"]["quota_limit"] == "ReadRequestsPerMinutePerUser"
    ws.update([["written"]], "A1")  # the write bucket is untouched by the reads
    with pytest.raises(gspread.exceptions.APIError) as err:
        ws.update([["again"]], "A1")
    assert err.value.error["details"][0]["metadata"]["quota_limit"] == "WriteRequestsPerMinutePerUser"
    now[0] += 61
    assert ws.get("A1") == [["written"]]


def test_a_429_fault_names_the_bucket_of_its_action(emulator: EmulatorServer, sh: Any) -> None:
    emulator.state.faults.rate_limit(action="values.batchUpdate")
    url = f"{emulator.base_url}/v4/spreadsheets/{sh.id}/values:batchUpdate"
    body = requests.post(url, json={}, timeout=5).json()["error"]
    assert body["code"] == 429 and "'Write requests'" in body["message"]
    assert body["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"
