"""One pass of the main job, as explicit steps; nothing here knows a vendor's name.

    read CRM ─▶ read sheet ─▶ plan (pure: sheets_sync.plan) ─▶ record history (state)
        ─▶ write CRM (changed only) ─▶ write sheet (one batch) ─▶ save snapshot and owners' values

The plan is always computed from the sources of truth (the CRM, the sheet, the state store),
never replayed from a log, so a run that died anywhere is finished by the next one. A step's
state is saved only when the step succeeded.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from .checkpoints import checkpoint
from .errors import ConcurrentEditError, SheetLockedError, ShrinkError, UncertainWriteError
from .i18n import _, language, pgettext, translate
from .layout import HISTORY_COLUMNS, SOURCES, ClientsGrid, build_layout, header, known_headers, read_clients, same
from .live import AS_OF_LABEL, LiveFormulas, compile_live, live_columns, pareto_bound
from .live import enabled as live_enabled
from .orders.merge import add_orders
from .outcome import Categorized, categorized
from .parsing import id_text
from .plan import (
    Inputs,
    StateView,
    Summary,
    SyncOptions,
    layout_signature,
    make_plan,
    plan_sheet,
    sheet_columns,
)
from .reports import summary_rows
from .serials import DateCells
from .session import Context, locked, now, open_context, open_session
from .sheets.base import ColumnSpec, TabWrite, WriteBatch
from .sheets.guard import header_text
from .table import ClientTable, Kind, build_table, require_columns

CONCURRENT_RETRIES = 3
MIN_GONE = 5  # fewer clients gone never count as a shrink, except all of them


def _step(ctx: Context, name: str) -> None:
    if ctx.progress is not None:
        ctx.progress.set_postfix_str(name)
        ctx.progress.update(1)


def our_tabs(ctx: Context) -> tuple[str, str]:
    """The names of the Legend and Summary tabs: those the sheet has had since its first sync
    (a language switch does not make a second pair), else the language's."""
    try:
        kept = json.loads(ctx.state.get("tabs") or "{}")
    except ValueError:
        kept = {}
    if not kept and ctx.state.get("layout"):  # synced before tabs were named in a language
        kept = {"legend": "Legend", "summary": "Summary"}
    return (str(kept.get("legend") or pgettext("tab", "Legend")),
            str(kept.get("summary") or pgettext("tab", "Summary")))


def read_crm(ctx: Context) -> tuple[ClientTable, pd.DataFrame]:
    raw = ctx.crm.fetch()
    checkpoint("crm-read")
    # as outcome.client_table, with the deals' metrics merged before the required columns are
    # checked (revenue, costs and orders_12m may come from the deals)
    table = build_table(raw, dict(ctx.config.fields), ctx.config.parsing, extra=ctx.rules.columns)
    table, raw = add_orders(ctx.config, ctx.rules.thresholds, table, raw, ctx.now.date(), ctx.crm, ctx.state)
    require_columns(table, ctx.rules.required, raw.columns, f"The CRM ({ctx.config.crm.kind}) data")
    return table, raw


def current(ctx: Context, *, progress: Any = None) -> tuple[Categorized, pd.DataFrame]:
    """The categorized client table as a sync would see it (CRM + the sheet's owner columns,
    or the ones the state store kept where the sheet lost them), and the CRM's raw table,
    without writing anything. ``progress`` gets a step for the CRM and one for the sheet."""
    ctx.progress = progress
    _step(ctx, "reading the CRM")
    table, raw = read_crm(ctx)
    columns = sheet_columns(ctx.config, ctx.rules, raw)
    _step(ctx, "reading the sheet")
    view = StateView.load(ctx.state)
    tab = ctx.config.sheet.clients_tab
    grid = ctx.sheet.read([tab], dates=date_cells(ctx, columns, view.aliases))[tab]
    sheet = read_clients(grid, columns, view.aliases, view.former_language)
    return categorized(table, ctx.rules, ctx.now.date(), sheet=sheet, saved=view.owner), raw


def current_outcome(ctx: Context) -> pd.DataFrame:
    """The categorized table of :func:`current` (one row per client id)."""
    return current(ctx)[0].outcome


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
        except (ConcurrentEditError, UncertainWriteError):  # the sheet moved, or an append may have landed
            if attempt == CONCURRENT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def date_cells(ctx: Context, columns: list[ColumnSpec], aliases: dict[str, str]) -> dict[str, DateCells]:
    """Where our tabs hold dates, for a backend that reads them as numbers (Google): the date
    columns of the Clients tab (by header, the name, or the header an owner renamed it to), the
    History tab's first column, the Legend's as_of day."""
    clients = {text: "date" for spec in columns if spec.kind == "date"
               for text in (spec.header, *known_headers(spec.name), aliases.get(spec.name)) if text}
    cfg = ctx.config.sheet
    return {cfg.clients_tab: DateCells(clients),
            cfg.history_tab: DateCells(dict.fromkeys(known_headers(HISTORY_COLUMNS[0]), "datetime")),
            our_tabs(ctx)[0]: DateCells(labelled={AS_OF_LABEL: "date"})}


