"""Planning one sync pass: pure functions from what was read to what must be written.

    make_plan(Inputs) -> Plan            categories, changes, what the CRM must get, the owners'
                                         values; refuses a sheet that lost its structure
    plan_sheet(plan, inputs, ledger)     the cells of the Clients tab to write, the new snapshot,
                                         the owner edits the CRM's values replace

Nothing here reads or writes a file, a sheet, a CRM or the state store: :class:`Inputs` holds
what the sync read (the CRM table, the sheet's grids, a :class:`StateView` of the state store),
so the planner and the owner scenarios are tested with plain values. ``plan_sheet`` is separate
because the Clients tab shows the CRM's rejections of this very pass: it runs after the CRM
write, on the ledger that write left.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import zip_longest
from typing import Any

import numpy as np
import pandas as pd

from .categorize import UNQUALIFIED, manual_code
from .config import Config
from .errors import ConfigError, ExitCode
from .i18n import _, language
from .layout import (
    ClientsGrid,
    build_layout,
    clients_columns,
    known_headers,
    read_clients,
    same,
    snapshot_text,
    unknown_codes,
)
from .outcome import categorized
from .owners import Owners, check_structure
from .rules import RuleSet
from .rules.words import words_for
from .sheets.base import ColumnSpec, Grid, TabWrite, WriteBatch
from .sheets.guard import header_text
from .state import Change, Snapshot, StateStore, float_hashes, text_hashes
from .table import COLUMNS, ClientTable, Problem, header_key, resolve_mapping


@dataclass
class Summary:
    """What a sync did (or, dry, would do): printed for people, ``--json`` for machines."""

    clients: int = 0
    categories: dict[str, int] = field(default_factory=dict)
    rows_added: int = 0
    cells_updated: int = 0
    rows_gone: int = 0
    crm_written: int = 0
    crm_rejected: list[dict[str, str]] = field(default_factory=list)
    changes: list[dict[str, str]] = field(default_factory=list)
    unqualified: list[dict[str, str]] = field(default_factory=list)
    sheet_problems: list[str] = field(default_factory=list)
    #: what the sync repaired or recognised in the sheet (a row put back, a renamed column)
    notices: list[str] = field(default_factory=list)
    duplicate_ids: list[str] = field(default_factory=list)
    #: manual categories that are no code: row (as the owner sees it), client id, value
    unknown_codes: list[dict[str, Any]] = field(default_factory=list)
    overwritten_edits: list[dict[str, str]] = field(default_factory=list)
    dry_run: bool = False
    sheet: str = ""
    examples: list[str] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        return not (self.rows_added or self.cells_updated or self.crm_written
                    or self.crm_rejected or self.changes)

    @property
    def exit_code(self) -> ExitCode:
        partial = self.unqualified or self.crm_rejected or self.duplicate_ids
        return ExitCode.PARTIAL if partial else ExitCode.OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "clients": self.clients, "categories": self.categories, "dry_run": self.dry_run,
            "sheet": {"where": self.sheet, "rows_added": self.rows_added,
                      "cells_updated": self.cells_updated, "rows_gone": self.rows_gone},
            "crm": {"written": self.crm_written, "rejected": self.crm_rejected},
            "changes": self.changes, "unqualified": self.unqualified,
            "sheet_problems": self.sheet_problems, "notices": self.notices,
            "duplicate_ids": self.duplicate_ids, "unknown_codes": self.unknown_codes,
            "overwritten_edits": self.overwritten_edits,
            "nothing_to_do": self.nothing_to_do, "exit_code": int(self.exit_code),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2, default=str)

    def to_text(self) -> str:
        """The summary for people, in the language in force."""
        counts = ", ".join(f"{k} {v}" for k, v in self.categories.items())
        if self.nothing_to_do:
            extra = _("; {n} unqualified").format(n=len(self.unqualified)) if self.unqualified else ""
            head = (_("No changes to make (dry run): {clients} clients, sheet and CRM up to date{extra}.")
                    if self.dry_run else _("No changes: {clients} clients, sheet and CRM up to date{extra}.")
                    ).format(clients=self.clients, extra=extra)
            return "\n".join([head] + self._sheet_lines())
        gone = _(", {n} marked gone from the CRM").format(n=self.rows_gone) if self.rows_gone else ""
        did = (_("Would: sheet +{rows} rows, {cells} cells updated{gone}; CRM {crm} categories written; "
                 "{changes} category changes in history.") if self.dry_run else
               _("Did: sheet +{rows} rows, {cells} cells updated{gone}; CRM {crm} categories written; "
                 "{changes} category changes in history."))
        lines = [_("{clients} clients: {counts}.").format(clients=self.clients, counts=counts),
                 did.format(rows=self.rows_added, cells=self.cells_updated, gone=gone, crm=self.crm_written,
                            changes=len(self.changes))]
        lines += [_("  e.g. {example}").format(example=e) for e in self.examples[:5]]
        if self.crm_rejected:
            lines.append(_("CRM rejected {n} (retried at the next sync):").format(n=len(self.crm_rejected)))
            lines += [f"  client {r['id']} -> {r['category']}: {r['message']}"
                      for r in self.crm_rejected[:10]]
        if self.overwritten_edits:
            lines.append(_("{n} edits of CRM columns in the sheet were replaced by the CRM's value (kept in "
                           "History; edit them in the CRM):").format(n=len(self.overwritten_edits)))
            lines += [f"  client {e['id']} {e['column']}: {e['sheet']!r} -> {e['crm']!r}"
                      for e in self.overwritten_edits[:10]]
        if self.unqualified:
            lines.append(_("{n} unqualified (fix the data in the CRM):").format(n=len(self.unqualified)))
            lines += [_("  client {id} {name}: {problems}").format(**u) for u in self.unqualified[:10]]
            if len(self.unqualified) > 10:
                lines.append(_("  ... and {n} more (see --json)").format(n=len(self.unqualified) - 10))
        return "\n".join(lines + self._sheet_lines())

    def _sheet_lines(self) -> list[str]:
        lines = list(self.notices[:10])
        if self.sheet_problems:
            lines.append(_("{n} problems in the sheet:").format(n=len(self.sheet_problems)))
            lines += [f"  {p}" for p in self.sheet_problems[:10]]
            if len(self.sheet_problems) > 10:
                lines.append(_("  ... and {n} more (see --json)").format(n=len(self.sheet_problems) - 10))
        return lines


@dataclass(frozen=True)
class SyncOptions:
    """What a person may allow a sync that it would otherwise refuse."""

    #: the CRM really lost this many clients since the last sync: go on
    accept_shrink: bool = False
    #: the Clients tab or the workbook is gone on purpose: make it anew, owner values filled in
    rebuild_sheet: bool = False
    #: write the workbook although Excel/LibreOffice's lock file says it is open
    force: bool = False


def owner_notices(owners: Owners, found: dict[str, str], tab: str) -> list[str]:
    out = [f"Column {header!r} of tab {tab!r} is recognised as {column} (renamed); its values are used."
           for column, header in found.items()]
    for column in owners.restored_columns:
        out.append(f"Column {column} was missing from tab {tab!r}: it is added again at the end, with "
                   "the values sheets-sync kept.")
    if owners.restored_rows:
        shown = ", ".join(owners.restored_rows[:5]) + (" ..." if len(owners.restored_rows) > 5 else "")
        out.append(f"{len(owners.restored_rows)} clients still in the CRM had no row in tab {tab!r} "
                   f"({shown}): their rows are added again with the manual categories and notes "
                   "sheets-sync kept.")
    return out


def _with_ledger(outcome: pd.DataFrame, ledger: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Problems of each client's row, plus the CRM's rejection of its category if any."""
    if not ledger:
        return outcome
    out = outcome.copy()
    ids = out["id"].astype(str)
    for label, cid in ids.items():
        entry = ledger.get(cid)
        if entry is None:
            continue
        note = (f"CRM rejected category {entry['category']} ({entry['message']}); retried at each sync, "
                f"{entry['attempts']} attempt(s) so far")
        before = out.at[label, "problems"]
        out.at[label, "problems"] = f"{before}; {note}" if isinstance(before, str) and before else note
    return out


