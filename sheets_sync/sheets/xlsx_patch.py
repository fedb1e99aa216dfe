"""A sync's cell changes written as a patch of the sheet XML inside the ``.xlsx`` zip.

:func:`plan_patch` says whether a :class:`~sheets_sync.sheets.base.WriteBatch` is only cell
values, live formulas and appended rows on tabs that exist (the steady state of a sync); if
so, :func:`write_patch` copies the workbook's zip with the changed rows of those tabs'
``sheetData`` rewritten and every other part copied as it is: pivot tables, slicers, macros,
charts and whatever else the file holds stay byte for byte. The only other parts that may
change: ``styles.xml`` (a cell format added when a number or date needs one the cell's
style lacks: the cell's own style with the number format replaced), ``workbook.xml`` (full
recalculation on load turned on, so formulas over the changed cells recompute; an
openpyxl-written workbook has it already) and ``calcChain.xml``, dropped only when a value
replaced a formula (Excel rebuilds it; a stale chain makes it "repair" the file).

Text is written as inline strings (``t="inlineStr"``): the shared-string table is left as it
is, so a patch never rewrites or re-indexes it; Excel and LibreOffice read inline strings and
turn them into shared ones on their next save. Text that looks like a formula stays text.
"""

from __future__ import annotations

import math
import numbers
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl.styles.numbers import BUILTIN_FORMATS_REVERSE
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

from ..xlsx_template import _escape, full_calc_on_load
from .base import TabWrite, WriteBatch
from .xlsx_cells import Book, Grid

_ROW = re.compile(rb"<row\b([^>]*?)(/>|>(.*?)</row>)", re.S)
_CELL = re.compile(r"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_REF = re.compile(r'\br="([A-Z]{1,3})(\d+)"')
_STYLE = re.compile(r'\bs="(\d+)"')


class Unpatchable(Exception):
    """The sheet XML has a shape the patch does not handle: write with openpyxl instead."""


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | date):
        return True
    return isinstance(value, numbers.Number) and not isinstance(value, complex)


def patch_refusal(batch: WriteBatch, book: Book | None) -> str | None:
    """Why ``batch`` needs the openpyxl path, or ``None`` when a patch can write it."""
    if book is None:
        return "no workbook yet"
    for tw in batch.tabs:
        if tw.empty:
            continue
        if tw.tab not in book.tabs or tw.created:
            return f"new tab {tw.tab}"
        if tw.new_columns:
            return f"new columns in {tw.tab}"
        if tw.layout is not None:
            return f"the layout of {tw.tab}"
        if tw.names:
            return "defined names"
        if tw.chart and not has_chart(book, tw.tab):
            return f"a chart on {tw.tab}"
        values = [v for _, _, v in tw.updates] + [v for row in tw.appends for v in row]
        if not all(_plain(v) for v in values):
            return "a value of another type"
    return None


def has_chart(book: Book, tab: str) -> bool:
    """Whether the tab has a drawing with a chart (the sync adds its chart only to a tab with none)."""
    member = book.tabs[tab].member
    folder, name = member.rsplit("/", 1)
    rels = f"{folder}/_rels/{name}.rels"
    if rels not in book.names:
        return False
    for target in re.findall(r'Type="[^"]*/drawing"[^>]*Target="([^"]+)"|Target="([^"]+)"[^>]*Type="[^"]*/drawing"',
                             book.zf.read(rels).decode("utf-8")):
        path = _resolve(folder, target[0] or target[1])
        d_folder, d_name = path.rsplit("/", 1)
        d_rels = f"{d_folder}/_rels/{d_name}.rels"
        if d_rels in book.names and "/chart" in book.zf.read(d_rels).decode("utf-8"):
            return True
    return False


