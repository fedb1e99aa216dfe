"""One pass of the main job, as explicit steps; nothing here knows a vendor's name.

    read CRM ─▶ read sheet ─▶ merge owner columns ─▶ categorize ─▶ plan
        ─▶ record history (state) ─▶ write sheet (one batch) ─▶ write CRM (changed only)

The plan is always computed from the sources of truth (the CRM, the sheet, the state store),
never replayed from a log, so a run that died anywhere is finished by the next one. A step's
state is saved only when the step succeeded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from .categorize import UNQUALIFIED, categorize
from .checkpoints import checkpoint
from .config import Config
from .crm import CrmAdapter, open_crm
from .errors import ConcurrentEditError, CrmError, ExitCode, LockedError, SheetLockedError, ShrinkError
from .layout import (
    HISTORY_HEADER,
    ClientsGrid,
    build_layout,
    clients_columns,
    read_clients,
    same,
    snapshot_text,
)
from .live import LiveFormulas, compile_live, live_columns, pareto_bound
from .live import enabled as live_enabled
from .owners import Owners, check_structure, merge_owner_values, recognise_renamed
from .parsing import ParseError, id_text, parse_date, serial_datetime
from .reports import summary_rows
from .rules import RuleSet, load_rules
from .sheets import SheetBackend, open_sheet
from .sheets.base import ColumnSpec, TabWrite, WriteBatch
from .sheets.guard import header_text
from .state import Change, StateStore
from .table import COLUMNS, ClientTable, Kind, Problem, build_table, require_columns, resolve_mapping

Clock = Callable[[], datetime]
SUMMARY_TAB = "Summary"
CONCURRENT_RETRIES = 3


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
            "duplicate_ids": self.duplicate_ids, "overwritten_edits": self.overwritten_edits,
            "nothing_to_do": self.nothing_to_do, "exit_code": int(self.exit_code),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2, default=str)

    def to_text(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.categories.items())
        if self.nothing_to_do and not self.dry_run:
            extra = f"; {len(self.unqualified)} unqualified" if self.unqualified else ""
            head = f"No changes: {self.clients} clients, sheet and CRM up to date{extra}."
            return "\n".join([head] + self._sheet_lines())
        verb = "Would" if self.dry_run else "Did"
        lines = [f"{self.clients} clients: {counts}.",
                 f"{verb}: sheet +{self.rows_added} rows, {self.cells_updated} cells updated"
                 f"{f', {self.rows_gone} marked gone from the CRM' if self.rows_gone else ''}; "
                 f"CRM {self.crm_written} categories written; {len(self.changes)} category "
                 "changes in history."]
        lines += [f"  e.g. {e}" for e in self.examples[:5]]
        if self.crm_rejected:
            lines.append(f"CRM rejected {len(self.crm_rejected)} (retried at the next sync):")
            lines += [f"  client {r['id']} -> {r['category']}: {r['message']}"
                      for r in self.crm_rejected[:10]]
        if self.overwritten_edits:
            lines.append(f"{len(self.overwritten_edits)} edits of CRM columns in the sheet were "
                         "replaced by the CRM's value (kept in History; edit them in the CRM):")
            lines += [f"  client {e['id']} {e['column']}: {e['sheet']!r} -> {e['crm']!r}"
                      for e in self.overwritten_edits[:10]]
        if self.unqualified:
            lines.append(f"{len(self.unqualified)} unqualified (fix the data in the CRM):")
            lines += [f"  client {u['id']} {u['name']}: {u['problems']}"
                      for u in self.unqualified[:10]]
            if len(self.unqualified) > 10:
                lines.append(f"  ... and {len(self.unqualified) - 10} more (see --json)")
        return "\n".join(lines + self._sheet_lines())

    def _sheet_lines(self) -> list[str]:
        lines = list(self.notices[:10])
        if self.sheet_problems:
            lines.append(f"{len(self.sheet_problems)} problems in the sheet:")
            lines += [f"  {p}" for p in self.sheet_problems[:10]]
            if len(self.sheet_problems) > 10:
                lines.append(f"  ... and {len(self.sheet_problems) - 10} more (see --json)")
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
    #: a CRM read may lose at most this many clients, and this share of them, without a refusal
    max_gone: int = 50
    max_gone_share: float = 0.10
    min_gone: int = 5  # fewer than this never counts as a shrink, except all of them


@dataclass
class Context:
    config: Config
    rules: RuleSet
    crm: CrmAdapter
    sheet: SheetBackend
    state: StateStore
    now: datetime
    progress: Any = None
    options: SyncOptions = field(default_factory=SyncOptions)
    #: state-store values to save once the sheet is written
    state_after_write: dict[str, str] = field(default_factory=dict)


def _step(ctx: Context, name: str) -> None:
    if ctx.progress is not None:
        ctx.progress.set_postfix_str(name)
        ctx.progress.update(1)


def open_context(config: Config, clock: Clock | None = None, options: SyncOptions | None = None) -> Context:
    """Load the rules first (a broken rules file fails before any data is touched)."""
    rules = load_rules(config.rules_path)
    started = (clock or now)()
    return Context(config, rules, open_crm(config.crm), open_sheet(config.sheet),
                   StateStore(config.state_path), started, options=options or SyncOptions())


def now() -> datetime:
    """The current time; ``SHEETS_SYNC_NOW`` (ISO 8601) fixes it, for tests and replays."""
    import os

    fixed = os.environ.get("SHEETS_SYNC_NOW")
    if fixed:
        return datetime.fromisoformat(fixed)
    return datetime.now().replace(microsecond=0)


_now = now  # the name the export module imports


def read_crm(ctx: Context) -> tuple[ClientTable, pd.DataFrame]:
    raw = ctx.crm.fetch()
    checkpoint("crm-read")
    mapping = dict(ctx.config.fields)
    table = build_table(raw, mapping, ctx.config.parsing, extra=ctx.rules.columns)
    require_columns(table, ctx.rules.required, raw.columns, f"The CRM ({ctx.config.crm.kind}) data")
    return table, raw


def sync_lock(config: Config, wait: float = 0.0) -> FileLock:
    """The lock that keeps a second sync of the same config from running beside the first.

    It is an OS-level lock (filelock), so a lock left by a killed process is released by the
    OS and never blocks forever."""
    return FileLock(str(config.state_path) + ".lock", timeout=wait)


@contextmanager
def locked(config: Config, wait: float = 0.0) -> Iterator[None]:
    lock = sync_lock(config, wait)
    try:
        lock.acquire()
    except Timeout:
        raise LockedError(f"Another sync of {config.path.name} is running (lock "
                          f"{lock.lock_file}); waited {wait:g} s. Try again later, or pass "
                          "--wait SECONDS.") from None
    try:
        yield
    finally:
        lock.release()


def current_outcome(ctx: Context) -> pd.DataFrame:
    """The categorized client table as a sync would see it (CRM + the sheet's owner columns,
    or the ones the state store kept where the sheet lost them), without writing anything."""
    table, raw = read_crm(ctx)
    columns = sheet_columns(ctx.config, ctx.rules, raw)
    grid = ctx.sheet.read([ctx.config.sheet.clients_tab])[ctx.config.sheet.clients_tab]
    sheet = read_clients(grid, columns, _aliases(ctx))
    saved = ctx.state.owner_values()
    recognise_renamed(sheet, saved)
    merged, _ = merge_owner_values(table, sheet, saved)
    return categorize(merged, ctx.rules, ctx.now.date()).frame


def _aliases(ctx: Context) -> dict[str, str]:
    try:
        return dict(json.loads(ctx.state.get("aliases") or "{}"))
    except (ValueError, TypeError):
        return {}


def run_sync(ctx: Context, *, dry_run: bool = False, progress: Any = None) -> Summary:
    """One pass; see the module docstring. ``progress`` is an optional tqdm-like bar."""
    ctx.progress = progress
    _step(ctx, "reading the CRM")
    table, raw = read_crm(ctx)
    if not ctx.options.accept_shrink:
        check_shrink(ctx, table)
    done: dict[str, Any] = {}  # steps that must not run twice when a pass is re-planned
    for attempt in range(CONCURRENT_RETRIES):
        try:
            return _pass(ctx, table, raw, dry_run, done)
        except ConcurrentEditError:
            if attempt == CONCURRENT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def check_shrink(ctx: Context, table: ClientTable) -> None:
    """Refuse a CRM read that lost many of the clients the last sync had: a partial answer of a
    vendor (or a wrong filter) must not mark them gone and move everyone's Pareto share."""
    before = ctx.state.client_ids()
    if not before:
        return
    now_ids = set(table.frame["id"].map(id_text))
    gone = len(before - now_ids)
    opts = ctx.options
    share = gone > opts.max_gone_share * len(before) and gone > opts.min_gone
    if not now_ids or gone > opts.max_gone or share:
        raise ShrinkError(
            f"The CRM ({ctx.config.crm.kind}) returned {len(now_ids)} clients; {gone} of the {len(before)} "
            f"the last sync saw are missing (more than {opts.max_gone}, or more than {opts.max_gone_share:.0%} "
            f"and {opts.min_gone}). Nothing was written. If the CRM answered only part of the list, run the "
            "sync again later; if the clients really were deleted, run `sheets-sync sync --accept-shrink` once.")


