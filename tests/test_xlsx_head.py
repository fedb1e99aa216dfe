"""Reading only the first rows of a tab (the History tab at a sync): the rows are the first
rows of a whole read, and rows appended after such a read land after the tab's real last row."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl

from sheets_sync.sheets.base import TabWrite, WriteBatch
from sheets_sync.sheets.workbook import WorkbookSheet
from sheets_sync.sheets.xlsx_cells import read_grids


def _book(path: Path, rows: int) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "History"
    ws.append(["changed_at", "id", "seq"])
    for i in range(rows):
        ws.append([f"2026-11-{1 + i % 28:02d}", str(i), str(i + 1)])
    wb.save(path)


def test_the_first_rows_of_a_tab_and_where_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    _book(path, 20_000)  # more than one chunk of the sheet XML
    with zipfile.ZipFile(path) as zf:
        _, whole = read_grids(zf, ["History"])
        book, head = read_grids(zf, ["History", "Missing"], head={"History": 50})
    assert head["History"] == whole["History"][:50]
    assert head["Missing"] is None
    assert book.tabs["History"].max_row == 20_001


def test_rows_appended_after_reading_the_first_rows_go_after_the_last(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    _book(path, 20_000)
    sheet = WorkbookSheet(path)
    assert len(sheet.read(["History"], head={"History": 10})["History"]) == 10
    appended = [["2026-11-30", "x", "20001"]]
    sheet.write(WriteBatch([TabWrite("History", ["changed_at", "id", "seq"], appends=appended)]))
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = list(wb["History"].iter_rows(values_only=True))
    wb.close()
    assert len(rows) == 20_002
    assert rows[-1] == ("2026-11-30", "x", "20001") and rows[-2] == ("2026-11-08", "19999", "20000")