def sheet_columns(config: Config, rules: RuleSet, raw: pd.DataFrame) -> list[ColumnSpec]:
    """Our columns of the Clients tab for a CRM table with the columns of ``raw``."""
    from .orders.columns import ORDER_COLUMNS  # the deals' metrics ([orders]) show beside them

    mapped = resolve_mapping(raw.columns, config.fields, ORDER_COLUMNS)
    crm_columns = [c for c in dict.fromkeys([*COLUMNS, *rules.columns, *ORDER_COLUMNS])
                   if (c in mapped or (c in ORDER_COLUMNS and c in rules.columns))
                   and c not in ("manual_category", "notes")]
    return clients_columns(crm_columns, config.sheet.headers, {**ORDER_COLUMNS, **rules.columns})


def _counts(outcome: pd.DataFrame, rules: RuleSet) -> dict[str, int]:
    counts = outcome["category"].value_counts()
    order = rules.codes + [UNQUALIFIED]
    return {code: int(counts.get(code, 0)) for code in order if counts.get(code, 0)}


def _category_changes(at: datetime, outcome: pd.DataFrame, last: dict[str, tuple[str, str]]) -> list[Change]:
    now = at.isoformat(timespec="seconds")
    changes = []
    ids = pd.Series([str(v) for v in outcome["id"].tolist()], index=outcome.index, dtype=object)
    previous = pd.Series([last[cid][0] if cid in last else "" for cid in ids.tolist()], index=outcome.index,
                         dtype=object)
    moved = (previous != outcome["category"].astype(object)).to_numpy(dtype=bool)
    columns = ["id", "name", "category", "reason", "manual_category"]
    for row, cid, before in zip(outcome.loc[moved, columns].itertuples(), ids[moved], previous[moved], strict=True):
        if before != row.category:
            manual = isinstance(row.manual_category, str) and row.category != UNQUALIFIED and \
                manual_code(row.manual_category, [str(row.category)]) is not None
            changes.append(Change(cid, "" if pd.isna(row.name) else str(row.name), before,
                                  str(row.category), str(row.reason),
                                  "manual" if manual else "rule", now))
    return changes


