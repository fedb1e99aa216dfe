"""The embedded default sheet: a local ``.xlsx`` workbook, never loaded whole.

**Reading** scans the sheet XML of the tabs asked for (:mod:`.xlsx_cells`): the values come
back as openpyxl gives them (text, ``int``/``float``, ``datetime`` for date-formatted cells,
booleans, formulas as their text, ``None`` for empty), without building an object model.

**Writing** takes one of two paths, chosen per batch (:func:`.xlsx_patch.patch_refusal`):

* *the patch* (the steady state: cell updates, appended rows and live formulas on tabs that
  exist, a Summary chart that is there already): only the changed rows of those tabs'
  ``sheetData`` are rewritten inside the zip; every other part is copied byte for byte, so
  pivot tables, slicers, macros of an ``.xlsm``, form controls, the owners' charts and their
  styling, images, other tabs, the shared-string table, comments and everything else survive
  untouched. ``styles.xml`` gains a cell format when a number or date needs one, and
  ``workbook.xml`` full recalculation on load when it lacks it (see :mod:`.xlsx_patch`).
* *openpyxl* (structure: a new tab, new columns with their header notes, the layout when a
  tab is new or the rules changed: conditional formats, data validation, frozen pane,
  autofilter, widths; a chart on a tab without one; defined names of live formulas; a file
  that does not exist yet, and a sheet XML the patch does not handle): the workbook is loaded
  and saved by openpyxl, as before. That keeps the owner's values, formulas, styles, widths,
  conditional formats, validation, defined names, other tabs, charts and images (re-written:
  data and type are kept, some styling of charts made in Excel may be simplified); it drops
  pivot tables, slicers, macros and form controls. It happens on the first sync, when the
  rules change the layout, and when a column of ours is added again.

A no-op sync writes nothing (the batch is empty: the file is not touched). Both paths write a
temporary file and move it into place, so a crash never leaves half a workbook (a temporary
file left by a killed run is removed by the next); a workbook changed on disk since we read it
(the owner saved it in Excel meanwhile) is not overwritten: the sync re-reads and re-plans.
The guard (header row and ids) is checked against the values read, which the stamp (mtime and
size) proves are still the file's. A workbook open in Excel (``~$name.xlsx``) or LibreOffice
(``.~lock.name.xlsx#``) is not written at all: the owner's next save would overwrite our
changes, or ours their unsaved work.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import openpyxl
from openpyxl.comments import Comment
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import absolute_coordinate, get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from ..errors import ConcurrentEditError, SheetError
from .base import Grid, Layout, TabWrite, WriteBatch
from .guard import mismatch, planned_structure
from .xlsx_cells import Book, read_grids
from .xlsx_patch import Unpatchable, patch_refusal, write_patch

NUMBER_FORMATS = {
    "money": "#,##0.00",
    "number": "0.##",
    "count": "0",
    "percent": "0.0",
    "percent_share": "0.0%",
    "date": "DD.MM.YYYY",
    "datetime": "DD.MM.YYYY HH:MM",
}
HEADER_FILL = PatternFill("solid", start_color="FFD9E1F2", end_color="FFD9E1F2")


class WorkbookSheet:
    """A :class:`~sheets_sync.sheets.base.SheetBackend` over a local .xlsx file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self._stamp: tuple[int, int] | None = None
        self._index: Book | None = None  # the workbook's tabs as read (for a patch)
        self._grids: dict[str, Grid | None] = {}  # the values read (for the guard and appends)
        #: which path the last write took: "patch" or "openpyxl" (for tests and the benchmark)
        self.path_taken = ""
        self._read = False

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def exists(self) -> bool:
        return self.path.exists()

    def held_open(self) -> str | None:
        """The lock file of Excel or LibreOffice holding this workbook open, if any."""
        for name in (f"~${self.path.name}", f".~lock.{self.path.name}#"):
            lock = self.path.parent / name
            if lock.exists():
                return str(lock)
        return None

    def _temporaries(self) -> list[Path]:
        """Temporary files of our atomic save that a killed run left beside the workbook."""
        import re

        ours = re.compile(r"\.~" + re.escape(self.path.stem) + r"(\.sync-)?[a-z0-9_]{8}\.xlsx")
        try:
            return [p for p in self.path.parent.iterdir() if ours.fullmatch(p.name)]
        except OSError:
            return []

    def tidy(self) -> None:
        """Remove what a killed sync left (called by a sync, which holds the lock)."""
        for stale in self._temporaries():
            stale.unlink(missing_ok=True)

    def _load(self) -> openpyxl.Workbook:
        if self._stamp is None:
            book = openpyxl.Workbook()
            book.remove(book.active)
            return book
        try:
            return openpyxl.load_workbook(self.path, rich_text=False)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise self._unreadable(exc) from exc

    def _unreadable(self, exc: Exception) -> SheetError:
        return SheetError(f"Workbook {self.path} cannot be opened as .xlsx ({exc}). Restore "
                          "it from a backup, or move it away and a new one is created.")

    def read(self, tabs: Sequence[str], dates: Any = None, head: Mapping[str, int] | None = None
             ) -> dict[str, Grid | None]:
        """(``dates`` is not needed: the workbook's cells say which of them are dates.)"""
        self._stamp = self._stat()
        self._index, self._grids = None, {}
        self._read = True
        if self._stamp is None:
            self._grids = {tab: None for tab in tabs}
            return dict(self._grids)
        try:
            with zipfile.ZipFile(self.path) as zf:
                book, grids = read_grids(zf, list(tabs), head)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError, ET.ParseError) as exc:
            raise self._unreadable(exc) from exc
        self._index, self._grids = book, dict(grids)
        return grids

    def write(self, batch: WriteBatch) -> None:
        if batch.empty:
            return
        if not self._read or any(t.tab not in self._grids for t in batch.tabs):
            self.read(list(dict.fromkeys([*self._grids, *(t.tab for t in batch.tabs)])))
        if self._stat() != self._stamp:
            self._forget()
            raise ConcurrentEditError(f"Workbook {self.path} changed on disk while we worked.")
        zf = zipfile.ZipFile(self.path) if self._index is not None else None
        try:
            self.path_taken = "patch"
            if self._index is not None and zf is not None:
                self._index.zf = zf
                if patch_refusal(batch, self._index) is None:
                    try:
                        self._write_patch(batch)
                        return
                    except Unpatchable:
                        pass
            self.path_taken = "openpyxl"
            self._write_openpyxl(batch)
        finally:
            if zf is not None:
                zf.close()
            self._forget()

    def _forget(self) -> None:
        self._index, self._grids, self._stamp, self._read = None, {}, None, False

    def _write_patch(self, batch: WriteBatch) -> None:
        index = self._index
        assert index is not None
        for tw in batch.tabs:
            if tw.empty:
                continue
            grid = self._grids.get(tw.tab) or [[None]]
            header = grid[tw.header_row] if index.tabs[tw.tab].max_row > tw.header_row else []

            def cell(r: int, c: int, g: Grid = grid) -> Any:
                return g[r][c] if r < len(g) and c < len(g[r]) else None

            self._check_guard(tw, header, cell)

        self._save(lambda tmp: write_patch(index, batch, self._grids, tmp, NUMBER_FORMATS))

    def _write_openpyxl(self, batch: WriteBatch) -> None:
        book = self._load()
        for tw in batch.tabs:
            if tw.tab in book.sheetnames:
                ws = book[tw.tab]
            else:
                ws = book.create_sheet(tw.tab)
            header = [c.value for c in ws[tw.header_row + 1]] if ws.max_row > tw.header_row else []
            self._check_guard(tw, header, lambda r, c, ws=ws: ws.cell(row=r + 1, column=c + 1).value)
            self._apply(ws, tw)
        self._save(book.save)

    def _check_guard(self, tw: TabWrite, header: list[Any], cell: Callable[[int, int], Any]) -> None:
        if tw.guard_col is None:
            return
        expected = planned_structure(tw)
        ids = [None] * (max(tw.guard, default=-1) + 1)
        for row in tw.guard:
            ids[row] = cell(row, tw.guard_col)
        why = mismatch(expected, header, ids)
        if why is not None:
            raise ConcurrentEditError(f"{self.path} tab {tw.tab!r}: {why}")

    def _apply(self, ws: Any, tw: TabWrite) -> None:
        if tw.created:
            for col, header in enumerate(tw.header, start=1):
                cell = ws.cell(row=1, column=col, value=header)
                cell.font = Font(bold=True)
                cell.fill = HEADER_FILL
            for col, width in tw.widths.items():
                ws.column_dimensions[get_column_letter(col + 1)].width = width
        for col in tw.new_columns:
            cell = ws.cell(row=tw.header_row + 1, column=col + 1, value=tw.header[col])
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
        for row, col, value in tw.updates:
            _set(ws.cell(row=row + 1, column=col + 1), value, tw.kinds.get(col))
        start = max(ws.max_row, 1) + 1
        if ws.max_row == 1 and all(c.value is None for c in ws[1]) and not tw.header:
            start = 1
        for offset, values in enumerate(tw.appends):
            for col, value in enumerate(values):
                if value is None or value == "":
                    continue
                _set(ws.cell(row=start + offset, column=col + 1), value, tw.kinds.get(col))
        rows = [r + 1 for r in tw.formula_rows] + list(range(start, start + len(tw.appends)))
        for row in rows if tw.formula_templates else ():
            for col, template in tw.formula_templates.items():
                ws.cell(row=row, column=col + 1).value = "=" + template.replace("\x00", str(row))
        for name, (row, col) in tw.names.items():
            from openpyxl.workbook.defined_name import DefinedName

            ref = f"{quote_sheetname(ws.title)}!{absolute_coordinate(get_column_letter(col + 1) + str(row + 1))}"
            ws.parent.defined_names[name] = DefinedName(name, attr_text=ref)
        if tw.layout is not None:
            _layout(ws, tw, tw.layout)
        if tw.chart and not ws._charts:
            _chart(ws, tw.chart)

    def _mode(self) -> int:
        try:
            return self.path.stat().st_mode & 0o777
        except FileNotFoundError:
            return 0o666 & ~_umask()

    def _save(self, build: Callable[[str], None]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for stale in self._temporaries():  # we hold the sync lock: nobody else is saving
            stale.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".~" + self.path.stem + ".sync-", suffix=".xlsx",
                                   dir=self.path.parent)
        os.close(fd)
        try:
            os.chmod(tmp, self._mode())  # mkstemp makes 0600: keep the workbook as shared as it was
            build(tmp)
            if self._stat() != self._stamp:
                raise ConcurrentEditError(f"Workbook {self.path} changed on disk while we worked.")
            os.replace(tmp, self.path)
        except PermissionError as exc:
            raise SheetError(f"Workbook {self.path} cannot be written ({exc.strerror}); close "
                             "it in Excel and run the sync again.") from exc
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _set(cell: Any, value: Any, kind: str | None) -> None:
    if isinstance(value, str):
        cell.value = value
        cell.data_type = "s"  # text from the CRM stays text, even "=HYPERLINK(...)"
        return
    cell.value = value
    if isinstance(value, datetime):
        cell.number_format = NUMBER_FORMATS["datetime"]
    elif isinstance(value, date):
        cell.number_format = NUMBER_FORMATS["date"]
    elif kind in NUMBER_FORMATS and isinstance(value, int | float):
        cell.number_format = NUMBER_FORMATS[kind]


