"""The owners' decisions (manual category, notes): read from the sheet, kept in the state
store, never lost.

The sheet is where owners decide, but a sheet can lose what they decided without anyone
meaning it: a row deleted, a column deleted or renamed, the header row deleted, the tab
renamed, the workbook moved away. The state store keeps every manual category and note the
last sync saw, and each pass compares:

* a client whose row is missing gets its row back, with its manual category and notes;
* an owner column that is missing is recognised under its new header when its values are the
  ones we kept (a renamed column), else added again at the end and filled from the store;
* a client whose id is in two rows (a copied row) uses neither row's values but the ones kept;
* a tab or workbook that is gone, or a header row that is gone, stops the sync before anything
  is written (:class:`~sheets_sync.errors.StructureError`, exit 2) with what changed and how to
  fix it: guessing there could put a wrong category into the CRM.

An empty cell in a present column is a decision too (the owner cleared it), not a loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .errors import StructureError
from .layout import ClientsGrid
from .parsing import id_text
from .table import ClientTable

OWNER_COLUMNS = ("manual_category", "notes")
#: a renamed column is recognised when at least this share of the kept values is in it
RECOGNISE_SHARE = 0.5
#: ... and it holds at most this many values (per value kept) where nothing was kept
SURPLUS_SHARE = 0.25


@dataclass
class Owners:
    """The owner values of one pass and what it did to keep them."""

    #: what the sheet shows now, per client and owner column (saved after a successful pass)
    seen: dict[str, dict[str, str]] = field(default_factory=dict)
    #: clients in the CRM whose row is missing: their row is added with the kept values
    restored_rows: list[str] = field(default_factory=list)
    #: owner columns missing from the sheet: added again and filled with the kept values
    restored_columns: list[str] = field(default_factory=list)
    #: our column -> the header an owner gave it (recognised by its values)
    aliases: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)


def check_structure(sheet: ClientsGrid, *, tab: str, where: str, present: bool, saved: Mapping[str, Any],
                    before: int, rebuild: bool) -> None:
    """Refuse a sheet that lost its tab or its header row since the last sync."""
    kept = sum(1 for v in saved.values() if v.get("manual_category"))
    notes = sum(1 for v in saved.values() if v.get("notes"))
    held = (f"it held {before} clients at the last sync, with {kept} manual categories and "
            f"{notes} notes")
    if sheet.headerless:
        first = next((line for line in sheet.grid if any(v not in (None, "") for v in line)), [])
        shown = ", ".join(repr(v) for v in first[:4] if v not in (None, ""))
        raise StructureError(
            f"Tab {tab!r} in {where} has no header row with an 'id' column in its first 10 rows "
            f"(the first row holds {shown}). Put the header row back (Undo, or the version history), "
            "then run the sync again. Nothing was written.")
    if sheet.empty and before and not rebuild:
        what = f"Tab {tab!r} is missing from {where}" if present else f"{where} is missing"
        raise StructureError(
            f"{what} ({held}). If you renamed the tab, rename it back or set [sheet] clients_tab to "
            "its new name; if the workbook moved, put it back or point [sheet] at it. To start a new "
            "sheet on purpose, run `sheets-sync sync --rebuild-sheet`: the manual categories and notes "
            "kept by sheets-sync are filled in again. Nothing was written.")


def recognise_renamed(sheet: ClientsGrid, saved: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Find owner columns an owner renamed: a column that is not ours by header, holds the
    values we kept for that column (for at least half of the clients that have one), and
    hardly anything where nothing was kept. Anything less is not taken for ours: the column is
    added again and filled from the store instead (nothing lost, nothing guessed)."""
    aliases: dict[str, str] = {}
    if sheet.empty:
        return aliases
    taken = set(sheet.positions.values())
    for column in OWNER_COLUMNS:
        if column in sheet.positions:
            continue
        expected = {cid: v[column] for cid, v in saved.items() if v.get(column) and cid in sheet.rows}
        if not expected:
            continue
        best, best_hits = None, 0
        for c in range(len(sheet.header)):
            if c in taken or not sheet.header[c].strip():
                continue
            hits = sum(1 for cid, want in expected.items() if _cell(sheet, sheet.rows[cid], c) == want)
            # values where nothing was kept: an owner's own column of codes, not ours renamed
            surplus = sum(1 for cid, r in sheet.rows.items() if cid not in expected and _cell(sheet, r, c))
            if hits > best_hits and surplus <= SURPLUS_SHARE * hits:
                best, best_hits = c, hits
        if best is not None and best_hits >= RECOGNISE_SHARE * len(expected):
            sheet.positions[column] = best
            taken.add(best)
            aliases[column] = sheet.header[best]
    return aliases


def _cell(sheet: ClientsGrid, row: int, col: int) -> str:
    line = sheet.grid[row]
    return id_text(line[col]) if col < len(line) else ""


def merge_owner_values(table: ClientTable, sheet: ClientsGrid,
                       saved: Mapping[str, Mapping[str, str]] | None = None) -> tuple[ClientTable, Owners]:
    """The CRM table with the owner columns as they stand: the sheet's for a client in one row
    of it; the kept ones for a client whose row or column is missing or whose id is in two
    rows; the CRM's own for a client never seen in the sheet."""
    saved = saved or {}
    owners = Owners()
    frame = table.frame.copy()
    ids = frame["id"].fillna("").astype(str)
    for column in OWNER_COLUMNS:
        in_sheet = column in sheet.positions
        if not in_sheet and not sheet.empty and any(v.get(column) for v in saved.values()):
            owners.restored_columns.append(column)
        values = []
        for cid, crm_value in zip(ids.tolist(), frame[column].tolist(), strict=True):
            row = sheet.rows.get(cid)
            if row is not None and in_sheet:
                text = _cell(sheet, row, sheet.positions[column])
                owners.seen.setdefault(cid, {})[column] = text
                values.append(text or None)
            elif cid in saved or row is not None or cid in sheet.duplicates:
                values.append(saved.get(cid, {}).get(column) or None)
            else:
                values.append(None if crm_value is None or crm_value is pd.NA else crm_value)
        frame[column] = pd.array(values, dtype="string")
    if not sheet.empty:
        owners.restored_rows = [cid for cid in ids if cid and cid not in sheet.rows
                                and cid not in sheet.duplicates and cid in saved]
    return ClientTable(frame, table.problems, table.source_columns), owners
