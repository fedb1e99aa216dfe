"""spreadsheets.batchUpdate request kinds through gspread, and the owner-edit helpers."""

from __future__ import annotations

from typing import Any

import gspread
import pytest

from sheets_sync_emulators.google_sheets import EmulatorServer


@pytest.fixture
def sh(gc: Any) -> Any:
    return gc.create("Batch")


def _meta(sh: Any) -> dict[str, Any]:
    return sh.fetch_sheet_metadata()


def test_add_update_delete_sheet_and_frozen_header(sh: Any) -> None:
    ws = sh.add_worksheet("Clients", rows=10, cols=5)
    ws.freeze(rows=1)
    props = _meta(sh)["sheets"][1]["properties"]
    assert props["title"] == "Clients" and props["gridProperties"]["frozenRowCount"] == 1
    ws.freeze(rows=0)
    assert "frozenRowCount" not in _meta(sh)["sheets"][1]["properties"]["gridProperties"]
    ws.resize(rows=20, cols=8)
    assert _meta(sh)["sheets"][1]["properties"]["gridProperties"] == {"rowCount": 20, "columnCount": 8}
    with pytest.raises(gspread.exceptions.APIError) as err:
        sh.add_worksheet("clients", rows=1, cols=1)
    assert "already exists" in err.value.error["message"]
    sh.del_worksheet(ws)
    assert [s["properties"]["title"] for s in _meta(sh)["sheets"]] == ["Sheet1"]
    with pytest.raises(gspread.exceptions.APIError):
        sh.del_worksheet(sh.sheet1)


def test_format_repeat_cell_and_update_cells(sh: Any) -> None:
    ws = sh.sheet1
    ws.format("A1:B1", {"textFormat": {"bold": True}, "backgroundColor": {"red": 1, "green": 0.5}})
    got = sh.fetch_sheet_metadata({"fields": "sheets.data.rowData.values.userEnteredFormat",
                                   "ranges": "Sheet1!A1"})
    fmt = got["sheets"][0]["data"][0]["rowData"][0]["values"][0]["userEnteredFormat"]
    assert fmt["textFormat"] == {"bold": True}
    assert fmt["backgroundColorStyle"] == {"rgbColor": {"red": 1, "green": 0.49803922}}
    sh.batch_update({"requests": [{"updateCells": {
        "start": {"sheetId": 0, "rowIndex": 1, "columnIndex": 0},
        "rows": [{"values": [{"userEnteredValue": {"numberValue": 5}}, {"userEnteredValue": {"stringValue": "x"}}]}],
        "fields": "userEnteredValue"}}]})
    assert ws.get("A2:B2", value_render_option="UNFORMATTED_VALUE") == [[5, "x"]]