def _want_one(value: Any, kind: str) -> Any:
    """One CRM or computed value as the sheet gets it (``None``: an empty cell)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if type(value) is str:  # the common case, answered early
        return value or None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, float):
        if value != value:
            return None
        if kind in ("money", "percent"):
            value = round(value, 2)
        return int(value) if value.is_integer() and kind == "count" else value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) and kind == "bool":
        return value
    return value if not isinstance(value, str) or value else None


def _native(value: Any) -> Any:
    """A value of an object or extension column as a plain Python one (NA is ``None``), as
    ``DataFrame.to_dict`` gives it."""
    if value is pd.NA:
        return None
    if isinstance(value, np.datetime64 | np.timedelta64):
        return pd.Timestamp(value) if isinstance(value, np.datetime64) else pd.Timedelta(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _natives(values: pd.Series) -> list[Any]:
    """Every value of a column as :func:`_native` gives it (numpy columns as they are)."""
    out = values.tolist()
    if values.dtype == object or isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        out = [_native(v) for v in out]
    return out


def _round2(values: np.ndarray) -> np.ndarray:
    """Python's ``round(v, 2)`` of every value (numpy's rounding differs near a half cent:
    those few are rounded by Python)."""
    with np.errstate(all="ignore"):
        out = np.round(values, 2)
        scaled = values * 100
        near = np.flatnonzero((np.abs(scaled - np.floor(scaled) - 0.5) < 1e-4) | (np.abs(values) >= 1e9))
    for i in near:
        out[i] = round(float(values[i]), 2)
    return out


def _want_column(values: pd.Series | None, kind: str) -> np.ndarray:
    """:func:`_want_one` of every value of a column, column-wise for the common dtypes."""
    if values is None:
        return np.full(0, None, dtype=object)
    dtype = values.dtype
    n = len(values)
    if pd.api.types.is_float_dtype(dtype):
        floats = values.to_numpy(dtype="float64", na_value=np.nan)
        blank = np.isnan(floats)
        if kind in ("money", "percent"):
            floats = _round2(floats)
        out = floats.astype(object)
        if kind == "count":
            whole = ~blank & (floats == np.trunc(floats)) & (np.abs(floats) < 2.0 ** 62)
            out[whole] = floats[whole].astype(np.int64).astype(object)
            big = np.flatnonzero(~blank & ~whole & np.isfinite(floats) & (floats == np.trunc(floats)))
            for i in big:
                out[i] = int(floats[i])
        out[blank] = None
        return out
    if pd.api.types.is_datetime64_any_dtype(dtype):
        out = np.array(values.dt.date, dtype=object)
        out[values.isna().to_numpy()] = None
        return out
    if isinstance(dtype, pd.StringDtype) or pd.api.types.is_integer_dtype(dtype) \
            or pd.api.types.is_bool_dtype(dtype):
        out = np.empty(n, dtype=object)
        out[:] = values.tolist()
        blank = values.isna().to_numpy()
        out[blank] = None
        if isinstance(dtype, pd.StringDtype):
            out[~blank & (out == "")] = None
        return out
    out = np.empty(n, dtype=object)
    out[:] = [_want_one(v, kind) for v in _natives(values)]
    return out


def _from_sheet_column(values: Sequence[Any], kind: str) -> np.ndarray:
    """Sheet values as we compare them: a date-time at midnight in a date column is its date
    (as :func:`~sheets_sync.layout.same` reads it), so that equal dates compare equal
    column-wise."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    if kind != "date":
        return out
    out[:] = [v.date() if type(v) is datetime and not (v.hour or v.minute or v.second or v.microsecond)
              and v.tzinfo is None else v for v in values]
    return out


