"""The values API through the real gspread client, plus the exact response shapes."""

from __future__ import annotations

from typing import Any

import gspread
import pytest
import requests

from sheets_sync_emulators.google_sheets import EmulatorServer, emulator_session


@pytest.fixture
def ws(gc: Any) -> Any:
    return gc.create("Clients").sheet1


def test_open_by_key_and_raw_formula_text_stays_text(gc: Any) -> None:
    sh = gc.create("CRM")
    ws = gc.open_by_key(sh.id).sheet1
    ws.update([['=HYPERLINK("http://x","y")', "+7 495 123-45-67"]], "A1", value_input_option="RAW")
    assert ws.get("A1:B1", value_render_option="FORMULA") == [['=HYPERLINK("http://x","y")', "+7 495 123-45-67"]]
    assert ws.get("A1:B1") == [['=HYPERLINK("http://x","y")', "+7 495 123-45-67"]]


def test_user_entered_formulas_numbers_percents_dates(ws: Any) -> None:
    ws.update([["=1+2", "1,234.50", "12%", "2026-11-23", "23.11.2026", "'007", "TRUE", '=HYPERLINK("http://x","y")']],
              "A1", value_input_option="USER_ENTERED")
    assert ws.get("A1:H1", value_render_option="FORMULA")[0][0] == "=1+2"
    assert ws.get("A1:H1", value_render_option="UNFORMATTED_VALUE") == [
        [3, 1234.5, 0.12, 46349, 46349, "007", True, "y"]]
    assert ws.get("A1:H1") == [["3", "1,234.50", "12%", "2026-11-23", "23.11.2026", "007", "TRUE", "y"]]
    fmt = ws.get("D1:E1", value_render_option="UNFORMATTED_VALUE", date_time_render_option="FORMATTED_STRING")
    assert fmt == [["2026-11-23", "23.11.2026"]]


def test_user_entered_phone_number_becomes_a_formula_error(ws: Any) -> None:
    ws.update([["+7 495 123-45-67"]], "A1", value_input_option="USER_ENTERED")
    assert ws.get("A1") == [["#ERROR!"]]


def test_numbers_stay_numbers_unformatted(ws: Any) -> None:
    ws.update([[1, 2.5, "x", True]], "A1", value_input_option="RAW")
    assert ws.get("A1:D1", value_render_option="UNFORMATTED_VALUE") == [[1, 2.5, "x", True]]
    assert ws.get("A1:D1") == [["1", "2.5", "x", "TRUE"]]


def test_batch_get_several_ranges(ws: Any) -> None:
    ws.update([["a", "b", "c"], ["d", "e", "f"]], "A1")
    got = ws.batch_get(["A1:B1", "C1:C2", "Z10"])
    assert [list(r) for r in got] == [[["a", "b"]], [["c"], ["f"]], []]


def test_append_rows_grows_the_grid(gc: Any) -> None:
    sh = gc.create("Append")
    ws = sh.add_worksheet("small", rows=2, cols=3)
    ws.append_rows([["h1", "h2"], ["a", "b"]])
    resp = ws.append_rows([["c", "d"], ["e", "f"]])
    assert resp["tableRange"] == "small!A1:B2"
    assert resp["updates"]["updatedRange"] == "small!A3:B4"
    assert ws.get_all_values() == [["h1", "h2"], ["a", "b"], ["c", "d"], ["e", "f"]]
    assert gc.open_by_key(sh.id).worksheet("small").row_count == 4


def test_empty_range_has_no_values_key_and_trailing_blanks_are_dropped(emulator: EmulatorServer, ws: Any) -> None:
    sh = ws.spreadsheet
    assert sh.values_get("Sheet1!A1:D4") == {"range": "Sheet1!A1:D4", "majorDimension": "ROWS"}
    ws.update([["a", "", "", ""], ["", "", "", ""], ["", "b", "", ""]], "A1")
    assert sh.values_get("Sheet1!A1:D10")["values"] == [["a"], [], ["", "b"]]
    cols = sh.values_get("Sheet1!A1:D10", params={"majorDimension": "COLUMNS"})
    assert cols["values"] == [["a"], ["", "", "b"]]


def test_range_echo_is_normalised_like_google(gc: Any) -> None:
    sh = gc.create("Echo")
    sh.add_worksheet("my sheet", rows=10, cols=5)
    sh.add_worksheet("D3", rows=10, cols=5)
    assert sh.values_get("'my sheet'!B:C")["range"] == "'my sheet'!B1:C10"
    assert sh.values_get("'my sheet'!A2:2")["range"] == "'my sheet'!A2:E2"
    assert sh.values_get("D3")["range"] == "'D3'!A1:E10"
    assert sh.values_get("Sheet1!C3:A1")["range"] == "Sheet1!A1:C3"