def test_data_validation_and_conditional_formats(sh: Any) -> None:
    rule = {"condition": {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": "A"}, {"userEnteredValue": "B"}]},
            "strict": True, "showCustomUi": True}
    cf = {"ranges": [{"sheetId": 0, "startRowIndex": 1, "startColumnIndex": 2, "endColumnIndex": 3}],
          "booleanRule": {"condition": {"type": "TEXT_EQ", "values": [{"userEnteredValue": "A"}]},
                          "format": {"backgroundColor": {"green": 1}}}}
    resp = sh.batch_update({"requests": [
        {"setDataValidation": {"range": {"sheetId": 0, "startRowIndex": 1, "endRowIndex": 3,
                                         "startColumnIndex": 2, "endColumnIndex": 3}, "rule": rule}},
        {"addConditionalFormatRule": {"rule": cf, "index": 0}},
    ]})
    assert resp["replies"] == [{}, {}]
    sheet = _meta(sh)["sheets"][0]
    assert sheet["conditionalFormats"][0]["ranges"] == [
        {"startRowIndex": 1, "endRowIndex": 1000, "startColumnIndex": 2, "endColumnIndex": 3}]
    cells = sh.fetch_sheet_metadata({"fields": "sheets.data.rowData.values.dataValidation",
                                     "ranges": "Sheet1!C2:C3"})["sheets"][0]["data"][0]["rowData"]
    assert all(row["values"][0]["dataValidation"]["condition"]["type"] == "ONE_OF_LIST" for row in cells)
    deleted = sh.batch_update({"requests": [{"deleteConditionalFormatRule": {"sheetId": 0, "index": 0}}]})
    assert deleted["replies"][0]["deleteConditionalFormatRule"]["rule"]["booleanRule"]["condition"]["type"] == "TEXT_EQ"
    assert "conditionalFormats" not in _meta(sh)["sheets"][0]


def test_dimensions_insert_delete_append_and_hide(sh: Any) -> None:
    ws = sh.sheet1
    ws.update([["1"], ["2"], ["3"]], "A1")
    ws.insert_rows([["new"]], row=2)
    assert ws.col_values(1) == ["1", "new", "2", "3"]
    ws.delete_rows(1)
    assert ws.col_values(1) == ["new", "2", "3"]
    sh.batch_update({"requests": [{"appendDimension": {"sheetId": 0, "dimension": "ROWS", "length": 5}}]})
    assert _meta(sh)["sheets"][0]["properties"]["gridProperties"]["rowCount"] == 1005
    ws.hide_columns(1, 2)
    cols = sh.fetch_sheet_metadata({"fields": "sheets.data.columnMetadata"})["sheets"][0]["data"][0]["columnMetadata"]
    assert cols[1] == {"hiddenByUser": True, "pixelSize": 100} and cols[0] == {"pixelSize": 100}
    ws.columns_auto_resize(0, 1)


def test_sort_filter_merge_named_ranges(sh: Any) -> None:
    ws = sh.sheet1
    ws.update([["name", "n"], ["b", 2], ["a", 10], ["c", 1]], "A1")
    ws.sort((2, "des"), range="A2:B4")
    assert ws.get("A2:B4") == [["a", "10"], ["b", "2"], ["c", "1"]]
    ws.set_basic_filter("A1:B4")
    assert _meta(sh)["sheets"][0]["basicFilter"]["range"] == {
        "startRowIndex": 0, "endRowIndex": 4, "startColumnIndex": 0, "endColumnIndex": 2}
    ws.merge_cells("D1:E2")
    assert _meta(sh)["sheets"][0]["merges"] == [
        {"startRowIndex": 0, "endRowIndex": 2, "startColumnIndex": 3, "endColumnIndex": 5}]
    ws.unmerge_cells("D1:E2")
    ws.define_named_range("A2:A4", "names")
    assert ws.get("names") == [["a"], ["b"], ["c"]]


def test_unknown_request_kind_is_a_clean_400_and_batches_are_atomic(sh: Any) -> None:
    with pytest.raises(gspread.exceptions.APIError) as err:
        sh.batch_update({"requests": [{"addSheet": {"properties": {"title": "kept?"}}}, {"fooBar": {}}]})
    assert err.value.code == 400
    assert err.value.error["message"] == (
        "Invalid JSON payload received. Unknown name \"fooBar\" at 'requests[1]': Cannot find field.")
    assert [s["properties"]["title"] for s in _meta(sh)["sheets"]] == ["Sheet1"]
    with pytest.raises(gspread.exceptions.APIError) as err:
        sh.batch_update({"requests": [{"updateSheetProperties": {"properties": {"sheetId": 0, "hidden": True},
                                                                 "fields": "hidden"}}]})
    assert err.value.error["message"] == (
        "Invalid requests[0].updateSheetProperties: You can't hide all the sheets in a document.")


def test_developer_metadata_follows_rows(emulator: EmulatorServer, sh: Any) -> None:
    ws = sh.sheet1
    ws.update([["id"], ["c1"], ["c2"], ["c3"]], "A1")
    reqs = [{"createDeveloperMetadata": {"developerMetadata": {
        "metadataKey": "client", "metadataValue": cid, "visibility": "DOCUMENT",
        "location": {"dimensionRange": {"sheetId": 0, "dimension": "ROWS", "startIndex": i, "endIndex": i + 1}}}}}
        for i, cid in ((1, "c1"), (2, "c2"), (3, "c3"))]
    replies = sh.batch_update({"requests": reqs})["replies"]
    assert replies[0]["createDeveloperMetadata"]["developerMetadata"]["location"] == {
        "locationType": "ROW", "dimensionRange": {"dimension": "ROWS", "startIndex": 1, "endIndex": 2}}

    def search(lookup: dict[str, Any]) -> list[dict[str, Any]]:
        url = f"https://sheets.googleapis.com/v4/spreadsheets/{sh.id}/developerMetadata:search"
        resp = sh.client.request("post", url, json={"dataFilters": [{"developerMetadataLookup": lookup}]})
        return [m["developerMetadata"] for m in resp.json().get("matchedDeveloperMetadata", [])]

    def row_of(cid: str) -> int:
        return search({"metadataKey": "client", "metadataValue": cid})[0]["location"]["dimensionRange"]["startIndex"]

    emulator.state.owner_insert_rows(sh.id, "Sheet1", 1)
    assert row_of("c1") == 2
    emulator.state.owner_sort(sh.id, "Sheet1", 0, ascending=False)
    assert ws.col_values(1) == ["id", "c3", "c2", "c1"]
    assert (row_of("c3"), row_of("c1")) == (1, 3)
    emulator.state.owner_delete_rows(sh.id, "Sheet1", 1)
    assert sorted(m["metadataValue"] for m in search({"metadataKey": "client"})) == ["c1", "c2"]


def test_failed_batch_leaves_cells_and_grid_untouched(emulator: EmulatorServer, sh: Any) -> None:
    sh.sheet1.update([["a", "b"]], "A1")
    with pytest.raises(gspread.exceptions.APIError):
        sh.batch_update({"requests": [
            {"repeatCell": {"range": {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 1},
                            "cell": {"userEnteredValue": {"stringValue": "Z"}}, "fields": "userEnteredValue"}},
            {"insertDimension": {"range": {"sheetId": 0, "dimension": "ROWS", "startIndex": 0, "endIndex": 2}}},
            {"deleteSheet": {"sheetId": 0}},
        ]})
    assert sh.sheet1.get_all_values() == [["a", "b"]]
    assert _meta(sh)["sheets"][0]["properties"]["gridProperties"]["rowCount"] == 1000
