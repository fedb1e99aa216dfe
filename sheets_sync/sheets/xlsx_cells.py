"""The values of an ``.xlsx`` workbook's sheets, read straight from the sheet XML.

:func:`read_grids` returns what ``openpyxl.load_workbook(path)`` followed by
``ws.iter_rows(values_only=True)`` returns, value for value: rows 1 to the last row that has a
cell (a cell with only a style counts, as in openpyxl), each padded with ``None`` to the last
column; text as ``str`` (shared or inline strings, rich text joined, phonetic runs left out),
numbers as ``int`` or ``float`` as written, ``datetime``/``time``/``timedelta`` for cells
whose number format is a date or duration (openpyxl's own test of the format), booleans,
error codes as text (``"#N/A"``), a formula as its text (``"=SUM(A1:A3)"``; a shared
formula translated to its cell, an array formula as openpyxl's ``ArrayFormula``). An empty
tab is ``[]``, as openpyxl gives it.

It never builds an object model: each sheet's ``sheetData`` is scanned with regular
expressions (about 10x faster than ``load_workbook`` and a fraction of its memory), the
styles with openpyxl's own stylesheet reader (a small part). :class:`Book` also keeps what a
patch of the same file needs: the zip member of each tab, its last row and column.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from openpyxl.styles.stylesheet import Stylesheet
from openpyxl.utils import column_index_from_string
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel, from_ISO8601
from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

from ..xlsx_template import _NS, REL

Grid = list[list[Any]]

_CELL = re.compile(r"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_ANY_ATTR = re.compile(r'([\w:]+)\s*=\s*"([^"]*)"')
_T = re.compile(r"<t\b[^>]*?(?:/>|>(.*?)</t>)", re.S)
_RPH = re.compile(r"<rPh\b.*?</rPh>", re.S)
_F = re.compile(r"<f\b([^>]*?)(?:/>|>(.*?)</f>)", re.S)
_V = re.compile(r"<v>(.*?)</v>", re.S)
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_SI = re.compile(r"<si>(.*?)</si>|<si/>", re.S)


def unescape(text: str) -> str:
    """XML character data as a parser gives it (entities resolved, line ends normalised)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "&" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        e = m.group(1)
        if e[0] == "#":
            return chr(int(e[2:], 16) if e[1] in "xX" else int(e[1:]))
        return _NAMED[e]

    return _ENTITY.sub(one, text)


def _text(body: str) -> str:
    """The text of an ``<si>`` or ``<is>``: its ``<t>`` runs, phonetic runs left out."""
    if "<rPh" in body:
        body = _RPH.sub("", body)
    return unescape("".join(m.group(1) or "" for m in _T.finditer(body)))


@dataclass
class Tab:
    name: str
    member: str  # the zip member of its sheet XML
    max_row: int = 0  # 1-based; 0 when the tab has no cell
    max_col: int = 0


