"""Explanation in place in Google Sheets: the reason as a note on each category cell (written
when it changes), computed columns protected with a warning, in the sheet's language."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from .conftest import GoogleDemo


def _notes(demo: GoogleDemo, col: int) -> dict[int, str]:
    sheet = demo.server.state.get_spreadsheet(demo.key).sheet_by_title("Clients")
    out = {}
    for r in range(1, 200):
        cell = sheet.cell(r, col)
        if cell is not None and cell.note:
            out[r] = cell.note
    return out


def _note_requests(demo: GoogleDemo) -> int:
    return sum(1 for e in demo.server.state.request_log if e.action == "spreadsheets.batchUpdate"
               and "updateCells" in str(getattr(e, "body", "")))


def test_reasons_are_notes_on_the_category_cells(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    cli("sync", "--config", str(google_demo.config), code=0)
    col, rows = google_demo.table()
    values = google_demo.values()
    notes = _notes(google_demo, col["category"])
    assert len(notes) == 60
    for r, note in notes.items():
        assert note == values[r][col["reason"]]
    sheet = google_demo.server.state.get_spreadsheet(google_demo.key).sheet_by_title("Clients")
    protected = {p["range"]["startColumnIndex"]: p for p in sheet.protected_ranges}
    for name in ("category", "rule_category", "reason", "profit", "roi_pct"):
        assert protected[col[name]]["warningOnly"] is True
        assert protected[col[name]]["description"].startswith("sheets-sync: computed")
    for name in ("manual_category", "notes", "revenue"):
        assert col[name] not in protected

    # one client's revenue changes in the CRM: only its note is written again
    target = next(cid for cid, r in rows.items() if r[col["category"]] == "D")
    with sqlite3.connect(google_demo.folder / "crm.sqlite") as db:
        db.execute("UPDATE companies SET costs_rub = 1, revenue_rub = 100000000 WHERE id = ?", (int(target),))
    google_demo.server.state.clear_log()
    cli("sync", "--config", str(google_demo.config), code=0)
    writes = [e for e in google_demo.server.state.request_log if e.action == "spreadsheets.batchUpdate"]
    assert len(writes) == 1
    values = google_demo.values()
    line = next(i for i, r in enumerate(values) if str(r[col["id"]]) == target)
    assert _notes(google_demo, col["category"])[line] == values[line][col["reason"]]
    assert values[line][col["reason"]].startswith("A")

    google_demo.server.state.clear_log()  # nothing changed: no note written, one request
    cli("sync", "--config", str(google_demo.config), code=0)
    assert google_demo.actions() == ["values.batchGet"]
    assert len(sheet.protected_ranges) == len(protected)  # not added twice


def test_notes_and_protection_in_russian(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    text = google_demo.config.read_text(encoding="utf-8")
    google_demo.config.write_text(text.replace('language = "en"', 'language = "ru"'), encoding="utf-8")
    cli("sync", "--config", str(google_demo.config), code=0)
    values = google_demo.values()
    header = values[0]
    cat = header.index("Категория")
    notes = _notes(google_demo, cat)
    assert any("не подошёл ни под одну категорию выше" in n for n in notes.values())
    sheet = google_demo.server.state.get_spreadsheet(google_demo.key).sheet_by_title("Clients")
    assert all("перезаписываются" in p["description"] for p in sheet.protected_ranges)
