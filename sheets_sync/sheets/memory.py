"""An in-memory sheet beside the :class:`~sheets_sync.sheets.base.SheetBackend` protocol, for tests.

Tabs are grids (lists of rows, ``None`` for an empty cell). :meth:`MemorySheet.write` applies a
:class:`~sheets_sync.sheets.base.WriteBatch` the way the Google backend does
(:mod:`sheets_sync.sheets.google`), in the same order:

1. the structure check of every guarded tab (:func:`~sheets_sync.sheets.guard.mismatch`):
   a sheet that moved since the read raises ``ConcurrentEditError`` and nothing is written;
2. header cells (all of a new tab, the new columns of an existing one, at ``header_row``) and
   the updates at (row, column) of every tab;
3. the same check once more; a mismatch now means a structural edit slipped in between the
   check and the write: the cells it made us clobber get back what they held in the grid as
   read (:func:`~sheets_sync.sheets.guard.restorations`) and ``ConcurrentEditError`` is raised;
4. appends after the last non-empty row, each tab followed by a check of its header row (and
   the same repair of the appended cells that landed in a wrong column).

Hooks for races and faults, each used once and then cleared: ``between_check_and_write`` (a
callable given the sheet, run after step 1 and before step 2: an owner's structural edit
lands there) and ``append_times_out_after_applying`` (the next append is applied, then raises
``UncertainWriteError`` as a timed-out ``values:append`` does). The owner's operations (sort,
insert and delete rows and columns, move a column, rename a header, edit or copy, rename the
tab, lose everything) are methods, so a test edits the sheet the way owners do.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import ConcurrentEditError, SheetError, UncertainWriteError
from ..parsing import id_text
from .base import Grid, TabWrite, WriteBatch
from .guard import Written, header_text, is_guarded, mismatch, planned_structure, restorations


def _empty(value: Any) -> bool:
    return value is None or value == ""


class MemorySheet:
    """A :class:`~sheets_sync.sheets.base.SheetBackend` held in memory (a dict of grids)."""

    def __init__(self, where: str = "memory sheet") -> None:
        self.where = where
        self.tabs: dict[str, Grid] = {}
        self.present = True
        #: run once, after the pre-write check and before any cell is written
        self.between_check_and_write: Callable[[MemorySheet], None] | None = None
        #: the next append is applied and then raises UncertainWriteError
        self.append_times_out_after_applying = False
        self.writes = 0
        self._read: dict[str, Grid] = {}

    # -- the SheetBackend protocol
    def exists(self) -> bool:
        return self.present

    def read(self, tabs: Sequence[str], dates: Any = None, head: Mapping[str, int] | None = None
             ) -> dict[str, Grid | None]:
        out: dict[str, Grid | None] = {}
        for tab in tabs:
            grid = self.tabs.get(tab)
            out[tab] = None if grid is None else self._trimmed(grid)
            if out[tab] is not None and head and tab in head:
                out[tab] = out[tab][:head[tab]]
        self._read = {t: copy.deepcopy(g) for t, g in out.items() if g is not None}
        return out

    def write(self, batch: WriteBatch) -> None:
        if batch.empty:
            return
        self._check(batch)
        hook, self.between_check_and_write = self.between_check_and_write, None
        if hook is not None:
            hook(self)
        self.present = True
        self.writes += 1
        written = False
        for tw in batch.tabs:
            if tw.tab not in self.tabs:
                if not tw.created:
                    raise SheetError(f"{self.where}: tab {tw.tab!r} is missing")
                self.tabs[tw.tab] = []
            for col in range(len(tw.header)) if tw.created else tw.new_columns:
                self._set(tw.tab, tw.header_row, col, tw.header[col])
                written = True
            for row, col, value in tw.updates:
                self._set(tw.tab, row, col, value)
                written = True
        if written:
            self._check(batch, repair=True)
        for tw in batch.tabs:
            if not tw.appends:
                continue
            start = self._last_row(tw.tab) + 1
            for offset, line in enumerate(tw.appends):
                for col, value in enumerate(line):
                    self._set(tw.tab, start + offset, col, value)
            if self.append_times_out_after_applying:
                self.append_times_out_after_applying = False
                raise UncertainWriteError(f"{self.where}: the append timed out; the rows may have landed")
            if tw.guard_col is not None and tw.read_header is not None:
                self._check_appended(tw, list(range(start, start + len(tw.appends))))

    # -- the guard, as the Google backend uses it
    def _now(self, tw: TabWrite) -> tuple[list[Any], list[Any]]:
        grid = self.tabs.get(tw.tab, [])
        header = list(grid[tw.header_row]) if tw.header_row < len(grid) else []
        col = tw.guard_col or 0
        return header, [line[col] if col < len(line) else None for line in grid]

    def _check(self, batch: WriteBatch, repair: bool = False) -> None:
        for tw in batch.tabs:
            if not is_guarded(tw):
                continue
            why = mismatch(planned_structure(tw), *self._now(tw))
            if why is None:
                continue
            if repair:
                self._repair(tw, [Written(r, c, v, tw.guard.get(r, ""), tw.header[c]) for r, c, v in tw.updates])
            raise ConcurrentEditError(f"{self.where} tab {tw.tab!r}: {why}; planning again")

    def _check_appended(self, tw: TabWrite, rows: list[int]) -> None:
        expected = planned_structure(tw)
        expected.ids = {}
        why = mismatch(expected, self._now(tw)[0], [])
        if why is None:
            return
        id_col = tw.guard_col or 0
        self._repair(tw, [Written(row, c, v, id_text(line[id_col]) if id_col < len(line) else "", tw.header[c])
                          for row, line in zip(rows, tw.appends, strict=False)
                          for c, v in enumerate(line) if not _empty(v)])
        raise ConcurrentEditError(f"{self.where} tab {tw.tab!r}: {why}; planning again")

    def _repair(self, tw: TabWrite, written: list[Written]) -> None:
        id_header = (tw.read_header or tw.header)[tw.guard_col or 0]
        current = self._trimmed(self.tabs.get(tw.tab, []))
        for r, c, v in restorations(written, self._read.get(tw.tab) or [], current, id_header, tw.header_row):
            self._set(tw.tab, r, c, v)

    # -- cells
    def _set(self, tab: str, row: int, col: int, value: Any) -> None:
        grid = self.tabs[tab]
        while len(grid) <= row:
            grid.append([])
        line = grid[row]
        while len(line) <= col:
            line.append(None)
        line[col] = None if _empty(value) else value

    def _last_row(self, tab: str) -> int:
        grid = self.tabs[tab]
        for r in range(len(grid) - 1, -1, -1):
            if any(not _empty(v) for v in grid[r]):
                return r
        return -1

    @staticmethod
    def _trimmed(grid: Grid) -> Grid:
        """As Google answers: no trailing empty cells in a row, no trailing empty rows."""
        out = []
        for line in grid:
            cells = list(line)
            while cells and _empty(cells[-1]):
                cells.pop()
            out.append([None if _empty(v) else v for v in cells])
        while out and not out[-1]:
            out.pop()
        return out

    # -- what owners do
    def grid(self, tab: str) -> Grid:
        return self.tabs[tab]

    def sort(self, tab: str, col: int, first_row: int = 1, reverse: bool = False) -> None:
        """Sort the rows from ``first_row`` by a column (empty cells last), as a sheet's sort does."""
        grid = self.tabs[tab]
        body = grid[first_row:]

        def key(line: list[Any]) -> tuple[int, int, Any]:
            v = line[col] if col < len(line) else None
            if _empty(v):
                return (1, 0, "")
            return (0, 0, float(v)) if isinstance(v, int | float) and not isinstance(v, bool) else (0, 1, str(v))

        filled = sorted((r for r in body if not _empty(r[col] if col < len(r) else None)), key=key, reverse=reverse)
        grid[first_row:] = filled + [r for r in body if _empty(r[col] if col < len(r) else None)]

    def insert_row(self, tab: str, at: int, values: Sequence[Any] = ()) -> None:
        self.tabs[tab].insert(at, list(values))

    def delete_row(self, tab: str, at: int) -> None:
        del self.tabs[tab][at]

    def copy_row(self, tab: str, source: int, at: int) -> None:
        self.tabs[tab].insert(at, list(self.tabs[tab][source]))

    def insert_column(self, tab: str, at: int, values: Sequence[Any] = ()) -> None:
        """A column inserted at ``at``; ``values`` top down (a header, cells), the rest empty."""
        for r, line in enumerate(self.tabs[tab]):
            if len(line) < at:
                line.extend([None] * (at - len(line)))
            line.insert(at, values[r] if r < len(values) else None)

    def delete_column(self, tab: str, at: int) -> None:
        for line in self.tabs[tab]:
            if at < len(line):
                del line[at]

    def move_column(self, tab: str, source: int, to: int) -> None:
        """Cut column ``source`` and insert it so that it becomes column ``to``."""
        width = max(len(line) for line in self.tabs[tab])
        for line in self.tabs[tab]:
            line.extend([None] * (width - len(line)))
            line.insert(to, line.pop(source))

    def set_cell(self, tab: str, row: int, col: int, value: Any) -> None:
        self._set(tab, row, col, value)

    def rename_header(self, tab: str, old: str, new: str) -> None:
        for line in self.tabs[tab][:10]:
            for c, v in enumerate(line):
                if header_text(v) == old:
                    line[c] = new
                    return
        raise KeyError(old)

    def rename_tab(self, old: str, new: str) -> None:
        self.tabs[new] = self.tabs.pop(old)

    def lose(self) -> None:
        """The whole sheet is gone (a workbook moved away, a spreadsheet replaced)."""
        self.tabs = {}
        self.present = False