def _layout(ws: Any, tw: TabWrite, layout: Layout) -> None:
    """Freeze the header, filter, widths, notes, colours and the dropdown (idempotent)."""
    ws.freeze_panes = "A2"
    last_col = get_column_letter(max(len(tw.header), 1))
    last_row = max(ws.max_row, 2)
    ws.auto_filter.ref = f"A1:{last_col}{last_row}"
    by_header = {h: i for i, h in enumerate(tw.header)}
    for spec in layout.columns:
        col = by_header.get(spec.header)
        if col is None:
            continue
        letter = get_column_letter(col + 1)
        if tw.created or col in tw.new_columns:
            ws.column_dimensions[letter].width = {"reason": 60, "problems": 40, "name": 32,
                                                  "notes": 30}.get(spec.name, max(14, len(spec.header) + 3))
        if spec.note and (tw.created or col in tw.new_columns or col in tw.relabels):
            ws.cell(row=tw.header_row + 1, column=col + 1).comment = Comment(spec.note, "sheets-sync")
        rng = f"{letter}2:{letter}1048576"
        if spec.name in layout.coloured:
            _replace_rules(ws, rng)
            for code, colour in layout.colours.items():
                fill = PatternFill("solid", start_color="FF" + colour[1:], end_color="FF" + colour[1:])
                ws.conditional_formatting.add(rng, CellIsRule(operator="equal",
                                                              formula=[f'"{code}"'], fill=fill))
        if spec.name in layout.dropdown:
            _replace_validation(ws, rng)
            codes = ",".join(layout.dropdown[spec.name])
            dv = DataValidation(type="list", formula1=f'"{codes}"', allow_blank=True,
                                showErrorMessage=True, errorTitle="Unknown category",
                                error=f"Use one of: {codes}", promptTitle="Manual category",
                                prompt="Leave empty to let the rules decide.")
            dv.add(rng)
            ws.add_data_validation(dv)


def _chart(ws: Any, spec: dict[str, Any]) -> None:
    """A native bar chart (the owner may restyle it; it is added only when the tab has none)."""
    from openpyxl.chart import BarChart, Reference

    first, last = spec["first_row"] + 1, spec["last_row"] + 1
    if last < first:
        return
    chart = BarChart()
    chart.title = spec["title"]
    chart.legend = None
    chart.add_data(Reference(ws, min_col=spec["values_col"] + 1, min_row=first, max_row=last), titles_from_data=False)
    chart.set_categories(Reference(ws, min_col=spec["labels_col"] + 1, min_row=first, max_row=last))
    ws.add_chart(chart, "H2")


def _replace_rules(ws: Any, rng: str) -> None:
    cf = ws.conditional_formatting
    for existing in list(cf):
        if str(existing.sqref) == rng:
            existing.rules = [r for r in existing.rules if r.type != "cellIs"]


def _replace_validation(ws: Any, rng: str) -> None:
    keep = [dv for dv in ws.data_validations.dataValidation if str(dv.sqref) != rng]
    ws.data_validations.dataValidation = keep