def _pass(ctx: Context, table: ClientTable, raw: pd.DataFrame, dry_run: bool, done: dict[str, Any]) -> Summary:
    cfg = ctx.config.sheet
    columns = sheet_columns(ctx.config, ctx.rules, raw)
    live = live_enabled(cfg.options)
    if live:
        columns += live_columns(ctx.rules)
    _step(ctx, "reading the sheet")
    grids = ctx.sheet.read([cfg.clients_tab, cfg.history_tab, "Legend", SUMMARY_TAB])
    aliases = _aliases(ctx)
    sheet = read_clients(grids[cfg.clients_tab], columns, aliases)
    saved = ctx.state.owner_values()
    snapshot = ctx.state.snapshot()
    before = int(ctx.state.get("sheet_clients") or 0) or len({cid for cid, _ in snapshot})
    check_structure(sheet, tab=cfg.clients_tab, where=ctx.sheet.where, before=before, saved=saved,
                    present=getattr(ctx.sheet, "exists", lambda: True)(), rebuild=ctx.options.rebuild_sheet)
    found = recognise_renamed(sheet, saved)
    merged, owners = merge_owner_values(table, sheet, saved)
    owners.aliases = {**aliases, **found}
    ids = merged.frame["id"].fillna("").astype(str)
    outcome = categorize(merged, ctx.rules, ctx.now.date()).frame
    summary = Summary(clients=len(outcome), dry_run=dry_run, sheet=ctx.sheet.where)
    summary.categories = _counts(outcome, ctx.rules)
    summary.sheet_problems = [str(p) for p in sheet.problems]
    summary.duplicate_ids = sorted(sheet.duplicates)
    summary.notices = _owner_notices(owners, found, cfg.clients_tab)
    dupes = ids[ids.duplicated(keep="first") | ids.eq("")]
    for label in dupes.index:
        summary.sheet_problems.append(f"CRM client {ids[label]!r} ({outcome.at[label, 'name']}):"
                                      " blank or duplicate id in the CRM; skipped")
    outcome = outcome.loc[~ids.duplicated(keep="first") & ids.ne("")]

    last = ctx.state.last_categories()
    changes = _category_changes(ctx, outcome, last)
    summary.changes = done.get("changes") or [
        {"id": c.client_id, "name": c.name, "from": c.from_cat, "to": c.to_cat, "source": c.source,
         "reason": c.reason} for c in changes]
    changed_at = {c.client_id: c.changed_at for c in changes}
    for cid, (_, at) in last.items():
        changed_at.setdefault(cid, at)
    summary.unqualified = [
        {"id": str(r.id), "name": "" if pd.isna(r.name) else str(r.name),
         "problems": str(r.problems)}
        for r in outcome.loc[outcome["category"] == UNQUALIFIED, ["id", "name", "problems"]]
        .itertuples()]
    crm_changes = _crm_changes(ctx, outcome, raw)
    summary.crm_written = len(crm_changes)
    summary.examples += [f"client {cid}: category -> {code} in the CRM"
                         for cid, code in list(crm_changes.items())[:2]]
    now_text = ctx.now.isoformat(timespec="seconds")
    held = _held_open(ctx)
    if held:
        if dry_run:
            summary.notices.append(f"{ctx.sheet.where} is open in another program ({held}): a sync "
                                   "would stop until it is closed.")
        else:
            raise SheetLockedError(
                f"{ctx.sheet.where} is open in Excel or LibreOffice (lock file {held}). Save and close "
                "it, then run the sync again; nothing was written. If nobody has it open (the program "
                "crashed), delete the lock file or pass --force.")
    if not dry_run:
        # history first: the sheet and the CRM catch up from it if a later step fails; then the
        # CRM, so that a rejection shows in the client's row of this very sync
        ctx.state.record(changes)
        done.setdefault("changes", summary.changes)
        if "crm" not in done:
            _step(ctx, "writing the CRM")
            done["crm"] = _write_crm(ctx, crm_changes, now_text)
            output = getattr(ctx.crm, "output", None)  # a file CRM writes an import file
            if crm_changes and output is not None:
                summary.examples.insert(0, f"CRM import file written: {output} (import it into the CRM)")
            checkpoint("crm-written")
        summary.crm_written, summary.crm_rejected = done["crm"]
    ledger = ctx.state.ledger()
    gone = [cid for cid in ledger if cid not in set(outcome["id"].astype(str))]
    if gone and not dry_run:  # a client deleted in the CRM: nothing left to retry
        ctx.state.update_ledger({}, gone, now_text)
    outcome = _with_ledger(outcome, {k: v for k, v in ledger.items() if k not in gone})
    batch, new_snapshot, edits = _plan_clients(ctx, columns, sheet, outcome, changed_at,
                                               snapshot, summary, table.problems, saved, owners)
    summary.overwritten_edits = edits
    if dry_run:
        return summary

    ctx.state.record_edits(edits, now_text)
    pending = ctx.state.not_in_sheet()
    pending_edits = ctx.state.edits_not_in_sheet()
    history_rows = _history_tab(grids[cfg.history_tab], pending, cfg.history_tab, pending_edits)
    if history_rows is not None:
        batch.tabs.append(history_rows)
    formulas = _live_formulas(ctx, columns, batch, sheet) if live else None
    legend = _legend_tab(grids.get("Legend"), batch, ctx, formulas)
    if legend is not None:
        batch.tabs.append(legend)
    rows = summary_rows(outcome, ctx.rules, ctx.state.history(), ctx.now.date())
    summary_tab = replace_tab(SUMMARY_TAB, grids.get(SUMMARY_TAB), rows)
    if summary_tab is not None:
        summary_tab.kinds = {3: "money", 4: "money", 5: "percent_share"}
        categories = sum(1 for r in rows[1:] if r and r[0] != "" and not str(r[0]).startswith("Moves"))
        summary_tab.chart = {"title": "Clients per category", "labels_col": 0, "values_col": 2,
                             "first_row": 1, "last_row": categories}
        batch.tabs.append(summary_tab)
    _step(ctx, "writing the sheet")
    held = _held_open(ctx)
    if held:
        raise SheetLockedError(f"{ctx.sheet.where} was opened in another program while we worked "
                               f"(lock file {held}); the sheet was not written. Close it and run the "
                               "sync again: it finishes the job.")
    getattr(ctx.sheet, "tidy", lambda: None)()
    ctx.sheet.write(batch)
    checkpoint("sheet-written")
    ctx.state.mark_in_sheet(row["seq"] for row in pending)
    ctx.state.mark_edits_in_sheet(row["seq"] for row in pending_edits)
    ctx.state.save_snapshot(new_snapshot, snapshot)
    ctx.state.save_owner_values(owners.seen, now_text)
    ctx.state.put("aliases", json.dumps(owners.aliases, ensure_ascii=False))
    ctx.state.put("sheet_clients", str(len(sheet.rows) + len(batch.tabs[0].appends)))
    ctx.state.put("layout", _layout_signature(ctx.rules))
    for key, value in ctx.state_after_write.items():
        ctx.state.put(key, value)
    ctx.state.record_run(ctx.now, now(), summary.as_dict())
    return summary


