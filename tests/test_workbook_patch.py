"""The workbook is never loaded whole: values read from the sheet XML are openpyxl's, value for
value; a steady-state write patches the sheet XML and leaves every other part byte for byte;
a no-op sync does not touch the file."""

from __future__ import annotations

import sqlite3
import zipfile
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from test_workbook import _owner_extras

from sheets_sync.sheets.base import TabWrite, WriteBatch
from sheets_sync.sheets.workbook import NUMBER_FORMATS, WorkbookSheet
from sheets_sync.sheets.xlsx_cells import read_grids


def _openpyxl_values(path: Path) -> dict[str, list[list[Any]]]:
    wb = openpyxl.load_workbook(path, rich_text=False)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def _ours(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as zf:
        book, grids = read_grids(zf, [*_names(zf)])
    return grids


def _names(zf: zipfile.ZipFile) -> list[str]:
    from sheets_sync.sheets.xlsx_cells import Book

    return list(Book(zf).tabs)


def _replace_parts(path: Path, parts: dict[str, bytes]) -> None:
    """Rewrite the zip with ``parts`` replaced or added."""
    with zipfile.ZipFile(path) as src:
        items = [(i, src.read(i.filename)) for i in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, data in items:
            dst.writestr(info, parts.pop(info.filename, data))
        for name, data in parts.items():
            dst.writestr(name, data)


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


# ----------------------------------------------------------------------------- reading

KINDS: list[tuple[str, Any, str | None]] = [  # (what, value written by openpyxl, number format)
    ("text", "Acme «Ромашка»", None),
    ("text with markup and a newline", 'a < b & "c"\nd', None),
    ("spaces only", "   ", None),
    ("text like a formula", '=HYPERLINK("http://x","y")', "text"),
    ("int", 42, None),
    ("negative float", -1234.5, "#,##0.00"),
    ("tiny float", 1.5e-12, None),
    ("huge float", 1e20, None),
    ("bool true", True, None),
    ("bool false", False, None),
    ("date", date(2026, 2, 28), "DD.MM.YYYY"),
    ("datetime", datetime(2026, 11, 27, 13, 45), "DD.MM.YYYY HH:MM"),
    ("date before 1 March 1900", datetime(1900, 2, 1), "yyyy-mm-dd"),
    ("time", time(7, 30), "h:mm"),
    ("duration", timedelta(hours=30), "[h]:mm"),
    ("number in a date format", 45000, "yyyy-mm-dd"),
    ("formula", "=SUM(B2:B3)", None),
    ("error", "#N/A", None),
    ("empty but styled", None, "0.00"),
]


def _every_kind(path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Kinds"
    for r, (what, value, fmt) in enumerate(KINDS, start=1):
        ws.cell(row=r, column=1, value=what)
        cell = ws.cell(row=r, column=3, value=value)  # column B left empty: padding
        if fmt == "text":
            cell.data_type = "s"
        elif fmt:
            cell.number_format = fmt
    ws.cell(row=len(KINDS) + 3, column=6).number_format = "0.0"  # a styled cell widens the grid
    wb.create_sheet("Empty")
    wb.save(path)


def test_reader_gives_openpyxls_values_for_every_kind(tmp_path: Path) -> None:
    path = tmp_path / "kinds.xlsx"
    _every_kind(path)
    want, got = _openpyxl_values(path), _ours(path)
    assert got["Empty"] == want["Empty"] == []
    assert len(got["Kinds"]) == len(want["Kinds"]) == len(KINDS) + 3
    for r, (what, _, _) in enumerate(KINDS):
        g, w = got["Kinds"][r], want["Kinds"][r]
        assert g == w and [type(v) for v in g] == [type(v) for v in w], what
    assert got == want


_SHEET = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:E6"/><sheetData>
<row r="1" spans="1:5"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>
 <c t="s" r="C1" s="0"><v>2</v></c><c r="D1" t="str"><f>A1&amp;"x"</f><v>plainx</v></c></row>
<row r="2"><c r="A2"><v>1</v></c><c r="B2"><f t="shared" ref="B2:B4" si="0">A2*2</f><v>2</v></c></row>
<row r="3"><c r="A3"><v>2.5</v></c><c r="B3"><f t="shared" si="0"/><v>5</v></c><c r="C3" t="e"><v>#DIV/0!</v></c></row>
<row r="4"><c r="A4"><v>3</v></c><c r="B4"><f t="shared" si="0"/><v>6</v></c>
 <c r="C4" t="inlineStr"><is><r><t>rich </t></r><r><rPr><b/></rPr><t xml:space="preserve">inline&#10;</t></r></is></c>
</row>
<row r="5"><c><v>7</v></c><c><v>8</v></c><c r="E5" t="d"><v>2026-03-01T10:00:00</v></c></row>
<row r="6"><c r="A6" t="b"><v>1</v></c><c r="B6"><f t="array" ref="B6">SUM(A2:A4*2)</f><v>13</v></c></row>
</sheetData></worksheet>"""
_STRINGS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="3" uniqueCount="3">
<si><t>plain</t></si><si><r><t>ri</t></r><r><rPr><i/></rPr><t>ch</t></r><rPh sb="0" eb="1"><t>ふり</t></rPh></si>
<si><t xml:space="preserve"> CRLF&#13;&#10;x_x005F_ </t></si></sst>"""


def test_reader_gives_openpyxls_values_for_every_shape_of_xml(tmp_path: Path) -> None:
    """Shared strings (rich, phonetic), attributes in another order, cells without a reference,
    shared and array formulas, ``str``/``e``/``d``/``b`` cells: as Excel and LibreOffice write them."""
    path = tmp_path / "shapes.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "S"
    wb.save(path)
    with zipfile.ZipFile(path) as zf:
        types = zf.read("[Content_Types].xml").decode()
        rels = zf.read("xl/_rels/workbook.xml.rels").decode()
    types = types.replace("</Types>", '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                          'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    rels = rels.replace("</Relationships>", '<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/'
                        'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
    _replace_parts(path, {"xl/worksheets/sheet1.xml": _SHEET.encode(), "xl/sharedStrings.xml": _STRINGS.encode(),
                          "[Content_Types].xml": types.encode(), "xl/_rels/workbook.xml.rels": rels.encode()})
    want, got = _openpyxl_values(path)["S"], _ours(path)["S"]
    for r, (g, w) in enumerate(zip(got, want, strict=True)):
        assert [_shown(v) for v in g] == [_shown(v) for v in w], f"row {r + 1}"


def _shown(v: Any) -> tuple[type, str]:
    return type(v), f"{v.ref} {v.text}" if hasattr(v, "ref") else str(v)


def test_reader_matches_openpyxl_on_the_demo_workbook(cli: Callable[..., str], tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "60")
    book = folder / "clients.xlsx"
    _owner_extras(book)
    assert _ours(book) == _openpyxl_values(book)


# ----------------------------------------------------------------------------- writing

def _workbook(tmp_path: Path) -> tuple[Path, WorkbookSheet]:
    path = tmp_path / "w.xlsx"
    sheet = WorkbookSheet(path)
    sheet.read(["T"])
    sheet.write(WriteBatch([TabWrite("T", ["id", "name", "revenue", "since", "notes"], created=True,
                                     appends=[["1", "a", 10.5, date(2026, 1, 2), "n"], ["2", "b", 3, None, None]],
                                     kinds={2: "money"})]))
    assert sheet.path_taken == "openpyxl"  # a new tab: structure
    return path, sheet


def test_steady_write_is_a_patch_that_keeps_every_other_part(tmp_path: Path) -> None:
    path, sheet = _workbook(tmp_path)
    _owner_extras_on(path)
    custom = b'<?xml version="1.0"?><owner xmlns="urn:owner">kept byte for byte</owner>'
    _replace_parts(path, {"customXml/item1.xml": custom})
    before = _parts(path)
    sheet.read(["T"])
    sheet.write(WriteBatch([TabWrite(
        "T", ["id", "name", "revenue", "since", "notes"], guard_col=0, guard={1: "1", 2: "2"},
        read_header=["id", "name", "revenue", "since", "notes"], kinds={2: "money"},
        updates=[(1, 1, '=HYPERLINK("http://x","y")'), (1, 2, 99.25), (2, 3, datetime(2026, 5, 6, 7, 8)),
                 (2, 2, None), (2, 4, True)],
        appends=[["3", "c & <d>", 7, date(2026, 3, 4), None]])]))
    assert sheet.path_taken == "patch"
    after = _parts(path)
    changed = {n for n in before if before[n] != after.get(n)}
    assert changed <= {"xl/worksheets/sheet1.xml", "xl/styles.xml"}, changed
    assert after["customXml/item1.xml"] == custom and set(after) == set(before)
    wb = openpyxl.load_workbook(path)
    ws = wb["T"]
    assert ws["B2"].value == '=HYPERLINK("http://x","y")' and ws["B2"].data_type == "s"
    assert ws["C2"].value == 99.25 and ws["C2"].number_format == NUMBER_FORMATS["money"]
    assert ws["D3"].value == datetime(2026, 5, 6, 7, 8) and ws["D3"].number_format == NUMBER_FORMATS["datetime"]
    assert ws["C3"].value is None and ws["E3"].value is True
    assert [c.value for c in ws[4]] == ["3", "c & <d>", 7, datetime(2026, 3, 4), None]
    assert ws["D4"].number_format == NUMBER_FORMATS["date"] and ws["C4"].number_format == NUMBER_FORMATS["money"]
    assert len(wb["Charts"]._charts) == 1 and wb["Charts"]["A10"].value == "=SUM(B1:B5)"
    assert sheet.read(["T"])["T"] == [[c.value for c in row] for row in ws.iter_rows()]


def _owner_extras_on(path: Path) -> None:
    wb = openpyxl.load_workbook(path)
    wb.create_sheet("Clients")
    wb.save(path)
    _owner_extras(path)


def test_patch_keeps_the_guard_and_the_stamp(tmp_path: Path) -> None:
    from sheets_sync.errors import ConcurrentEditError

    path, sheet = _workbook(tmp_path)
    sheet.read(["T"])
    with pytest.raises(ConcurrentEditError, match="row 2 holds client 1, was 2"):
        sheet.write(WriteBatch([TabWrite("T", ["id"], guard_col=0, guard={1: "2"}, updates=[(1, 1, "z")])]))
    sheet.read(["T"])
    _replace_parts(path, {"docProps/custom.xml": b"<x/>"})  # someone saved meanwhile
    with pytest.raises(ConcurrentEditError, match="changed on disk"):
        sheet.write(WriteBatch([TabWrite("T", ["id"], updates=[(1, 1, "z")])]))
    assert sheet.read(["T"])["T"][1][1] == "a"


def test_a_no_op_sync_does_not_touch_the_file_and_a_steady_one_patches(
        cli: Callable[..., str], tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "40")
    book = folder / "clients.xlsx"
    _owner_extras(book)
    custom = b'<?xml version="1.0"?><owner xmlns="urn:owner">pivot-like part</owner>'
    _replace_parts(book, {"customXml/item1.xml": custom})
    config = str(folder / "sheets-sync.toml")
    cli("sync", "--config", config, code=None)  # the layout is settled by openpyxl if it needs to be
    stamp, before = book.stat().st_mtime_ns, _parts(book)
    cli("sync", "--config", config, code=None)
    assert book.stat().st_mtime_ns == stamp and _parts(book) == before

    with sqlite3.connect(folder / "crm.sqlite") as db:
        db.execute("UPDATE companies SET revenue_rub = 1, costs_rub = 50 WHERE id = 2")
    cli("sync", "--config", config, code=None)
    after = _parts(book)
    with zipfile.ZipFile(book) as zf:
        from sheets_sync.sheets.xlsx_cells import Book

        members = {t.member for name, t in Book(zf).tabs.items() if name in ("Clients", "History", "Summary")}
    changed = {n for n in before if before[n] != after.get(n)}
    assert changed and changed <= members | {"xl/styles.xml"}, changed
    assert set(after) == set(before) and after["customXml/item1.xml"] == custom
    assert _ours(book) == _openpyxl_values(book)


_GAPS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:B3"/><sheetData>
<row r="1" spans="1:2"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>x</t></is></c></row>
<row spans="1:2" r="3"><c r="A3" t="inlineStr"><is><t>3</t></is></c><c r="B3"><f>1+1</f><v>2</v></c></row>
<row r="6" ht="30" customHeight="1"/>
</sheetData></worksheet>"""


def test_patch_puts_rows_in_gaps_in_order_and_keeps_row_attributes(tmp_path: Path) -> None:
    """Rows written into a gap, into a row whose ``r`` is not first, into a row element with
    no cells past the last one, and after it; a value replacing a formula drops the calcChain."""
    path = tmp_path / "gaps.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "T"
    wb.save(path)
    with zipfile.ZipFile(path) as zf:
        types = zf.read("[Content_Types].xml").decode().replace("</Types>", (
            '<Override PartName="/xl/calcChain.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"/></Types>'))
        rels = zf.read("xl/_rels/workbook.xml.rels").decode().replace("</Relationships>", (
            '<Relationship Id="rIdC" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/calcChain" Target="calcChain.xml"/></Relationships>'))
    _replace_parts(path, {"xl/worksheets/sheet1.xml": _GAPS.encode(), "[Content_Types].xml": types.encode(),
                          "xl/_rels/workbook.xml.rels": rels.encode(),
                          "xl/calcChain.xml": b'<calcChain xmlns="http://schemas.openxmlformats.org/'
                                              b'spreadsheetml/2006/main"><c r="B3" i="1"/></calcChain>'})
    sheet = WorkbookSheet(path)
    assert sheet.read(["T"])["T"] == [["id", "x"], [None, None], ["3", "=1+1"]]
    sheet.write(WriteBatch([TabWrite("T", [], updates=[(1, 0, "2"), (2, 1, 5)],
                                     appends=[["4", None], ["5"], ["6", "f"]])]))
    assert sheet.path_taken == "patch"
    with zipfile.ZipFile(path) as zf:
        xml = zf.read("xl/worksheets/sheet1.xml").decode()
        assert "xl/calcChain.xml" not in zf.namelist()
        assert b"calcChain" not in zf.read("[Content_Types].xml") + zf.read("xl/_rels/workbook.xml.rels")
    numbers = [int(n) for n in __import__("re").findall(r'<row\b[^>]*?\br="(\d+)"', xml)]
    assert numbers == sorted(numbers) == [1, 2, 3, 4, 5, 6]
    assert 'r="6" ht="30" customHeight="1"' in xml and '<dimension ref="A1:B6"/>' in xml
    assert _openpyxl_values(path)["T"] == [["id", "x"], ["2", None], ["3", 5], ["4", None], ["5", None],
                                           ["6", "f"]]