class Book:
    """The parts of a workbook that reading values needs: tabs, shared strings, date styles."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.names = set(zf.namelist())
        workbook = zf.read("xl/workbook.xml")
        root = ET.fromstring(workbook)
        rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("p:Relationship", _NS)}
        self.tabs: dict[str, Tab] = {}
        for s in root.findall("m:sheets/m:sheet", _NS):
            target = targets.get(s.get(f"{{{REL}}}id"), "")
            target = target.lstrip("/") if target.startswith("/") else "xl/" + target
            target = re.sub(r"[^/]+/\.\./", "", target)
            self.tabs[s.get("name", "")] = Tab(s.get("name", ""), target)
        pr = root.find("m:workbookPr", _NS)
        date1904 = pr is not None and pr.get("date1904", "").lower() in ("1", "true")
        self.epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900
        self.date_styles: frozenset[int] = frozenset()
        self.timedelta_styles: frozenset[int] = frozenset()
        if "xl/styles.xml" in self.names:
            sheet = Stylesheet.from_tree(ET.fromstring(zf.read("xl/styles.xml")))
            self.date_styles = frozenset(sheet.date_formats)
            self.timedelta_styles = frozenset(sheet.timedelta_formats)
        self._shared: list[str] | None = None
        #: date cells read so far, by (value, style): a sheet repeats its dates (not one per chunk)
        self.dates: dict[tuple[bytes, bytes], Any] = {}

    @property
    def shared(self) -> list[str]:
        if self._shared is None:
            self._shared = []
            if "xl/sharedStrings.xml" in self.names:
                xml = self.zf.read("xl/sharedStrings.xml").decode("utf-8")
                self._shared = [_text(m.group(1) or "").replace("x005F_", "") for m in _SI.finditer(xml)]
        return self._shared

    def grid(self, tab: str, head: int | None = None) -> Grid:
        """The values of one tab (see the module docstring); sets the tab's last row and column.

        With ``head``, only the first ``head`` rows are returned (the cells after them are not
        read; the tab's last row is still found, for appends)."""
        xml = self.zf.read(self.tabs[tab].member)  # bytes: matched as such, a third of a str's memory
        m = re.search(rb"<sheetData\s*/>|<sheetData\b[^>]*>", xml)
        start = m.end() if m and not m.group(0).endswith(b"/>") else 0
        end = xml.find(b"</sheetData>", start) if start else 0
        rows: Grid = []
        max_col = 0
        shared_formulae: dict[str, Any] = {}
        while start < end:  # a chunk of whole rows at a time: the matches of one chunk in memory
            stop = xml.find(b"</row>", min(start + CHUNK, end), end)
            stop = end if stop < 0 else stop + 6
            max_col = max(max_col, _fill(rows, xml, start, stop, self, shared_formulae))
            start = stop
            if head is not None and len(rows) > head and start < end:
                last = _last_row(xml, start, end)
                if last is not None:  # the rest is not read: only where it ends
                    info = self.tabs[tab]
                    info.max_row, info.max_col = max(len(rows), last), max_col
                    del rows[head:]
                    return _padded(rows, max_col)
        info = self.tabs[tab]
        info.max_row, info.max_col = len(rows), max_col
        if head is not None:
            del rows[head:]
        return _padded(rows, max_col)


def _last_row(xml: bytes, start: int, end: int) -> int | None:
    """The row of the last cell in ``xml[start:end]`` (``None``: a cell without its ``r``)."""
    i = max(xml.rfind(b"<c ", start, end), xml.rfind(b"<c>", start, end), xml.rfind(b"<c/", start, end))
    if i < 0:
        return 0
    m = _CELL_ROW.match(xml, i)
    return int(m.group(1)) if m else None


_CELL_ROW = re.compile(rb'<c\b[^>]*?\br="[A-Z]{1,3}(\d+)"')


def _padded(rows: Grid, max_col: int) -> Grid:
    width = max(max_col, 1)
    for line in rows:
        if len(line) < width:
            line.extend([None] * (width - len(line)))
    return rows


CHUNK = 1 << 20
_FAST = re.compile(
    rb'<c r="([A-Z]{1,3})(\d+)"(?: s="(\d+)")?(?: t="(\w+)")? ?'
    rb'(?:/>|>(?:<v>([^<]*)</v>|<is><t(?: xml:space="preserve")?>([^<]*)</t></is>|(.*?))</c>)', re.S)
_COLUMNS: dict[str, int] = {}
_COLUMNS_B: dict[bytes, int] = {}


def _column(letters: str) -> int:
    col = _COLUMNS.get(letters)
    if col is None:
        col = _COLUMNS[letters] = column_index_from_string(letters)
    return col


def _put(rows: Grid, cells: list[tuple[int, int, Any]]) -> int:
    max_col = 0
    for row, col, value in cells:
        while len(rows) < row:
            rows.append([])
        line = rows[row - 1]
        if len(line) < col:
            line.extend([None] * (col - len(line)))
        line[col - 1] = value
        max_col = max(max_col, col)
    return max_col


def _fill(rows: Grid, data: bytes, pos: int, endpos: int, book: Book, shared_formulae: dict[str, Any]) -> int:
    """Put the value of every ``<c>`` of ``data[pos:endpos]`` (whole rows of the sheet XML)
    into ``rows`` (row ``r`` is ``rows[r - 1]``, grown as needed); the last column seen, 1-based.

    The common shapes (``r``, ``s``, ``t`` in this order, a plain ``<v>`` or inline ``<t>``)
    are matched by one expression in C; every cell is counted, and when some cell has
    another shape, the chunk is read by the general loop (:func:`_cells_general`)."""
    found = _FAST.findall(data, pos, endpos)
    if len(found) != data.count(b"<c ", pos, endpos) + data.count(b"<c>", pos, endpos) + data.count(
            b"<c/", pos, endpos):
        return _put(rows, _cells_general(data[pos:endpos].decode("utf-8"), book, shared_formulae))
    dates = {str(i).encode() for i in book.date_styles}
    converted = book.dates
    columns = _COLUMNS_B
    max_col = 0
    last_row = b""
    line: list[Any] = []
    for letters, row_text, style, kind, v, inline, body in found:
        if v:
            if not kind or kind == b"n":
                if style in dates:
                    key = (v, style)
                    value = converted.get(key)
                    if value is None:
                        value = converted[key] = _date(v.decode(), int(style) in book.timedelta_styles, book.epoch)
                else:
                    value = float(v) if (b"." in v or b"E" in v or b"e" in v) else int(v)
            elif kind == b"s":
                value = book.shared[int(v)]
            elif kind == b"b":
                value = v != b"0"
            elif kind == b"d":
                value = from_ISO8601(v.decode())
            else:  # "str", "e"
                value = unescape(v.decode("utf-8"))
        elif inline:
            value = unescape(inline.decode("utf-8")) if kind == b"inlineStr" else None
        elif body:
            value = _value(body.decode("utf-8"), kind.decode() or "n", style.decode() or None, book,
                           f"{letters.decode()}{row_text.decode()}", shared_formulae)
        else:
            value = None
        if row_text != last_row:
            last_row, row = row_text, int(row_text)
            while len(rows) < row:
                rows.append([])
            line = rows[row - 1]
        col = columns.get(letters)
        if col is None:
            col = columns[letters] = _column(letters.decode())
        if len(line) < col:
            line.extend([None] * (col - len(line)))
            if col > max_col:
                max_col = col
        line[col - 1] = value
    return max_col


def _date(text: str, delta: bool, epoch: datetime) -> Any:
    number = float(text) if ("." in text or "E" in text or "e" in text) else int(text)
    try:
        return from_excel(number, epoch, timedelta=delta)
    except (OverflowError, ValueError):
        return "#VALUE!"


def _value(body: str, kind: str, style: str | None, book: Book, coordinate: str,
           shared_formulae: dict[str, Any]) -> Any:
    """The value of a cell of any shape, from its attributes and inner XML."""
    if "<f" in body and (f := _F.search(body)) is not None:
        return _formula(f, coordinate, shared_formulae)
    if kind == "inlineStr":
        return _text(body) if "<is" in body else None
    v = _V.search(body)
    text = v.group(1) if v else None
    if not text:
        return None
    if kind == "n":
        if style and int(style) in book.date_styles:
            return _date(text, int(style) in book.timedelta_styles, book.epoch)
        return float(text) if ("." in text or "E" in text or "e" in text) else int(text)
    if kind == "s":
        return book.shared[int(text)]
    if kind == "b":
        return text != "0"
    if kind == "d":
        return from_ISO8601(text)
    return unescape(text)


def _cells_general(data: str, book: Book, shared_formulae: dict[str, Any]) -> list[tuple[int, int, Any]]:
    """:func:`_cells` for cells of any shape: attributes in any order, no ``r``, formulas."""
    out: list[tuple[int, int, Any]] = []
    row_starts: list[tuple[int, str]] | None = None
    row = col = 0
    for m in _CELL.finditer(data):
        attrs = dict(_ANY_ATTR.findall(m.group(1)))
        ref = attrs.get("r")
        if ref:
            rm = re.fullmatch(r"([A-Z]{1,3})(\d+)", ref)
            if rm is None:
                raise ValueError(f"cell reference {ref!r}")
            col, row = _column(rm.group(1)), int(rm.group(2))
        else:
            if row_starts is None:
                row_starts = [(r.start(), r.group(1)) for r in re.finditer(r"<row\b([^>]*)>", data)]
            row, col = _position(row_starts, m.start(), row, col)
        body = m.group(2)
        value = _value(body, attrs.get("t", "n"), attrs.get("s"), book, f"{_letters(col)}{row}",
                       shared_formulae) if body else None
        out.append((row, col, value))
    return out


def _position(row_starts: list[tuple[int, str]], at: int, row: int, col: int) -> tuple[int, int]:
    """Row and column of a cell without ``r``: the next column in its row (as openpyxl counts)."""
    import bisect

    i = bisect.bisect_right([p for p, _ in row_starts], at) - 1
    if i < 0:
        return row, col + 1
    rm = re.search(r'\br="(\d+)"', row_starts[i][1])
    this_row = int(rm.group(1)) if rm else i + 1
    return (this_row, col + 1) if this_row == row else (this_row, 1)


def _letters(col: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(col)


def _formula(f: re.Match[str], coordinate: str, shared: dict[str, Any]) -> Any:
    attrs = dict(_ANY_ATTR.findall(f.group(1)))
    value = "=" + unescape(f.group(2) or "")
    kind = attrs.get("t")
    if kind == "array":
        return ArrayFormula(ref=attrs.get("ref"), text=value)
    if kind == "shared":
        from openpyxl.formula.translate import Translator

        idx = attrs.get("si")
        if idx in shared:
            return shared[idx].translate_formula(coordinate)
        if value != "=":
            shared[idx] = Translator(value, coordinate)
        return value
    if kind == "dataTable":
        return DataTableFormula(**attrs)
    return value


def read_grids(zf: zipfile.ZipFile, tabs: list[str], head: Mapping[str, int] | None = None
               ) -> tuple[Book, dict[str, Grid | None]]:
    """The values of ``tabs`` (``None`` for a tab the workbook lacks) and the book's index;
    a tab in ``head`` only as far as its first rows (:meth:`Book.grid`)."""
    book = Book(zf)
    head = head or {}
    return book, {tab: book.grid(tab, head.get(tab)) if tab in book.tabs else None for tab in tabs}