def _held_open(ctx: Context) -> str | None:
    if ctx.options.force:
        return None
    return getattr(ctx.sheet, "held_open", lambda: None)()


def _owner_notices(owners: Owners, found: dict[str, str], tab: str) -> list[str]:
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


def _write_crm(ctx: Context, changes: dict[str, str], now_text: str) -> tuple[int, list[dict[str, str]]]:
    """Write changed categories; rejected ones go to the ledger and are retried next time."""
    if not changes:
        return 0, []
    result = ctx.crm.write_categories(changes)
    ctx.state.update_ledger({cid: (changes.get(cid, ""), msg) for cid, msg in result.rejected.items()},
                            result.written, now_text)
    rejected = [{"id": cid, "category": changes.get(cid, ""), "message": msg}
                for cid, msg in result.rejected.items()]
    return len(result.written), rejected


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


def _from_sheet(value: Any, kind: str) -> Any:
    """A sheet value as we compare it: a Google serial number in a date column is a date."""
    if kind == "date" and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return parse_date(value)
        except ParseError:
            return value
    return value


def sheet_columns(config: Config, rules: RuleSet, raw: pd.DataFrame) -> list[ColumnSpec]:
    """Our columns of the Clients tab for a CRM table with the columns of ``raw``."""
    mapped = resolve_mapping(raw.columns, config.fields)
    crm_columns = [c for c in list(COLUMNS) + list(rules.columns)
                   if c in mapped and c not in ("manual_category", "notes")]
    return clients_columns(crm_columns, config.sheet.headers, rules.columns)


