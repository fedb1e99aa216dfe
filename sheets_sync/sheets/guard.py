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
    #: header cells the write relabels (a language switch): position -> the new header
    relabels: dict[int, str] = field(default_factory=dict)


def planned_structure(tw: TabWrite) -> Structure:
    """The structure a tab write was planned on (header row, id column, ids of guarded rows)."""
    return Structure(tw.header_row, list(tw.read_header or []), tw.guard_col or 0, dict(tw.guard),
                     {c: tw.header[c] for c in tw.new_columns}, dict(tw.relabels))


def is_guarded(tw: TabWrite) -> bool:
    """Whether a backend checks this tab write's structure before and after writing."""
    return tw.guard_col is not None and bool(tw.guard or tw.new_columns or tw.appends and tw.read_header)


def mismatch(expected: Structure, header_line: Sequence[Any], id_column: Sequence[Any]) -> str | None:
    """Why the sheet no longer has the expected structure, or ``None`` when it has."""
    have = [header_text(v) for v in header_line]
    for col, want in enumerate(expected.header):
        got = have[col] if col < len(have) else ""
        if got != want and got != expected.relabels.get(col):
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


def locate(grid: Grid, id_header: str, like: Sequence[Any] | None = None, scan: int = 10) -> tuple[int, int] | None:
    """(header row, id column) of a grid: of the first ``scan`` rows holding ``id_header``, the
    one most like the header row ``like`` (a title cell reading "id" is not a header)."""
    want = {header_text(v) for v in like or ()} - {""}
    best: tuple[int, int, int] | None = None
    for r, line in enumerate(grid[:scan]):
        texts = [header_text(v) for v in line]
        if id_header not in texts:
            continue
        score = sum(1 for t in texts if t in want)
        if best is None or score > best[0]:
            best = (score, r, texts.index(id_header))
    return None if best is None else (best[1], best[2])


def _cell(grid: Grid, r: int, c: int) -> Any:
    if r < 0 or r >= len(grid):
        return None
    line = grid[r]
    return line[c] if 0 <= c < len(line) else None


def align(then: Sequence[Any], now: Sequence[Any]) -> dict[int, int]:
    """Column positions now -> then, from two header rows: columns inserted meanwhile have none;
    blank or repeated headers are told apart by their place among the others, and a column
    moved elsewhere is found by its header when that header is unique in both rows."""
    import difflib

    a, b = [header_text(v) for v in then], [header_text(v) for v in now]
    out: dict[int, int] = {}
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal" or (op == "replace" and i2 - i1 == j2 - j1):  # a header cell overwritten
            for k in range(j2 - j1):
                out[j1 + k] = i1 + k
    used = set(out.values())
    for j, text in enumerate(b):
        if j in out or not text or b.count(text) != 1 or a.count(text) != 1:
            continue
        i = a.index(text)
        if i not in used:
            out[j] = i
            used.add(i)
    return out


def _rows(grid: Grid, hr: int, ic: int) -> dict[str, int]:
    rows: dict[str, int] = {}
    for r in range(hr + 1, len(grid)):
        cid = id_text(_cell(grid, r, ic))
        if cid:
            rows.setdefault(cid, r)
    return rows


def restorations(written: Sequence[Written], planned: Grid, current: Grid, id_header: str,
                 header_row: int = 0) -> list[tuple[int, int, Any]]:
    """Cells our write put into the wrong client's row or the wrong column, with what they held.

    ``written`` is in the positions of ``planned`` (the grid the plan was made from, its header
    at ``header_row``). A cell counts as clobbered when, in the sheet as it is now, it belongs
    to another (client, column) than the one we meant, or to the header or a title row, and it
    still holds what we wrote. It gets back the value that (client, column) had in ``planned``;
    a cell of a row without an id, or of a column that did not exist then, gets back empty
    (nothing was there when we read). A cell whose position still means what we meant is left
    alone (the sheet moved after our write, taking our value along)."""
    from ..layout import same

    then_header = planned[header_row] if header_row < len(planned) else []
    now_at = locate(current, id_header, then_header)
    if now_at is None:
        return []
    hr_now, ic_now = now_at
    col_then = align(then_header, current[hr_now])
    ic_then = next((i for i, v in enumerate(then_header) if header_text(v) == id_header), None)
    rows_then = _rows(planned, header_row, ic_then) if ic_then is not None else {}
    out: list[tuple[int, int, Any]] = []
    for w in written:
        have = _cell(current, w.row, w.col)
        if not same(have, w.value):
            continue
        tc = col_then.get(w.col)
        if w.row <= hr_now:  # the header row or a title row now: what it held then
            shift = hr_now - header_row
            r_then = w.row - shift
            original = _cell(planned, r_then, tc) if tc is not None and 0 <= r_then <= header_row else None
        else:
            client = id_text(_cell(current, w.row, ic_now))
            if client == w.client and tc == w.col:
                continue
            r_then = rows_then.get(client) if client else None
            original = _cell(planned, r_then, tc) if r_then is not None and tc is not None else None
        if not same(original, w.value):
            out.append((w.row, w.col, original))
    return out