def test_update_response_counts_and_nulls(ws: Any) -> None:
    resp = ws.spreadsheet.values_update("Sheet1!A1:B2", params={"valueInputOption": "RAW"},
                                        body={"values": [[None, "x"], ["y", None]]})
    assert resp["updatedRange"] == "Sheet1!A1:B2"
    assert (resp["updatedRows"], resp["updatedColumns"], resp["updatedCells"]) == (2, 2, 2)


def test_values_batch_update_and_batch_clear(ws: Any) -> None:
    sh = ws.spreadsheet
    resp = sh.values_batch_update({"valueInputOption": "RAW", "data": [
        {"range": "Sheet1!A1:B1", "values": [["a", "b"]]}, {"range": "Sheet1!A3", "values": [["c"]]}]})
    assert resp["totalUpdatedCells"] == 3 and len(resp["responses"]) == 2
    cleared = sh.values_batch_clear(body={"ranges": ["Sheet1!A1", "Sheet1!A3:B3"]})
    assert cleared["clearedRanges"] == ["Sheet1!A1", "Sheet1!A3:B3"]
    assert ws.get_all_values() == [["", "b"]]


def test_write_outside_the_grid_and_bad_values_are_400(ws: Any) -> None:
    with pytest.raises(gspread.exceptions.APIError) as err:
        ws.update([["x"]], "A1001")
    assert err.value.code == 400 and "exceeds grid limits" in err.value.error["message"]
    with pytest.raises(gspread.exceptions.APIError) as err:
        ws.spreadsheet.values_update("Sheet1!A1", params={"valueInputOption": "RAW"}, body={"values": "X"})
    assert err.value.error["status"] == "INVALID_ARGUMENT"
    assert err.value.error["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    with pytest.raises(gspread.exceptions.APIError) as err:
        ws.spreadsheet.values_get("Nope!A1")
    assert err.value.error["message"] == "Unable to parse range: Nope!A1"


def test_ten_million_cell_limit(gc: Any) -> None:
    sh = gc.create("Big")
    sh.sheet1.resize(rows=384_000, cols=26)  # 9,984,000 cells
    with pytest.raises(gspread.exceptions.APIError) as err:
        sh.add_worksheet("more", rows=1000, cols=26)
    assert err.value.code == 400
    assert err.value.error["message"].endswith(
        "This action would increase the number of cells in the workbook above the limit of 10000000 cells.")


def test_spreadsheet_get_with_fields_ranges_and_grid_data(ws: Any) -> None:
    sh = ws.spreadsheet
    ws.update([["a", 1]], "A1")
    ws.update_note("A1", "a note")
    meta = sh.fetch_sheet_metadata({"fields": "sheets.properties.title"})
    assert meta == {"sheets": [{"properties": {"title": "Sheet1"}}]}
    data = sh.fetch_sheet_metadata({"includeGridData": "true", "ranges": "Sheet1!A1:B1"})
    cells = data["sheets"][0]["data"][0]["rowData"][0]["values"]
    assert cells[0]["userEnteredValue"] == {"stringValue": "a"} and cells[0]["note"] == "a note"
    assert cells[1]["effectiveValue"] == {"numberValue": 1} and cells[1]["formattedValue"] == "1"
    notes = sh.fetch_sheet_metadata({"fields": "sheets.data.rowData.values.note", "ranges": "Sheet1!A1:B2"})
    assert notes == {"sheets": [{"data": [{"rowData": [{"values": [{"note": "a note"}]}]}]}]}


def test_russian_locale_formats(emulator: EmulatorServer) -> None:
    emulator.state.accept_any_token = True
    ss = emulator.state.create_spreadsheet("RU", locale="ru_RU")
    session = emulator_session(emulator.base_url)
    session.headers["Authorization"] = "Bearer anything"
    gc = gspread.Client(auth=None, session=session)
    ws = gc.open_by_key(ss.id).sheet1
    ws.update([["23.11.2026", "1234,5"]], "A1", value_input_option="USER_ENTERED")
    ws.format("B1", {"numberFormat": {"type": "NUMBER", "pattern": '#,##0.00 "₽"'}})
    assert ws.get("A1:B1") == [["23.11.2026", "1\u00a0234,50 ₽"]]
    assert ws.get("A1:B1", value_render_option="UNFORMATTED_VALUE") == [[46349, 1234.5]]


def test_plain_requests_without_gspread(emulator: EmulatorServer) -> None:
    emulator.state.accept_any_token = True
    ss = emulator.state.create_spreadsheet("Plain")
    url = f"{emulator.base_url}/v4/spreadsheets/{ss.id}/values/Sheet1!A1:B2"
    r = requests.put(url, params={"valueInputOption": "RAW"}, json={"values": [["a"]]}, timeout=5)
    assert r.status_code == 200 and r.json()["updatedRange"] == "Sheet1!A1"
    assert emulator.state.read_values(ss.id, "Sheet1") == [["a"]]