def merge_owner_columns(table: ClientTable, sheet: ClientsGrid) -> ClientTable:
    """The CRM table with the owner columns (manual category, notes) as the sheet holds them;
    a client not in the sheet yet keeps the CRM's values (see :mod:`sheets_sync.owners`)."""
    return merge_owner_values(table, sheet)[0]


def _counts(outcome: pd.DataFrame, rules: RuleSet) -> dict[str, int]:
    counts = outcome["category"].value_counts()
    order = rules.codes + [UNQUALIFIED]
    return {code: int(counts.get(code, 0)) for code in order if counts.get(code, 0)}


def _category_changes(ctx: Context, outcome: pd.DataFrame, last: dict[str, tuple[str, str]]) -> list[Change]:
    now = ctx.now.isoformat(timespec="seconds")
    changes = []
    for row in outcome[["id", "name", "category", "reason", "manual_category"]].itertuples():
        cid = str(row.id)
        previous = last.get(cid, ("", ""))[0]
        if previous != row.category:
            manual = isinstance(row.manual_category, str) and row.category != UNQUALIFIED and \
                row.manual_category.strip().upper() == str(row.category).upper()
            changes.append(Change(cid, "" if pd.isna(row.name) else str(row.name), previous,
                                  str(row.category), str(row.reason),
                                  "manual" if manual else "rule", now))
    return changes


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


