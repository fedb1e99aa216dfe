"""The workbook backend keeps what the owner made; text stays text; a changed file is re-read."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference
from openpyxl.drawing.image import Image
from PIL import Image as PILImage

from sheets_sync.errors import ConcurrentEditError
from sheets_sync.sheets.base import TabWrite, WriteBatch
from sheets_sync.sheets.workbook import WorkbookSheet, _umask


def _owner_extras(path: Path) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb.create_sheet("Charts")
    for i in range(1, 6):
        ws.append([f"m{i}", i * 10])
    chart = BarChart()
    chart.add_data(Reference(ws, min_col=2, min_row=1, max_row=5))
    ws.add_chart(chart, "D2")
    buf = io.BytesIO()
    PILImage.new("RGB", (20, 10), "red").save(buf, format="PNG")
    buf.seek(0)
    ws.add_image(Image(buf), "D20")
    ws["A10"] = "=SUM(B1:B5)"
    wb["Clients"].column_dimensions["B"].width = 77
    wb.save(path)


def test_sync_keeps_charts_images_formulas_and_widths(cli: Callable[..., str], tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "30", code=0)
    book = folder / "clients.xlsx"
    _owner_extras(book)
    import sqlite3

    with sqlite3.connect(folder / "crm.sqlite") as db:
        db.execute("UPDATE companies SET revenue_rub = 1, costs_rub = 50 WHERE id = 2")
    cli("sync", "--config", str(folder / "sheets-sync.toml"), code=None)
    wb = openpyxl.load_workbook(book)
    ws = wb["Charts"]
    assert len(ws._charts) == 1 and len(ws._images) == 1
    assert ws["A10"].value == "=SUM(B1:B5)"
    assert wb["Clients"].column_dimensions["B"].width == 77
    assert wb["Clients"].freeze_panes == "A2"
    assert wb["Clients"].data_validations.dataValidation  # the manual_category dropdown
    assert wb["Legend"]["A2"].value == "EEE"


def test_text_that_looks_like_a_formula_stays_text(cli: Callable[..., str], tmp_path: Path) -> None:
    path = tmp_path / "w.xlsx"
    sheet = WorkbookSheet(path)
    sheet.read(["T"])
    sheet.write(WriteBatch([TabWrite("T", ["name"], created=True,
                                     appends=[['=HYPERLINK("http://x","y")'], ["+7 495 123"]])]))
    ws = openpyxl.load_workbook(path)["T"]
    assert ws["A2"].data_type == "s" and ws["A2"].value == '=HYPERLINK("http://x","y")'
    assert ws["A3"].value == "+7 495 123"


def test_changed_on_disk_is_not_overwritten(cli: Callable[..., str], tmp_path: Path) -> None:
    path = tmp_path / "w.xlsx"
    first = WorkbookSheet(path)
    first.read(["T"])
    first.write(WriteBatch([TabWrite("T", ["id"], created=True, appends=[["1"]])]))
    ours = WorkbookSheet(path)
    ours.read(["T"])
    wb = openpyxl.load_workbook(path)  # the owner saves meanwhile
    wb["T"]["B1"] = "owner"
    wb.save(path)
    with pytest.raises(ConcurrentEditError):
        ours.write(WriteBatch([TabWrite("T", ["id"], updates=[(1, 0, "2")])]))
    assert openpyxl.load_workbook(path)["T"]["B1"].value == "owner"


def test_guard_refuses_a_row_that_holds_another_client(cli: Callable[..., str], tmp_path: Path) -> None:
    path = tmp_path / "w.xlsx"
    sheet = WorkbookSheet(path)
    sheet.read(["T"])
    sheet.write(WriteBatch([TabWrite("T", ["id", "x"], created=True, appends=[["1", "a"], ["2", "b"]])]))
    sheet.read(["T"])
    with pytest.raises(ConcurrentEditError, match="row 2 holds client 1, was 2"):
        sheet.write(WriteBatch([TabWrite("T", ["id", "x"], guard_col=0, guard={1: "2"},
                                         updates=[(1, 1, "z")])]))


def test_guard_refuses_a_header_that_moved(tmp_path: Path) -> None:
    path = tmp_path / "w.xlsx"
    sheet = WorkbookSheet(path)
    sheet.read(["T"])
    sheet.write(WriteBatch([TabWrite("T", ["id", "x", "notes"], created=True, appends=[["1", "a", "n"]])]))
    sheet.read(["T"])
    # planned on a header where column 2 was 'y': an owner inserted or renamed a column
    with pytest.raises(ConcurrentEditError, match="column 2 of the header row is now 'x', was 'y'"):
        sheet.write(WriteBatch([TabWrite("T", ["id", "y", "notes"], guard_col=0, guard={1: "1"},
                                         read_header=["id", "y", "notes"], updates=[(1, 1, "z")])]))
    sheet.read(["T"])
    sheet.write(WriteBatch([TabWrite("T", ["id", "x", "notes"], guard_col=0, guard={1: "1"},
                                     read_header=["id", "x", "notes"], updates=[(1, 1, "z")])]))
    assert sheet.read(["T"])["T"] == [["id", "x", "notes"], ["1", "z", "n"]]


def test_saving_keeps_the_files_permissions(tmp_path: Path) -> None:
    path = tmp_path / "w.xlsx"
    sheet = WorkbookSheet(path)
    sheet.read(["T"])
    sheet.write(WriteBatch([TabWrite("T", ["id"], created=True, appends=[["1"]])]))
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    path.chmod(0o664)
    sheet.read(["T"])
    sheet.write(WriteBatch([TabWrite("T", ["id"], updates=[(1, 0, "2")])]))
    assert path.stat().st_mode & 0o777 == 0o664
