"""The row-by-row planner of the Clients tab as it was before planning became column-wise
(sheets_sync.plan._plan_clients): the oracle the property test compares the new one with.
Kept as it was, except for its imports; its snapshot is the older ``{(client id, column):
text}`` mapping."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from sheets_sync.layout import ClientsGrid, build_layout, same, snapshot_text
from sheets_sync.owners import Owners
from sheets_sync.plan import Inputs, Summary, layout_signature
from sheets_sync.sheets.base import ColumnSpec, TabWrite, WriteBatch
from sheets_sync.sheets.guard import header_text
from sheets_sync.table import Problem


def _desired(row: pd.Series, spec: ColumnSpec, raw_values: dict[str, Any],
             changed_at: str | None) -> Any:
    name = spec.name
    if name == "changed_at":
        return date.fromisoformat(changed_at[:10]) if changed_at else None
    if name == "crm_status":
        return None
    if spec.role == "crm":
        if name in raw_values:  # a value that could not be parsed is shown as written
            return raw_values[name]
        value = row.get(name)
    else:
        value = row.get(name)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if type(value) is str:  # the common case, answered early
        return value or None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, float):
        if value != value:
            return None
        if spec.kind in ("money", "percent"):
            value = round(value, 2)
        return int(value) if value.is_integer() and spec.kind == "count" else value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) and spec.kind == "bool":
        return value
    return value if not isinstance(value, str) or value else None


def _plan_clients(inp: Inputs, columns: list[ColumnSpec], sheet: ClientsGrid,
                  outcome: pd.DataFrame, changed_at: dict[str, str],
                  snapshot: dict[tuple[str, str], str], summary: Summary,
                  problems: dict[Any, list[Problem]], saved: dict[str, dict[str, str]] | None = None,
                  owners: Owners | None = None,
                  ) -> tuple[WriteBatch, dict[tuple[str, str], str], list[dict[str, str]]]:
    cfg = inp.config.sheet
    created = sheet.empty
    header = list(sheet.header)
    positions = dict(sheet.positions)
    new_columns = []
    for spec in columns:  # a missing column of ours is recreated at the end, never in between
        if spec.name not in positions:
            positions[spec.name] = len(header)
            new_columns.append(len(header))
            header.append(spec.header)
    tw = TabWrite(cfg.clients_tab, header, created=created,
                  new_columns=[] if created else new_columns,
                  guard_col=positions["id"], header_row=sheet.header_row,
                  read_header=None if created else [header_text(h) for h in sheet.header])
    tw.kinds = {positions[s.name]: s.kind for s in columns}
    tw.columns = dict(positions)
    if created or new_columns or inp.state.layout != layout_signature(inp.rules):
        tw.layout = build_layout(columns, inp.rules)
    new_snapshot: dict[tuple[str, str], str] = {}
    edits: list[dict[str, str]] = []
    # only the columns read below: boxing every cell of every column is most of the cost
    used = [c for c in outcome.columns if c in {"id", "name", "category"} or c in positions]
    records = outcome[used].to_dict("index")
    ours = [(spec, positions[spec.name], sheet.positions.get(spec.name)) for spec in columns
            if spec.role not in ("owner", "formula")]
    for label, row in records.items():
        cid = str(row["id"])
        raw_values = {p.column: p.value for p in problems.get(label, ())
                      if p.value is not None}
        when = changed_at.get(cid)
        if cid in sheet.duplicates:  # in two rows: neither is written until an owner deletes one
            continue
        r = sheet.rows.get(cid)
        if r is None:
            line: list[Any] = [None] * len(header)
            for spec in columns:
                if spec.role == "formula":
                    continue
                if spec.role == "owner":
                    value = row.get(spec.name)
                    line[positions[spec.name]] = None if value is None or value is pd.NA else value
                else:
                    value = _desired(row, spec, raw_values, when)
                    line[positions[spec.name]] = value
                    if spec.role == "crm":
                        new_snapshot[(cid, spec.name)] = snapshot_text(value)
            tw.appends.append(line)
            if len(summary.examples) < 3:
                summary.examples.append(f"new row for client {cid} ({row.get('name')}): "
                                        f"{row['category']}")
            continue
        guarded = False
        grid_line = sheet.grid[r]
        for spec, col, sheet_col in ours:
            want = _desired(row, spec, raw_values, when)
            have = None
            if sheet_col is not None and sheet_col < len(grid_line):
                have = grid_line[sheet_col]
            differs = not same(have, want)
            if spec.role == "crm":
                new_snapshot[(cid, spec.name)] = snapshot_text(want)
                before = snapshot.get((cid, spec.name))
                if before is not None and differs and snapshot_text(have) != before:
                    edits.append({"id": cid, "column": spec.header, "sheet": snapshot_text(have),
                                  "crm": snapshot_text(want)})
            if differs:
                tw.updates.append((r, col, want))
                guarded = True
                if len(summary.examples) < 5 and spec.name == "category":
                    summary.examples.append(f"client {cid}: {have or '(none)'} -> {want}")
        if guarded:
            tw.guard[r] = cid
    for column in owners.restored_columns if owners else ():
        col = positions[column]
        rows = [(cid, r) for cid, r in sheet.rows.items()]
        rows += [(cid, r) for cid, found in sheet.duplicates.items() for r in found]  # copies too
        for cid, r in rows:
            value = (saved or {}).get(cid, {}).get(column)
            if value:
                tw.updates.append((r, col, value))
                tw.guard[r] = cid
    present = set(outcome["id"].astype(str))
    today = inp.now.date().isoformat()
    status_col = positions["crm_status"]
    for cid, r in sheet.rows.items():
        if cid in present:
            continue
        have = sheet.value(cid, "crm_status")
        if not (isinstance(have, str) and have.startswith("not in the CRM")):
            tw.updates.append((r, status_col, f"not in the CRM since {today}"))
            tw.guard[r] = cid
            summary.rows_gone += 1
    summary.rows_added = len(tw.appends)
    summary.cells_updated = len(tw.updates)
    return WriteBatch([tw]), new_snapshot, edits