def _plan_clients(ctx: Context, columns: list[ColumnSpec], sheet: ClientsGrid,
                  outcome: pd.DataFrame, changed_at: dict[str, str],
                  snapshot: dict[tuple[str, str], str], summary: Summary,
                  problems: dict[Any, list[Problem]], saved: dict[str, dict[str, str]] | None = None,
                  owners: Owners | None = None,
                  ) -> tuple[WriteBatch, dict[tuple[str, str], str], list[dict[str, str]]]:
    cfg = ctx.config.sheet
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
    if created or new_columns or ctx.state.get("layout") != _layout_signature(ctx.rules):
        tw.layout = build_layout(columns, ctx.rules)
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
                have = _from_sheet(grid_line[sheet_col], spec.kind)
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
        for cid, r in sheet.rows.items():
            value = (saved or {}).get(cid, {}).get(column)
            if value:
                tw.updates.append((r, col, value))
                tw.guard[r] = cid
    present = set(outcome["id"].astype(str))
    today = ctx.now.date().isoformat()
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


def _history_tab(grid: Any, pending: list[dict[str, Any]], tab: str,
                 edits: list[dict[str, Any]] | None = None) -> TabWrite | None:
    """New History rows: category changes, and owner edits of CRM columns that the CRM's value
    replaced. Each row carries the state store's sequence number (``seq``), so a row already in
    the tab (a run killed after writing the sheet and before noting it) is never appended twice,
    and two equal moves within a minute are both kept."""
    rows_in = (grid or [])[1:]
    header = [header_text(h) for h in (grid or [[]])[0]]
    seq_col = header.index("seq") if "seq" in header else None
    present_seq = {id_text(r[seq_col]) for r in rows_in if seq_col is not None and len(r) > seq_col}
    present_old = {_history_key(r[0], r[1], r[4]) for r in rows_in if len(r) > 4}
    rows: list[list[Any]] = []
    for row in pending:
        if str(row["seq"]) in present_seq or (seq_col is None and _history_key(
                row["changed_at"], row["client_id"], row["to_cat"]) in present_old):
            continue
        rows.append([datetime.fromisoformat(row["changed_at"]), row["client_id"], row["name"],
                     row["from_cat"], row["to_cat"], row["source"], row["reason"], str(row["seq"])])
    for edit in edits or []:
        if f"e{edit['seq']}" in present_seq:
            continue
        rows.append([datetime.fromisoformat(edit["at"]), edit["client_id"], "", edit["sheet_value"],
                     edit["crm_value"], "sheet edit replaced",
                     f"{edit['col']}: edited in the sheet, replaced by the CRM's value (edit it in the CRM)",
                     f"e{edit['seq']}"])
    rows.sort(key=lambda r: r[0])
    if not rows and grid:
        return None
    tw = TabWrite(tab, list(HISTORY_HEADER), created=not grid)
    if grid and seq_col is None:  # a History tab of 0.1: the seq column is added
        tw.new_columns = [len(HISTORY_HEADER) - 1]
    tw.kinds = {0: "datetime"}
    tw.appends = rows
    return tw