def _differs(have: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Where a sheet value and a wanted value do not show the same thing (:func:`same`):
    equal values are found column-wise, the rest are asked one by one."""
    with np.errstate(all="ignore"):
        equal = np.asarray(have == want, dtype=bool) if len(have) else np.zeros(0, dtype=bool)
    out = ~equal
    for i in np.flatnonzero(out):
        if same(have[i], want[i]):
            out[i] = False
    return out


def cell_hashes(values: np.ndarray) -> np.ndarray:
    """The hash of :func:`~sheets_sync.layout.snapshot_text` of every value
    (:func:`~sheets_sync.state.text_hashes`), numbers without making their text."""
    n = len(values)
    out = np.zeros(n, dtype=np.uint64)
    if not n:
        return out
    types = np.fromiter(map(type, values), dtype=object, count=n)
    numbers = np.equal(types, float) | np.equal(types, int)
    if numbers.any():
        try:
            f = np.array(values[numbers].tolist(), dtype="float64")
        except OverflowError:  # an integer beyond 64 bits: by its text below
            numbers[:] = False
        else:
            blank = np.isnan(f)
            hashed = np.zeros(len(f), dtype=np.uint64)
            hashed[~blank] = float_hashes(f[~blank])
            hashed[blank] = text_hashes([""])[0]
            out[numbers] = hashed
    blank = np.equal(types, type(None))
    if blank.any():
        out[blank] = text_hashes([""])[0]
    days = np.equal(types, date)
    if days.any():  # a date's text is never a number's: hashed as text straight away
        iso = np.array(list(map(date.isoformat, values[days].tolist())), dtype=object)
        hashed = pd.util.hash_array(iso, categorize=False)
        hashed[hashed == 0] = 1
        out[days] = hashed
    for flag in (True, False):  # snapshot_text(True) is "True"
        same_flag = np.fromiter((v is flag for v in values), dtype=bool, count=n) if np.equal(types, bool).any() \
            else np.zeros(n, dtype=bool)
        if same_flag.any():
            out[same_flag] = text_hashes([str(flag)])[0]
            blank |= same_flag  # counted as done
    strings = np.equal(types, str)
    if strings.any():
        out[strings] = text_hashes([v if v.strip() else "" for v in values[strings].tolist()])
    rest = ~(numbers | blank | days | strings)
    if rest.any():
        out[rest] = text_hashes([snapshot_text(v) for v in values[rest].tolist()])
    return out


def _plan_clients(inp: Inputs, columns: list[ColumnSpec], sheet: ClientsGrid,
                  outcome: pd.DataFrame, changed_at: dict[str, str],
                  snapshot: Snapshot, summary: Summary,
                  problems: dict[Any, list[Problem]], saved: dict[str, dict[str, str]] | None = None,
                  owners: Owners | None = None,
                  ) -> tuple[WriteBatch, Snapshot, list[dict[str, str]]]:
    """The cells of the Clients tab to write, column by column: for each column of ours the
    wanted values of every client against the sheet's, as arrays."""
    cfg = inp.config.sheet
    created = sheet.empty
    header = list(sheet.header)
    positions = dict(sheet.positions)
    # a column of ours under its header in another language (the language was switched) is
    # relabelled in place; an owner's own header for it (an alias) is kept
    relabels: dict[int, str] = {}
    was = inp.state.former_language
    for spec in columns if was else ():
        col = sheet.positions.get(spec.name)
        if col is None or header_key(header[col]) == header_key(spec.header):
            continue
        if header_key(header[col]) in {header_key(h) for h in known_headers(spec.name, [was])}:
            relabels[col] = header[col] = spec.header
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
    tw.relabels = relabels
    tw.updates += [(sheet.header_row, col, text) for col, text in relabels.items()]
    if created or new_columns or relabels or inp.state.layout != layout_signature(inp.rules):
        tw.layout = build_layout(columns, inp.rules)
    edits: list[dict[str, str]] = []

    ids = [str(v) for v in outcome["id"].tolist()]
    keep = np.array([cid not in sheet.duplicates for cid in ids], dtype=bool)
    rows_at = np.array([sheet.rows.get(cid, -1) for cid in ids], dtype=np.intp)
    existing = np.flatnonzero(keep & (rows_at >= 0))  # positions in outcome
    added = np.flatnonzero(keep & (rows_at < 0))
    kept = np.flatnonzero(keep)
    n = len(ids)

    def col(name: str) -> pd.Series | None:
        return outcome[name] if name in outcome.columns else None

    # the raw text of a value that could not be parsed is shown as written (CRM columns)
    raw: dict[str, dict[int, Any]] = {}
    if problems:
        where = outcome.index.get_indexer(list(problems))
        for label, pos in zip(problems, where, strict=True):
            if pos < 0:
                continue
            for name, value in {p.column: p.value for p in problems[label] if p.value is not None}.items():
                raw.setdefault(name, {})[int(pos)] = value
    dates = {cid: date.fromisoformat(at[:10]) for cid, at in changed_at.items() if at}

    ours = [spec for spec in columns if spec.role not in ("owner", "formula")]
    wants: dict[str, np.ndarray] = {}
    for spec in ours:
        if spec.name == "changed_at":
            want = np.empty(n, dtype=object)
            want[:] = [dates.get(cid) for cid in ids]
        elif spec.name == "crm_status":
            want = np.full(n, None, dtype=object)
        else:
            values = col(spec.name)
            want = np.full(n, None, dtype=object) if values is None else _want_column(values, spec.kind)
            if spec.role == "crm":
                for pos, value in raw.get(spec.name, {}).items():
                    want[pos] = value
        wants[spec.name] = want

    # rows already in the sheet: what differs
    grid = sheet.grid
    by_column = list(zip_longest(*[grid[r] for r in rows_at[existing].tolist()]))  # the rows' columns
    differs = np.zeros((len(existing), len(ours)), dtype=bool)
    haves: dict[str, np.ndarray] = {}
    for j, spec in enumerate(ours):
        sheet_col = sheet.positions.get(spec.name)
        if sheet_col is None or sheet_col >= len(by_column):
            have = np.full(len(existing), None, dtype=object)
        else:
            have = _from_sheet_column(by_column[sheet_col], spec.kind)
        haves[spec.name] = have
        differs[:, j] = _differs(have, wants[spec.name][existing])

    # owner edits of CRM columns: the sheet differs from both the CRM and what we wrote last
    snap_rows = snapshot.index.get_indexer([ids[i] for i in existing]) if len(snapshot) else \
        np.full(len(existing), -1, dtype=np.intp)
    edit_cells: dict[tuple[int, int], dict[str, str]] = {}
    for j, spec in enumerate(ours):
        if spec.role != "crm":
            continue
        hit = np.flatnonzero(differs[:, j])
        if not len(hit):
            continue
        before = snapshot.column(spec.name, snap_rows[hit])
        have = haves[spec.name][hit]
        edited = (before != 0) & (cell_hashes(have) != before)
        for k in np.flatnonzero(edited):
            i = int(hit[k])
            edit_cells[(i, j)] = {"id": ids[existing[i]], "column": spec.header, "sheet": snapshot_text(have[k]),
                                  "crm": snapshot_text(wants[spec.name][existing[i]])}

    cat_j = next((j for j, spec in enumerate(ours) if spec.name == "category"), None)
    rows_i, cols_j = np.nonzero(differs)
    for i, j in zip(rows_i.tolist(), cols_j.tolist(), strict=True):
        r = int(rows_at[existing[i]])
        tw.updates.append((r, positions[ours[j].name], wants[ours[j].name][existing[i]]))
        if (i, j) in edit_cells:
            edits.append(edit_cells[(i, j)])
    for i in np.flatnonzero(differs.any(axis=1)):
        tw.guard[int(rows_at[existing[i]])] = ids[existing[i]]

    # new rows
    if len(added):
        block = np.full((len(added), len(header)), None, dtype=object)
        for spec in columns:
            if spec.role == "formula":
                continue
            if spec.role == "owner":
                values = col(spec.name)
                if values is None:
                    continue
                got = np.empty(len(added), dtype=object)
                got[:] = _natives(values.iloc[added])
                block[:, positions[spec.name]] = got
            else:
                block[:, positions[spec.name]] = wants[spec.name][added]
        tw.appends.extend(block.tolist())

    # examples, in the order of the clients
    if len(summary.examples) < 5:
        name_col = col("name")

        def name(pos: int) -> Any:
            return None if name_col is None else _native(name_col.iat[pos])
        changed_cat = set(existing[differs[:, cat_j]].tolist()) if cat_j is not None else set()
        for pos in sorted(set(added.tolist()) | changed_cat):
            if len(summary.examples) >= 5:
                break
            if pos in changed_cat:
                i = int(np.searchsorted(existing, pos))
                have = haves["category"][i]
                summary.examples.append(f"client {ids[pos]}: {have or '(none)'} -> "
                                        f"{wants['category'][pos]}")
            elif len(summary.examples) < 3:
                summary.examples.append(f"new row for client {ids[pos]} ({name(pos)}): "
                                        f"{_native(outcome['category'].iat[pos])}")

    # the new snapshot: what the CRM columns of every client hold after this write
    crm = [spec.name for spec in ours if spec.role == "crm"]
    hashes = np.zeros((len(kept), len(crm)), dtype=np.uint64)
    for j, name in enumerate(crm):
        hashes[:, j] = cell_hashes(wants[name][kept])
    new_snapshot = Snapshot(tuple(ids[i] for i in kept), tuple(crm), hashes)

    for column in owners.restored_columns if owners else ():
        pos = positions[column]
        rows = [(cid, r) for cid, r in sheet.rows.items()]
        rows += [(cid, r) for cid, found in sheet.duplicates.items() for r in found]  # copies too
        for cid, r in rows:
            value = (saved or {}).get(cid, {}).get(column)
            if value:
                tw.updates.append((r, pos, value))
                tw.guard[r] = cid
    present = set(ids)
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
    _explain_in_place(tw, columns, positions, sheet, outcome)
    return WriteBatch([tw]), new_snapshot, edits


def _explain_in_place(tw: TabWrite, columns: list[ColumnSpec], positions: dict[str, int], sheet: ClientsGrid,
                      outcome: pd.DataFrame) -> None:
    """The reason as a note on each category cell, written when the reason changes (or the
    layout is made again); the computed columns to protect with a warning."""
    tw.protect = sorted(positions[s.name] for s in columns if s.role == "computed")
    if "category" not in positions or "reason" not in positions or "reason" not in outcome.columns:
        return
    cat, why = positions["category"], positions["reason"]
    tw.append_notes = (cat, why)
    if tw.layout is not None:  # every row: notes are part of the layout
        reasons = dict(zip(outcome["id"].astype(str), outcome["reason"], strict=True))
        tw.notes = [(r, cat, str(reasons[cid])) for cid, r in sheet.rows.items()
                    if isinstance(reasons.get(cid), str)]
    else:
        tw.notes = [(r, cat, str(v)) for r, c, v in tw.updates if c == why and isinstance(v, str)]


def _crm_changes(config: Config, rules: RuleSet, outcome: pd.DataFrame, raw: pd.DataFrame) -> dict[str, str]:
    field_name = config.crm.category_field
    if field_name not in raw.columns:
        raise ConfigError(f"The CRM has no category field {field_name!r}. Run `sheets-sync crm "
                       "setup` to create it, or set [crm] category_field in the config.")
    values = [v if isinstance(v, str) else "" if v is None or v is pd.NA or v != v else str(v)
              for v in raw[field_name].tolist()]
    current = dict(zip(raw[config.crm.id_field].astype(str).tolist(), values, strict=False))
    ids = outcome["id"].astype(str)
    categories = outcome["category"].astype(str)
    have = pd.Series([current.get(cid, "") for cid in ids.tolist()], index=ids.index, dtype=object)
    todo = (categories.isin(set(rules.codes)) & (have != categories)).to_numpy(dtype=bool)
    return dict(zip(ids[todo].tolist(), categories[todo].tolist(), strict=True))


def layout_signature(rules: RuleSet) -> str:
    """What the layout (colours, dropdown, notes, the Legend) is made from: the rules and the
    language."""
    return json.dumps([[c.code, c.title, c.colour, c.text, c.strategy] for c in rules.categories]
                      + [[s.code, s.text] for s in rules.stages] + [language()], ensure_ascii=False)


@dataclass(frozen=True)
class StateView:
    """What a pass needs from the state store, read once before planning."""

    last: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (category, since)
    ledger: dict[str, dict[str, Any]] = field(default_factory=dict)
    snapshot: Snapshot = field(default_factory=Snapshot)
    owner: dict[str, dict[str, str]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    sheet_clients: int = 0
    layout: str | None = None
    #: the language the sheet was last written in ("en" for a sheet of an earlier version)
    language: str = ""

    @classmethod
    def load(cls, store: StateStore) -> StateView:
        try:
            aliases = dict(json.loads(store.get("aliases") or "{}"))
        except (ValueError, TypeError):
            aliases = {}
        snapshot = store.snapshot()
        before = int(store.get("sheet_clients") or 0) or len(snapshot)
        layout = store.get("layout")
        was = store.get("language") or ("en" if layout else "")
        return cls(store.last_categories(), store.ledger(), snapshot, store.owner_values(), aliases,
                   before, layout, was)

    @property
    def former_language(self) -> str:
        """The sheet's language when it differs from the one in force, else empty."""
        return self.language if self.language and self.language != language() else ""


@dataclass(frozen=True)
class Inputs:
    """Everything a pass read: the config and rules, the time, the CRM, the sheet, the state."""

    config: Config
    rules: RuleSet
    now: datetime
    table: ClientTable
    raw: pd.DataFrame
    grids: dict[str, Grid | None]
    state: StateView
    options: SyncOptions = field(default_factory=lambda: SyncOptions())
    where: str = ""  # the sheet, for messages
    present: bool = True  # the workbook or spreadsheet exists (a missing tab is another thing)
    columns: list[ColumnSpec] = field(default_factory=list)


@dataclass
class Plan:
    """What one pass must write, before anything is written."""

    summary: Summary
    outcome: pd.DataFrame
    changes: list[Change]
    crm_changes: dict[str, str]
    sheet: ClientsGrid
    owners: Owners
    changed_at: dict[str, str]


def make_plan(inp: Inputs, dry_run: bool = False) -> Plan:
    """Categorize and decide what changes; raises :class:`~sheets_sync.errors.StructureError`
    when the sheet lost what owners decided (see :mod:`sheets_sync.owners`)."""
    cfg = inp.config.sheet
    view = inp.state
    sheet = read_clients(inp.grids.get(cfg.clients_tab), inp.columns, view.aliases, view.former_language)
    check_structure(sheet, tab=cfg.clients_tab, where=inp.where, before=view.sheet_clients, saved=view.owner,
                    present=inp.present, rebuild=inp.options.rebuild_sheet)
    done = categorized(inp.table, inp.rules, inp.now.date(), sheet=sheet, saved=view.owner)
    outcome, owners, found = done.outcome, done.owners, done.renamed
    # an alias lives while the owner's header is where our column is; back under its own header, it goes
    owners.aliases = {name: alias for name, alias in {**view.aliases, **found}.items()
                      if name in sheet.positions
                      and header_key(sheet.header[sheet.positions[name]]) == header_key(alias)}
    summary = Summary(clients=len(outcome), dry_run=dry_run, sheet=inp.where)
    summary.categories = _counts(outcome, inp.rules)
    unknown = unknown_codes(sheet, inp.rules.codes)
    summary.sheet_problems = [str(p) for p in [*sheet.problems, *unknown]] + [str(s) for s in done.skipped]
    by_row = {r: cid for cid, r in sheet.rows.items()}
    summary.unknown_codes = [{"row": p.row, "id": by_row.get(p.row - 1, ""), "value": p.value} for p in unknown]
    summary.duplicate_ids = sorted(sheet.duplicates)
    summary.notices = owner_notices(owners, found, cfg.clients_tab)
    changes = _category_changes(inp.now, outcome, view.last)
    summary.changes = [{"id": c.client_id, "name": c.name, "from": c.from_cat, "to": c.to_cat,
                        "source": c.source, "reason": c.reason} for c in changes]
    changed_at = {c.client_id: c.changed_at for c in changes}
    for cid, (_code, at) in view.last.items():
        changed_at.setdefault(cid, at)
    summary.unqualified = [
        {"id": str(r.id), "name": "" if pd.isna(r.name) else str(r.name), "problems": str(r.problems)}
        for r in outcome.loc[outcome["category"] == UNQUALIFIED, ["id", "name", "problems"]].itertuples()]
    crm_changes = _crm_changes(inp.config, inp.rules, outcome, inp.raw)
    summary.crm_written = len(crm_changes)
    summary.examples += [f"client {cid}: category -> {code} in the CRM"
                         for cid, code in list(crm_changes.items())[:2]]
    return Plan(summary, outcome, changes, crm_changes, sheet, owners, changed_at)


def plan_sheet(plan: Plan, inp: Inputs, ledger: dict[str, dict[str, Any]]
               ) -> tuple[WriteBatch, Snapshot, list[dict[str, str]], list[str]]:
    """The Clients tab's cells to write (with the CRM's rejections as the ledger holds them),
    the new snapshot, the owner edits of CRM columns the CRM's values replace, and the ledger
    entries of clients gone from the CRM (nothing left to retry)."""
    present = set(plan.outcome["id"].astype(str))
    gone = [cid for cid in ledger if cid not in present]
    outcome = _with_ledger(plan.outcome, {k: v for k, v in ledger.items() if k not in gone})
    titles = words_for(inp.rules).values  # the stage as people read it: its title in the language
    if titles and "stage" in outcome.columns:
        outcome = outcome.assign(stage=outcome["stage"].map(lambda v: titles.get(v, v), na_action="ignore"))
    batch, new_snapshot, edits = _plan_clients(inp, inp.columns, plan.sheet, outcome, plan.changed_at,
                                               inp.state.snapshot, plan.summary, inp.table.problems,
                                               inp.state.owner, plan.owners)
    plan.summary.overwritten_edits = edits
    if plan.sheet.duplicates:  # rows not written this pass keep what the sheet last got
        new_snapshot = new_snapshot.with_rows(inp.state.snapshot, plan.sheet.duplicates)
    return batch, new_snapshot, edits, gone