def _resolve(folder: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    parts = folder.split("/")
    for piece in target.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


class Styles:
    """``styles.xml`` with cell formats added: a cell's own format with another number format."""

    def __init__(self, xml: str) -> None:
        self.xml = xml
        section = re.search(r"<cellXfs\b[^>]*>(.*?)</cellXfs>", xml, re.S)
        if section is None:
            raise Unpatchable("styles.xml has no cellXfs")
        self.xfs = re.findall(r"<xf\b[^>]*?(?:/>|>.*?</xf>)", section.group(1), re.S)
        self.count = len(self.xfs)
        self.formats = {_unquote(code): int(i) for i, code in re.findall(
            r'<numFmt\b[^>]*?numFmtId="(\d+)"[^>]*?formatCode="([^"]*)"', xml)}
        self.new_formats: list[tuple[int, str]] = []
        self.cache: dict[tuple[int, str], int] = {}

    @property
    def changed(self) -> bool:
        return len(self.xfs) != self.count

    def format_id(self, code: str) -> int:
        if code in BUILTIN_FORMATS_REVERSE:
            return int(BUILTIN_FORMATS_REVERSE[code])
        if code not in self.formats:
            number = max([163, *self.formats.values()]) + 1
            self.formats[code] = number
            self.new_formats.append((number, code))
        return self.formats[code]

    def with_format(self, style: int, code: str) -> int:
        """The index of a cell format like ``style`` with the number format ``code``."""
        key = (style, code)
        if key in self.cache:
            return self.cache[key]
        fmt = self.format_id(code)
        base = self.xfs[style] if style < len(self.xfs) else self.xfs[0]
        have = re.search(r'\bnumFmtId="(\d+)"', base)
        if have is not None and int(have.group(1)) == fmt:
            self.cache[key] = style
            return style
        if have is not None:
            wanted = base.replace(have.group(0), f'numFmtId="{fmt}"', 1)
        else:
            wanted = base.replace("<xf", f'<xf numFmtId="{fmt}"', 1)
        if "applyNumberFormat" not in wanted:
            wanted = wanted.replace("<xf", '<xf applyNumberFormat="1"', 1)
        index = self.xfs.index(wanted) if wanted in self.xfs else -1
        if index < 0:
            index = len(self.xfs)
            self.xfs.append(wanted)
        self.cache[key] = index
        return index

    def result(self) -> str:
        xml = self.xml
        if self.new_formats:
            entries = "".join(f'<numFmt numFmtId="{i}" formatCode="{_escape(c)}"/>' for i, c in self.new_formats)
            m = re.search(r'<numFmts\b[^>]*count="(\d+)"[^>]*>', xml)
            if m:
                head = m.group(0).replace(f'count="{m.group(1)}"', f'count="{int(m.group(1)) + len(self.new_formats)}"')
                xml = xml[:m.start()] + head + xml[m.end():]
                xml = xml.replace("</numFmts>", entries + "</numFmts>", 1)
            else:
                at = re.search(r"<styleSheet\b[^>]*>", xml)
                assert at is not None
                xml = (xml[:at.end()] + f'<numFmts count="{len(self.new_formats)}">{entries}</numFmts>'
                       + xml[at.end():])
        added = self.xfs[self.count:]
        if added:
            xml = re.sub(r'(<cellXfs\b[^>]*count=")\d+', rf"\g<1>{len(self.xfs)}", xml, count=1)
            xml = xml.replace("</cellXfs>", "".join(added) + "</cellXfs>", 1)
        return xml


def _unquote(text: str) -> str:
    return (text.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
            .replace("&apos;", "'").replace("&amp;", "&"))


@dataclass
class _Change:
    value: Any = None
    kind: str | None = None
    formula: str | None = None


@dataclass
class TabPatch:
    """The cells to write into one tab: row -> column -> change, 1-based."""

    rows: dict[int, dict[int, _Change]] = field(default_factory=dict)

    def put(self, row: int, col: int, change: _Change) -> None:
        self.rows.setdefault(row, {})[col] = change


def tab_patch(tw: TabWrite, max_row: int, grid: Grid | None) -> TabPatch:
    """The cells ``tw`` writes, where today's openpyxl path writes them."""
    patch = TabPatch()
    for row, col, value in tw.updates:
        patch.put(row + 1, col + 1, _Change(value, tw.kinds.get(col)))
    start = max(max_row, 1) + 1
    if max_row <= 1 and not tw.header and all(v is None for v in (grid or [[]])[0]):
        start = 1
    for offset, values in enumerate(tw.appends):
        for col, value in enumerate(values):
            if value is None or value == "":
                continue
            patch.put(start + offset, col + 1, _Change(value, tw.kinds.get(col)))
    rows = [r + 1 for r in tw.formula_rows] + list(range(start, start + len(tw.appends)))
    for row in rows if tw.formula_templates else ():
        for col, template in tw.formula_templates.items():
            patch.put(row, col + 1, _Change(formula=template.replace("\x00", str(row))))
    return patch


class _Writer:
    def __init__(self, styles: Styles | None, epoch: datetime, number_formats: Mapping[str, str]) -> None:
        self.styles = styles
        self.epoch = epoch
        self.number_formats = number_formats
        self.replaced_formula = False

    def cell(self, ref: str, style: int, change: _Change) -> str:
        value = change.value
        if change.formula is not None:
            return f'<c r="{ref}"{_s(style)}><f>{_escape(change.formula)}</f></c>'
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        if value is not None and value != value:  # NaT
            value = None
        if value is None:
            return f'<c r="{ref}"{_s(style)}/>'
        if isinstance(value, str):
            return f'<c r="{ref}"{_s(style)} t="inlineStr"><is><t xml:space="preserve">{_escape(value)}</t></is></c>'
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            return f'<c r="{ref}"{_s(style)} t="b"><v>{int(bool(value))}</v></c>'
        code = None
        if isinstance(value, datetime):
            code = self.number_formats["datetime"]
        elif isinstance(value, date):
            code = self.number_formats["date"]
        elif change.kind in self.number_formats:
            code = self.number_formats[change.kind]
        if code is not None:
            if self.styles is None:
                raise Unpatchable("no styles.xml")
            style = self.styles.with_format(style, code)
        if isinstance(value, date):
            serial = to_excel(value, self.epoch)
            text = str(int(serial)) if float(serial).is_integer() else repr(float(serial))
        elif isinstance(value, numbers.Integral):
            text = str(int(value))
        else:
            text = repr(float(value))  # type: ignore[arg-type]
        return f'<c r="{ref}"{_s(style)} t="n"><v>{text}</v></c>'

    def row(self, number: int, attrs: str, body: str, changes: dict[int, _Change]) -> str:
        cells: dict[int, str] = {}
        order: list[int] = []
        for m in _CELL.finditer(body):
            ref = _REF.search(m.group(1))
            if ref is None:
                raise Unpatchable("a cell without a reference")
            col = _col(ref.group(1))
            cells[col] = m.group(0)
            order.append(col)
        for col, change in changes.items():
            old = cells.get(col)
            style = 0
            if old is not None:
                s = _STYLE.search(old[:old.find(">")])
                style = int(s.group(1)) if s else 0
                if "<f" in old:
                    self.replaced_formula = True
            cells[col] = self.cell(f"{get_column_letter(col)}{number}", style, change)
        attrs = re.sub(r'\s*spans="[^"]*"', "", attrs)
        return f"<row{attrs}>{''.join(cells[c] for c in sorted(cells))}</row>"


def _s(style: int) -> str:
    return f' s="{style}"' if style else ""


_COLS: dict[str, int] = {}


def _col(letters: str) -> int:
    if letters not in _COLS:
        from openpyxl.utils import column_index_from_string

        _COLS[letters] = column_index_from_string(letters)
    return _COLS[letters]


def patched_sheet(xml: bytes, patch: TabPatch, writer: _Writer) -> Iterator[bytes | memoryview]:
    """The sheet XML with the patch's rows rewritten or inserted, as chunks: the unchanged
    stretches are views of ``xml`` (no copy), only the changed rows are decoded and rebuilt."""
    m = re.search(rb"<sheetData\s*/>|<sheetData\b[^>]*>", xml)
    if m is None:
        raise Unpatchable("no sheetData")
    if m.group(0).endswith(b"/>"):
        data_start = data_end = m.end()
        open_tag, close_tag = b"<sheetData>", b"</sheetData>"
        head_end, tail_start = m.start(), m.end()
    else:
        data_start = m.end()
        data_end = xml.find(b"</sheetData>", data_start)
        open_tag = close_tag = b""
        head_end, tail_start = data_start, data_end
    view = memoryview(xml)
    wanted = sorted(patch.rows)
    last_row = max(wanted, default=0)
    yield _dimension(xml[:head_end].decode("utf-8"), patch, last_row).encode("utf-8") + open_tag
    pos = data_start
    for number in wanted:  # rows are in order: each is looked for after the previous one
        at, rm = _locate(xml, number, pos, data_end)
        yield view[pos:at]
        if rm is not None:
            text = writer.row(number, rm.group(1).decode("utf-8"), (rm.group(3) or b"").decode("utf-8"),
                              patch.rows[number])
            pos = rm.end()
        else:
            text = writer.row(number, f' r="{number}"', "", patch.rows[number])
            pos = at
        yield text.encode("utf-8")
    yield view[pos:data_end]
    yield close_tag
    yield view[tail_start:]


def _locate(xml: bytes, number: int, pos: int, end: int) -> tuple[int, re.Match[bytes] | None]:
    """Where row ``number`` is (its start and match) or would go (the position and ``None``),
    looking from ``pos``. ``<row r="N"`` is found with a plain search (every writer puts ``r``
    first); otherwise the rows after ``pos`` are read one by one."""
    i = xml.find(b'<row r="%d"' % number, pos, end)
    if i >= 0:
        rm = _ROW.match(xml, i)
        if rm is not None:
            return i, rm
    last = _ROW.match(xml, max(xml.rfind(b"<row ", pos, end), 0))
    ref = re.search(rb'\br="(\d+)"', last.group(1)) if last is not None else None
    if last is None or (ref is not None and int(ref.group(1)) < number):
        return end, None  # after the last row (an appended row): no walk through the others
    for rm in _ROW.finditer(xml, pos, end):
        ref = re.search(rb'\br="(\d+)"', rm.group(1))
        if ref is None:
            raise Unpatchable("a row without a number")
        if int(ref.group(1)) == number:
            return rm.start(), rm
        if int(ref.group(1)) > number:
            return rm.start(), None
    return end, None


def _dimension(head: str, patch: TabPatch, last_row: int) -> str:
    m = re.search(r'<dimension ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"\s*/>', head)
    if m is None or not patch.rows:
        return head
    last_col = max(c for cells in patch.rows.values() for c in cells)
    end_col = _col(m.group(3) or m.group(1))
    end_row = int(m.group(4) or m.group(2))
    ref = f"{m.group(1)}{m.group(2)}:{get_column_letter(max(end_col, last_col))}{max(end_row, last_row)}"
    return head[:m.start()] + f'<dimension ref="{ref}"/>' + head[m.end():]


def write_patch(book: Book, batch: WriteBatch, grids: Mapping[str, Grid | None], out: str,
                number_formats: Mapping[str, str]) -> None:
    """Write the workbook with ``batch`` applied to ``out`` (a new file); see the module docstring."""
    styles = Styles(book.zf.read("xl/styles.xml").decode("utf-8")) if "xl/styles.xml" in book.names else None
    writer = _Writer(styles, book.epoch, number_formats)
    patches: dict[str, TabPatch] = {}
    for tw in batch.tabs:
        if tw.empty:
            continue
        tab = book.tabs[tw.tab]
        patch = patches.setdefault(tab.member, TabPatch())
        for row, cells in tab_patch(tw, tab.max_row, grids.get(tw.tab)).rows.items():
            for col, change in cells.items():
                patch.put(row, col, change)
    sheets = {member: list(patched_sheet(book.zf.read(member), patch, writer))
              for member, patch in patches.items()}
    parts: dict[str, bytes | list[bytes | memoryview]] = dict(sheets)
    if styles is not None and (styles.changed or styles.new_formats):
        parts["xl/styles.xml"] = styles.result().encode("utf-8")
    workbook = book.zf.read("xl/workbook.xml").decode("utf-8")
    calc = full_calc_on_load(workbook)
    if calc != workbook:
        parts["xl/workbook.xml"] = calc.encode("utf-8")
    drop = {"xl/calcChain.xml"} if writer.replaced_formula else set()
    copy_zip(book.zf, out, parts, drop)


def copy_zip(src: zipfile.ZipFile, out: str, parts: Mapping[str, bytes | list[bytes | memoryview]],
             drop: set[str]) -> None:
    """``src`` copied to ``out`` with ``parts`` replaced and ``drop`` left out (with their
    relationship and content-type entries); every other part is copied as it is."""
    from ..xlsx_template import copy_parts

    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        copy_parts(src, dst, {k: v if isinstance(v, bytes) else iter(v) for k, v in parts.items()}, drop)