def check_shrink(ctx: Context, table: ClientTable) -> None:
    """Refuse a CRM read that lost many of the clients the last sync had: a partial answer of a
    vendor (or a wrong filter) must not mark them gone and move everyone's Pareto share."""
    before = ctx.state.client_ids()
    if not before:
        return
    now_ids = set(table.frame["id"].map(id_text))
    gone = len(before - now_ids)
    opts = ctx.config.sync
    share = gone > opts.max_gone_share * len(before) and gone > MIN_GONE
    if not now_ids or gone > opts.max_gone or share:
        raise ShrinkError(
            f"The CRM ({ctx.config.crm.kind}) returned {len(now_ids)} clients; {gone} of the {len(before)} "
            f"the last sync saw are missing (more than {opts.max_gone}, or more than {opts.max_gone_share:.0%} "
            f"and {MIN_GONE}; [sync] in the config). Nothing was written. If the CRM answered only part of "
            "the list, run the sync again later; if the clients really were deleted, run "
            "`sheets-sync sync --accept-shrink` once.")


def _pass(ctx: Context, table: ClientTable, raw: pd.DataFrame, dry_run: bool, done: dict[str, Any]) -> Summary:
    """Read the sheet, plan (pure, see :mod:`sheets_sync.plan`), then apply the plan in steps:
    history (state) -> CRM -> sheet -> snapshot and owners' values (state)."""
    cfg = ctx.config.sheet
    columns = sheet_columns(ctx.config, ctx.rules, raw)
    live = live_enabled(cfg.options)
    if live:
        columns += live_columns(ctx.rules)
    _step(ctx, "reading the sheet")
    view = StateView.load(ctx.state)
    legend_tab, summary_tab_name = our_tabs(ctx)
    grids = _read_sheet(ctx, date_cells(ctx, columns, view.aliases), [legend_tab, summary_tab_name])
    inp = Inputs(ctx.config, ctx.rules, ctx.now, table, raw, grids, view, ctx.options,
                 ctx.sheet.where, getattr(ctx.sheet, "exists", lambda: True)(), columns)
    plan = make_plan(inp, dry_run)
    summary = plan.summary
    held = _held_open(ctx)
    if dry_run:
        if held:
            summary.notices.append(f"{ctx.sheet.where} is open in another program ({held}): a sync "
                                   "would stop until it is closed.")
        plan_sheet(plan, inp, inp.state.ledger)
        return summary
    if held:
        raise SheetLockedError(
            f"{ctx.sheet.where} is open in Excel or LibreOffice (lock file {held}). Save and close "
            "it, then run the sync again; nothing was written. If nobody has it open (the program "
            "crashed), delete the lock file or pass --force.")
    now_text = ctx.now.isoformat(timespec="seconds")
    # step 1, history: the sheet and the CRM catch up from it if a later step fails
    ctx.state.record(plan.changes)
    # (a pass planned again lists the earlier pass's changes and its own, recorded once each)
    summary.changes = done["changes"] = done.get("changes", []) + summary.changes
    # step 2, the CRM, before the sheet: a rejection shows in the client's row of this very sync
    # (a pass planned again after a race writes only what the earlier pass did not: an owner's
    # manual category typed meanwhile reaches the CRM in this same run)
    tried: dict[str, str] = done.setdefault("crm_tried", {})  # written or rejected in this run
    todo = {cid: code for cid, code in plan.crm_changes.items() if tried.get(cid) != code}
    if "crm" not in done or todo:
        _step(ctx, "writing the CRM")
        written, rejected = _write_crm(ctx, todo, now_text)
        tried.update(todo)
        count, before = done.get("crm", (0, []))
        done["crm"] = (count + len(written), [r for r in before if r["id"] not in todo] + rejected)
        output = getattr(ctx.crm, "output", None)  # a file CRM writes an import file
        if todo and output is not None:
            summary.examples.insert(0, f"CRM import file written: {output} (import it into the CRM)")
        checkpoint("crm-written")
    summary.crm_written, summary.crm_rejected = done["crm"]
    batch, new_snapshot, edits, gone = plan_sheet(plan, inp, ctx.state.ledger())
    if gone:  # clients deleted in the CRM: nothing left to retry
        ctx.state.update_ledger({}, gone, now_text)
    # step 3, the sheet: the Clients cells, then our own tabs (History, Legend, Summary)
    ctx.state.record_edits(edits, now_text)
    history_grid = grids[cfg.history_tab]
    if history_grid and any(any(v not in (None, "") for v in line) for line in history_grid[1:]):
        pending, pending_edits = ctx.state.not_in_sheet(), ctx.state.edits_not_in_sheet()
    else:  # a new or emptied History tab (a rebuilt sheet) gets the whole history
        pending, pending_edits = ctx.state.history(), ctx.state.edits_not_in_sheet(every=True)
    history_rows = _history_tab(grids[cfg.history_tab], pending, cfg.history_tab, pending_edits)
    if history_rows is not None:
        batch.tabs.append(history_rows)
    formulas = _live_formulas(ctx, columns, batch, plan.sheet) if live else None
    legend = _legend_tab(grids.get(legend_tab), batch, ctx, formulas, legend_tab)
    if legend is not None:
        batch.tabs.append(legend)
    # the Summary tab's moves of the quarter need each client's category when it began
    today = ctx.now.date()
    quarter = datetime(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    rows = summary_rows(plan.outcome, ctx.rules, ctx.state.categories_before(quarter - timedelta(seconds=1)),
                        today)
    summary_tab = replace_tab(summary_tab_name, grids.get(summary_tab_name), rows)
    if summary_tab is not None:
        summary_tab.kinds = {3: "money", 4: "money", 5: "percent_share"}
        summary_tab.widths = {0: 14, 1: 32, 2: 12, 3: 16, 4: 16, 5: 14}
        categories = next((i for i, r in enumerate(rows[1:]) if not r or r[0] == ""), len(rows) - 1)
        summary_tab.chart = {"title": _("Clients per category"), "labels_col": 0, "values_col": 2,
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
    # step 4, the state: only now that the sheet holds it
    ctx.state.mark_in_sheet(row["seq"] for row in pending)
    ctx.state.mark_edits_in_sheet(row["seq"] for row in pending_edits)
    ctx.state.save_snapshot(new_snapshot, inp.state.snapshot)
    ctx.state.save_owner_values(plan.owners.seen, now_text)
    ctx.state.put("aliases", json.dumps(plan.owners.aliases, ensure_ascii=False))
    ctx.state.put("sheet_clients", str(len(plan.sheet.rows) + len(plan.sheet.duplicates)
                                       + len(batch.tabs[0].appends)))
    ctx.state.put("layout", layout_signature(ctx.rules))
    ctx.state.put("language", language())
    ctx.state.put("tabs", json.dumps({"legend": legend_tab, "summary": summary_tab_name}, ensure_ascii=False))
    for key, value in ctx.state_after_write.items():
        ctx.state.put(key, value)
    ctx.state.record_run(ctx.now, now(), summary.as_dict())
    return summary


#: rows of the History tab read at a sync that has no History rows of an earlier run to check
HISTORY_HEAD = 50


def _read_sheet(ctx: Context, dates: Any, ours: list[str]) -> dict[str, Any]:
    """The tabs a pass reads. The History tab is read whole only when the state store holds
    rows an earlier run may have written without noting it (a run killed meanwhile), or when
    it is a History tab without the ``seq`` column; else its first rows say all a pass needs
    (whether it holds rows at all; this pass's rows have new ``seq`` numbers)."""
    cfg = ctx.config.sheet
    tabs = [cfg.clients_tab, cfg.history_tab, *ours]
    if ctx.state.not_in_sheet(limit=1) or ctx.state.edits_not_in_sheet(limit=1):
        return ctx.sheet.read(tabs, dates=dates)
    grids = ctx.sheet.read(tabs, dates=dates, head={cfg.history_tab: HISTORY_HEAD})
    history = grids.get(cfg.history_tab)
    if history and "seq" not in [header_text(h) for h in history[0]]:
        grids = ctx.sheet.read(tabs, dates=dates)
    return grids


def _held_open(ctx: Context) -> str | None:
    if ctx.options.force:
        return None
    return getattr(ctx.sheet, "held_open", lambda: None)()


def _write_crm(ctx: Context, changes: dict[str, str], now_text: str) -> tuple[list[str], list[dict[str, str]]]:
    """Write changed categories; rejected ones go to the ledger and are retried next time."""
    if not changes:
        return [], []
    result = ctx.crm.write_categories(changes)
    ctx.state.update_ledger({cid: (changes.get(cid, ""), msg) for cid, msg in result.rejected.items()},
                            result.written, now_text)
    rejected = [{"id": cid, "category": changes.get(cid, ""), "message": msg}
                for cid, msg in result.rejected.items()]
    return list(result.written), rejected


def _history_tab(grid: Any, pending: list[dict[str, Any]], tab: str,
                 edits: list[dict[str, Any]] | None = None) -> TabWrite | None:
    """New History rows: category changes, and owner edits of CRM columns that the CRM's value
    replaced. Each row carries the state store's sequence number (``seq``), so a row already in
    the tab (a run killed after writing the sheet and before noting it) is never appended twice,
    and two equal moves within a minute are both kept."""
    rows_in = (grid or [])[1:]
    head = [header_text(h) for h in (grid or [[]])[0]]
    seq_col = next((i for i, h in enumerate(head) if h in known_headers("seq")), None)
    present_seq = {id_text(r[seq_col]) for r in rows_in if seq_col is not None and len(r) > seq_col}
    present_old = {_history_key(r[0], r[1], r[4]) for r in rows_in if len(r) > 4}
    rows: list[list[Any]] = []
    for row in pending:
        if str(row["seq"]) in present_seq or (seq_col is None and _history_key(
                row["changed_at"], row["client_id"], row["to_cat"]) in present_old):
            continue
        source = translate(SOURCES[row["source"]]) if row["source"] in SOURCES else row["source"]
        rows.append([datetime.fromisoformat(row["changed_at"]), row["client_id"], row["name"],
                     row["from_cat"], row["to_cat"], source, row["reason"], str(row["seq"])])
    for edit in edits or []:
        if f"e{edit['seq']}" in present_seq:
            continue
        rows.append([datetime.fromisoformat(edit["at"]), edit["client_id"], "", edit["sheet_value"],
                     edit["crm_value"], translate(SOURCES["sheet edit replaced"]),
                     _("{column}: edited in the sheet, replaced by the CRM's value (edit it in the CRM)"
                       ).format(column=edit["col"]),
                     f"e{edit['seq']}"])
    rows.sort(key=lambda r: r[0])
    # the header in the language: a header cell of ours in another language is relabelled
    want = [header(c) for c in HISTORY_COLUMNS]
    relabel = {i: want[i] for i, (have, name) in enumerate(zip(head, HISTORY_COLUMNS, strict=False))
               if have != want[i] and have in known_headers(name)} if grid else {}
    if not rows and grid and not relabel:
        return None
    tw = TabWrite(tab, list(want), created=not grid)
    tw.updates = [(0, c, text) for c, text in relabel.items()]
    if grid and seq_col is None:  # a History tab of 0.1: the seq column is added
        tw.new_columns = [len(HISTORY_COLUMNS) - 1]
    tw.kinds = {0: "datetime"}
    tw.appends = rows
    return tw


def _history_key(when: Any, client_id: Any, to_cat: Any) -> tuple[str, str, str]:
    if isinstance(when, datetime):
        when = when.replace(microsecond=0).isoformat(timespec="minutes")
    return (str(when)[:16], id_text(client_id), "" if to_cat is None else str(to_cat))


def _legend_tab(grid: Any, batch: WriteBatch, ctx: Context, live: LiveFormulas | None = None,
                name: str = "Legend") -> TabWrite | None:
    layout_changed = batch.tabs[0].layout is not None
    if not layout_changed and grid and live is None:
        return None
    rows = [list(r) for r in build_layout([], ctx.rules).legend]
    tab = replace_tab(name, grid, rows + (live.legend_rows if live else []))
    if tab is not None:
        tab.widths = {0: 12, 1: 32, 2: 70, 3: 70, 4: 10, 5: 50}
    if tab is not None and live is not None and (layout_changed or not grid):
        tab.names = live.names
    return tab


def _live_formulas(ctx: Context, columns: list[ColumnSpec], batch: WriteBatch, sheet: ClientsGrid) -> LiveFormulas:
    """Put the live formulas into the Clients write: every row when the layout is new."""
    clients = batch.tabs[0]
    positions = {spec.name: clients.columns[spec.name] for spec in columns}
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


def sync_config(config: Any = None, *, dry_run: bool = False, wait: float = 0.0,
                options: SyncOptions | None = None, progress: Any = None) -> Summary:
    """``sheets-sync sync``: one pass over the config at ``config`` (a path, ``None`` for
    ./sheets-sync.toml, or a loaded config), holding the sync lock (a dry run takes no lock and
    writes nothing, not even the lock or state file: it plans on a copy of the state), with a
    line in the ``[log]`` file when it starts and ends."""
    from .logs import log

    with open_session(config, lock=not dry_run, wait=wait, read_only=dry_run, log="sync",
                      note=" (dry run)" if dry_run else "", options=options) as ctx:
        summary = run_sync(ctx, dry_run=dry_run, progress=progress)
        log.info("sync done, exit %d: %s", int(summary.exit_code), summary.to_text().replace("\n", " | "))
        for item in summary.crm_rejected:
            log.warning("CRM rejected client %s -> %s: %s", item["id"], item["category"], item["message"])
    return summary


__all__ = ["Context", "Kind", "Summary", "SyncOptions", "current", "current_outcome", "locked", "now",
           "open_context", "open_session", "run_sync", "sheet_columns", "sync_config"]
