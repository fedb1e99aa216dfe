"""The owners' decisions on a Google spreadsheet, edited through the emulator as an owner would:
a renamed tab, a deleted header row, a renamed, deleted or copied manual category."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest
from gspread.utils import rowcol_to_a1

from .conftest import GoogleDemo


def crm_all(demo: GoogleDemo) -> list[tuple]:
    with sqlite3.connect(demo.folder / "crm.sqlite") as db:
        return db.execute("SELECT id, category FROM companies ORDER BY id").fetchall()


def letter(col: int) -> str:
    return rowcol_to_a1(1, col + 1)[:-1]  # past Z too


@pytest.fixture
def decided(cli: Callable[..., str], google_demo: GoogleDemo) -> tuple[GoogleDemo, str]:
    """A first sync, then the owner sets a manual category on client 7 and syncs it to the CRM."""
    config = str(google_demo.config)
    cli("sync", "--config", config, code=0)
    col, rows = google_demo.table()
    forced = "E" if rows["7"][col["rule_category"]] != "E" else "D"
    line = next(i for i, r in enumerate(google_demo.values()) if str(r[col["id"]]) == "7") + 1
    google_demo.server.state.owner_update_values(
        google_demo.key, f"Clients!{letter(col['manual_category'])}{line}", [[forced]])
    cli("sync", "--config", config, code=0)
    assert dict(crm_all(google_demo))[7] == forced
    return google_demo, forced


def sheet_id(demo: GoogleDemo) -> int:
    return demo.server.state.get_spreadsheet(demo.key).sheet_by_title("Clients").id


def test_a_renamed_tab_stops_the_sync(cli: Callable[..., str], decided: tuple[GoogleDemo, str]) -> None:
    demo, _ = decided
    demo.server.state.owner_batch_update(demo.key, [{"updateSheetProperties": {
        "properties": {"sheetId": sheet_id(demo), "title": "Клиенты"}, "fields": "title"}}])
    before = crm_all(demo)
    demo.server.state.clear_log()
    out = cli("sync", "--config", str(demo.config), code=2)
    assert "Tab 'Clients' is missing" in out
    assert crm_all(demo) == before
    writes = [a for a in demo.actions() if a not in ("values.batchGet", "spreadsheets.get")]
    assert writes == [], writes


def test_a_deleted_header_row_stops_the_sync(cli: Callable[..., str], decided: tuple[GoogleDemo, str]) -> None:
    demo, _ = decided
    demo.server.state.owner_delete_rows(demo.key, "Clients", 0, 1)
    before = crm_all(demo)
    demo.server.state.clear_log()
    out = cli("sync", "--config", str(demo.config), code=2)
    assert "no header row with an 'id' column" in out
    assert crm_all(demo) == before and demo.actions() == ["values.batchGet"]


def test_a_renamed_manual_column_is_recognised(cli: Callable[..., str], decided: tuple[GoogleDemo, str]) -> None:
    demo, forced = decided
    col, _ = demo.table()
    demo.server.state.owner_update_values(demo.key, f"Clients!{letter(col['manual_category'])}1",
                                          [["Ручная категория"]])
    width = len(demo.values()[0])
    out = cli("sync", "--config", str(demo.config), code=0)
    assert "recognised as manual_category" in out
    assert dict(crm_all(demo))[7] == forced and len(demo.values()[0]) == width


def test_a_deleted_manual_column_comes_back(cli: Callable[..., str], decided: tuple[GoogleDemo, str]) -> None:
    demo, forced = decided
    col, _ = demo.table()
    demo.server.state.owner_batch_update(demo.key, [{"deleteDimension": {"range": {
        "sheetId": sheet_id(demo), "dimension": "COLUMNS", "startIndex": col["manual_category"],
        "endIndex": col["manual_category"] + 1}}}])
    out = cli("sync", "--config", str(demo.config), code=0)
    assert "Column manual_category was missing" in out
    col2, rows = demo.table()
    assert rows["7"][col2["manual_category"]] == forced and dict(crm_all(demo))[7] == forced


def test_a_copied_row_with_a_manual_a_never_reaches_the_crm(cli: Callable[..., str],
                                                           decided: tuple[GoogleDemo, str]) -> None:
    demo, forced = decided
    values = demo.values()
    col = {h: i for i, h in enumerate(values[0])}
    copy = next(list(r) for r in values if str(r[col["id"]]) == "7")
    copy += [""] * (len(values[0]) - len(copy))
    copy[col["manual_category"]] = "A"
    demo.server.state.owner_insert_rows(demo.key, "Clients", 1, 1)
    demo.server.state.owner_update_values(demo.key, "Clients!A2", [copy], value_input_option="RAW")
    out = cli("sync", "--config", str(demo.config), code=1)  # 1: the copied rows are not updated
    assert "is in rows 2, " in out
    assert dict(crm_all(demo))[7] == forced
