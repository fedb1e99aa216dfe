"""The structure a write was planned on, and what to do when the sheet moved under it.

A sheet shared with people changes while a sync runs: an owner sorts, inserts a row or a
column, moves or renames a column. A write is planned on positions (row, column) of the grid
as read, so before writing, a backend checks that the header row and the id column still say
what the plan assumed (:func:`mismatch`); if not, nothing is written and the pass is planned
again. Google Sheets has no conditional writes, so a structural edit can still slip between
that check and the write; the backend checks again right after writing, and
:func:`restorations` computes, from the grid the plan was made from and the grid as it is now,
which cells our write clobbered and what they held, so the backend puts them back before the
pass is planned again. Pure functions, tested without a sheet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..parsing import id_text
from .base import TabWrite

Grid = list[list[Any]]


def header_text(value: Any) -> str:
    return "" if value is None else str(value).strip()


@dataclass
class Structure:
    """What a write to one tab assumes: the header row (0-based) and its cells, where the id
    column is, and the id in each row the write touches."""

    header_row: int
    header: list[str]
    id_col: int
    ids: dict[int, str] = field(default_factory=dict)
    #: columns the write adds at the end: position -> header we will write there
    new_columns: dict[int, str] = field(default_factory=dict)


def planned_structure(tw: TabWrite) -> Structure:
    """The structure a tab write was planned on (header row, id column, ids of guarded rows)."""
    return Structure(tw.header_row, list(tw.read_header or []), tw.guard_col or 0, dict(tw.guard),
                     {c: tw.header[c] for c in tw.new_columns})


def is_guarded(tw: TabWrite) -> bool:
    """Whether a backend checks this tab write's structure before and after writing."""
    return tw.guard_col is not None and bool(tw.guard or tw.new_columns or tw.appends and tw.read_header)


def mismatch(expected: Structure, header_line: Sequence[Any], id_column: Sequence[Any]) -> str | None:
    """Why the sheet no longer has the expected structure, or ``None`` when it has."""
    have = [header_text(v) for v in header_line]
    for col, want in enumerate(expected.header):
        got = have[col] if col < len(have) else ""
        if got != want:
            return (f"column {col + 1} of the header row is now {got!r}, was {want!r} (a column was "
                    "inserted, moved, deleted or renamed meanwhile)")
    for col, ours in expected.new_columns.items():
        got = have[col] if col < len(have) else ""
        if got not in ("", ours):
            return f"column {col + 1} of the header row is now {got!r}, was empty"
    for row, cid in expected.ids.items():
        got = id_text(id_column[row]) if row < len(id_column) else ""
        if got != cid:
            return f"row {row + 1} holds client {got or '(none)'!s}, was {cid} (rows were sorted, inserted or deleted)"
    return None


@dataclass(frozen=True)
class Written:
    """One cell a write sent: where, what, and whose (client id, column header) it was meant for."""

    row: int
    col: int
    value: Any
    client: str
    header: str


def locate(grid: Grid, id_header: str, scan: int = 10) -> tuple[int, int] | None:
    """(header row, id column) of a grid: the first row within ``scan`` rows with ``id_header``."""
    for r, line in enumerate(grid[:scan]):
        for c, v in enumerate(line):
            if header_text(v) == id_header:
                return r, c
    return None


def _cell(grid: Grid, r: int, c: int) -> Any:
    if r < 0 or r >= len(grid):
        return None
    line = grid[r]
    return line[c] if 0 <= c < len(line) else None


def _index(grid: Grid, id_header: str) -> tuple[dict[str, int], dict[str, int], int, int] | None:
    where = locate(grid, id_header)
    if where is None:
        return None
    hr, ic = where
    cols: dict[str, int] = {}
    for c, v in enumerate(grid[hr]):
        cols.setdefault(header_text(v), c)
    rows: dict[str, int] = {}
    for r in range(hr + 1, len(grid)):
        cid = id_text(_cell(grid, r, ic))
        if cid:
            rows.setdefault(cid, r)
    return cols, rows, hr, ic


def restorations(written: Sequence[Written], planned: Grid, current: Grid,
                 id_header: str) -> list[tuple[int, int, Any]]:
    """Cells our write put into the wrong client's row or the wrong column, with what they held.

    A cell counts as clobbered when, in the sheet as it is now, it belongs to another (client,
    column) than the one we meant and it still holds what we wrote. It gets back the value
    that (client, column) had in the grid the plan was made from; a cell of a row without an
    id, or of a column that did not exist then, gets back empty (nothing was there when we
    read). A cell whose position still means what we meant is left alone (the sheet moved
    after our write, taking our value along)."""
    from ..layout import same

    now = _index(current, id_header)
    before = _index(planned, id_header)
    if now is None:
        return []
    cols_now, _, hr_now, ic_now = now
    headers_now = {c: h for h, c in cols_now.items()}
    out: list[tuple[int, int, Any]] = []
    for w in written:
        if w.row <= hr_now:
            continue
        client = id_text(_cell(current, w.row, ic_now))
        header = headers_now.get(w.col, "")
        if client == w.client and header == header_text(w.header):
            continue
        have = _cell(current, w.row, w.col)
        if not same(have, w.value):
            continue
        original = None
        if before is not None and client and header:
            cols_then, rows_then, _, _ = before
            if client in rows_then and header in cols_then:
                original = _cell(planned, rows_then[client], cols_then[header])
        if not same(original, w.value):
            out.append((w.row, w.col, original))
    return out