def _history_key(when: Any, client_id: Any, to_cat: Any) -> tuple[str, str, str]:
    if isinstance(when, int | float) and not isinstance(when, bool):  # a serial number (Google)
        when = serial_datetime(when) or when
    if isinstance(when, datetime):
        when = when.replace(microsecond=0).isoformat(timespec="minutes")
    return (str(when)[:16], id_text(client_id), "" if to_cat is None else str(to_cat))


def _legend_tab(grid: Any, batch: WriteBatch, ctx: Context, live: LiveFormulas | None = None) -> TabWrite | None:
    layout_changed = batch.tabs[0].layout is not None
    if not layout_changed and grid and live is None:
        return None
    rows = [list(r) for r in build_layout([], ctx.rules).legend]
    tab = replace_tab("Legend", grid, rows + (live.legend_rows if live else []))
    if tab is not None and live is not None and (layout_changed or not grid):
        tab.names = live.names
    return tab


def _live_formulas(ctx: Context, columns: list[ColumnSpec], batch: WriteBatch, sheet: ClientsGrid) -> LiveFormulas:
    """Put the live formulas into the Clients write: every row when the layout is new."""
    clients = batch.tabs[0]
    by_header = {h: i for i, h in enumerate(clients.header)}
    positions = {spec.name: by_header[spec.header] for spec in columns}
    rows = len(sheet.grid) - 1 + len(clients.appends) if sheet.grid else len(clients.appends)
    bound = int(ctx.state.get("live_bound") or 0)
    outgrown = rows + 1 > bound
    if outgrown:
        bound = pareto_bound(rows)
    live = compile_live(ctx.rules, positions, len(build_layout([], ctx.rules).legend), ctx.now.date(), bound)
    clients.formula_templates = live.templates
    if clients.layout is not None or outgrown:
        clients.formula_rows = sorted(sheet.rows.values())
    ctx.state_after_write["live_bound"] = str(bound)
    return live


def replace_tab(tab: str, grid: Any, rows: list[list[Any]]) -> TabWrite | None:
    """A tab of ours whose whole content is ``rows``: only the cells that differ are written,
    rows beyond the new content are emptied. ``None`` when nothing differs."""
    width = max(len(r) for r in rows)
    header = [str(v) for v in rows[0]] + [""] * (width - len(rows[0]))
    tw = TabWrite(tab, header, created=not grid)
    existing = [list(r) for r in grid] if grid else []
    if not existing:
        tw.appends = [list(r) for r in rows[1:]]
        return tw
    for r in range(max(len(rows), len(existing))):
        want = rows[r] if r < len(rows) else []
        have = existing[r] if r < len(existing) else []
        if r >= len(existing):
            tw.appends.append(list(want))
            continue
        for c in range(max(len(want), len(have), width)):
            w = want[c] if c < len(want) else None
            h = have[c] if c < len(have) else None
            if not same(h, w):
                tw.updates.append((r, c, w))
    return tw if (tw.updates or tw.appends) else None


def _crm_changes(ctx: Context, outcome: pd.DataFrame, raw: pd.DataFrame) -> dict[str, str]:
    field_name = ctx.config.crm.category_field
    if field_name not in raw.columns:
        raise CrmError(f"The CRM has no category field {field_name!r}. Run `sheets-sync crm "
                       "setup` to create it, or set [crm] category_field in the config.")
    current = dict(zip(raw[ctx.config.crm.id_field].astype(str),
                       raw[field_name].map(lambda v: "" if v is None or v != v else str(v)),
                       strict=False))
    codes = set(ctx.rules.codes)
    out: dict[str, str] = {}
    for cid, category in zip(outcome["id"].astype(str), outcome["category"].astype(str),
                             strict=True):
        if category in codes and current.get(cid, "") != category:
            out[cid] = category
    return out


def _layout_signature(rules: RuleSet) -> str:
    return json.dumps([[c.code, c.title, c.colour, c.text, c.strategy] for c in rules.categories]
                      + [[s.code, s.text] for s in rules.stages], ensure_ascii=False)


__all__ = ["Context", "Kind", "Summary", "open_context", "run_sync"]
