"""Owners, the CRM, syncs and faults interleaved at random on the in-memory fakes (issue 12).

A hypothesis state machine edits the sheet the way owners do (sort, insert and delete rows and
columns, move and rename columns, edit cells, copy a row, delete the header row, rename the
tab, lose the sheet), changes the CRM, runs syncs, and injects faults (a structural edit
between the write guard and the write, an append that times out after it landed, a kill at a
checkpoint followed by a fresh context). After every step it checks what issue 12 promises:
each row holds its own client's values, owner values stay where the owner left them (or are
restored), rows without an id hold nothing of ours, the CRM holds what the sheet shows, and
History has every change once. Rows are counted, never keyed by id, so duplicates show.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
import pytest
from hypothesis import Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sheets_sync import demo, sync
from sheets_sync.categorize import categorize
from sheets_sync.config import Config, parse_config
from sheets_sync.crm.memory import MemoryCrm
from sheets_sync.errors import StructureError
from sheets_sync.parsing import id_text
from sheets_sync.rules import RuleSet, load_rules
from sheets_sync.sheets.guard import header_text
from sheets_sync.sheets.memory import MemorySheet
from sheets_sync.state import StateStore
from sheets_sync.table import ClientTable

TAB = "Clients"
NOW = datetime(2026, 11, 23, 10, 0)
MANUAL, NOTES = "manual_category", "notes"
RENAMED = {MANUAL: "Ручная категория", NOTES: "Заметки"}
REVENUES = [40_000.0, 150_000.0, 900_000.0, 2_500_000.0]
OWNER_CODES = [None, "A", "B", "C", "E", "EEE"]
FIRST = 6  # clients in the CRM at the start

_RULES: dict[str, RuleSet] = {}


def make_client(i: int) -> dict[str, Any]:
    """A clean client of the demo CRM's shape; different i give different categories."""
    return {"id": str(i), "company": f"Клиент {i}", "revenue_rub": REVENUES[i % 4],
            "costs_rub": 60_000.0 + 20_000 * (i % 3), "orders_12m": 1 + (i * 3) % 8,
            "first_order": "2023-01-15", "last_order": "2026-10-01", "overdue_days": [0, 40, 100, 200][i % 4],
            "referrals": i % 3, "potential_rub": 300_000.0, "nps": 5 + i % 5, "blacklisted": 0, "category": None}


class Killed(Exception):
    """The process died at a checkpoint."""


# -- reading the sheet the way a person does: by header text, counting rows
def header_row(grid: list[list[Any]]) -> int | None:
    for r, line in enumerate(grid[:10]):
        if any(header_text(v) == "id" for v in line):
            return r
    return None


def column(grid: list[list[Any]], hr: int, header: str) -> int | None:
    line = grid[hr]
    return next((c for c, v in enumerate(line) if header_text(v) == header), None)


def cell(line: list[Any], col: int | None) -> Any:
    if col is None or col >= len(line):
        return None
    v = line[col]
    return None if v == "" else v


def blank(line: list[Any]) -> bool:
    return all(v is None or v == "" for v in line)


class OwnerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="hsm-"))
        (self.dir / "rules.py").write_text(demo.default_rules_text(), encoding="utf-8")
        self.config: Config = parse_config(tomllib.loads(demo.CONFIG_TEXT), self.dir / "sheets-sync.toml")
        if "rules" not in _RULES:
            _RULES["rules"] = load_rules(self.config.rules_path)
        self.rules = _RULES["rules"]
        self.crm = MemoryCrm([make_client(i) for i in range(1, FIRST + 1)])
        self.sheet = MemorySheet()
        self.ctx = self._context()
        self.next_id = FIRST + 1
        self.deleted = 0
        # the model: what the owner wants, what the last successful sync kept, what values exist
        self.intended: dict[str, dict[str, str | None]] = {}
        self.kept: dict[str, dict[str, str | None]] = {}
        self.headers = {MANUAL: MANUAL, NOTES: NOTES}
        self.names = {c["id"]: c["company"] for c in self.crm.clients}
        self.revenues = {c["id"]: {c["revenue_rub"]} for c in self.crm.clients}
        self.extra: dict[str, dict[str, str]] = {}  # owner's own columns: header -> client -> value
        self.broken: tuple[str, dict[str, Any]] | None = None  # what broke, and the sheet before
        self.synced = False  # the last step was a successful sync
        self.rows_deleted: set[str] = set()  # clients whose only row an owner deleted
        self.dup_edited: set[str] = set()  # copied clients with an owner value typed in one row
        #: History rows the model accepts as missing (none: a rebuilt History tab gets them all)
        self.history_lost: set[str] = set()
        self.log: list[str] = []
        self._sync()

    def teardown(self) -> None:
        self.ctx.state.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _context(self, **options: Any) -> sync.Context:
        store = StateStore(self.config.state_path)
        store.db.execute("PRAGMA synchronous = OFF")  # no fsync per step; a kill here is in-process
        return sync.Context(self.config, self.rules, self.crm, self.sheet, store, NOW,
                            options=sync.SyncOptions(**options))

    # -- helpers over the grid
    @property
    def grid(self) -> list[list[Any]]:
        return self.sheet.tabs[TAB]

    def hr(self) -> int:
        hr = header_row(self.grid)
        assert hr is not None, "the header row is gone"
        return hr

    def rows_of(self) -> list[tuple[int, str]]:
        """(row, client id) of every data row with an id, duplicates included."""
        grid, hr = self.grid, self.hr()
        idc = column(grid, hr, "id")
        return [(r, id_text(cell(grid[r], idc))) for r in range(hr + 1, len(grid))
                if id_text(cell(grid[r], idc))]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _, cid in self.rows_of():
            out[cid] = out.get(cid, 0) + 1
        return out

    def single(self) -> list[tuple[int, str]]:
        counts = self.counts()
        return [(r, cid) for r, cid in self.rows_of() if counts[cid] == 1]

    def crm_ids(self) -> list[str]:
        return [c["id"] for c in self.crm.clients]

    def wants(self, cid: str) -> dict[str, str | None]:
        return self.intended.setdefault(cid, {MANUAL: None, NOTES: None})

    # -- owner actions (also used as races between the guard and the write)
    def do_sort(self, col: int, reverse: bool) -> None:
        hr = self.hr()
        width = max(len(line) for line in self.grid)
        self.sheet.sort(TAB, col % width, hr + 1, reverse)

    def do_insert_row(self, pos: int) -> None:
        hr = self.hr()
        self.sheet.insert_row(TAB, hr + 1 + pos % (len(self.grid) - hr))

    def do_delete_row(self, pos: int) -> None:
        hr = self.hr()
        if len(self.grid) <= hr + 1:
            return
        r = hr + 1 + pos % (len(self.grid) - hr - 1)
        idc = column(self.grid, hr, "id")
        cid = id_text(cell(self.grid[r], idc))
        counts = self.counts()
        if cid and counts[cid] == 2:  # the owner resolved a copy: what remains is the decision
            self.sheet.delete_row(TAB, r)
            self.dup_edited.discard(cid)
            rest = next(self.grid[x] for x, c in self.rows_of() if c == cid)
            for name, header in self.headers.items():
                col = column(self.grid, hr, header)
                if col is not None:
                    self.wants(cid)[name] = cell(rest, col)
            return
        if cid and counts[cid] == 1:
            self.rows_deleted.add(cid)
            # restored by the next sync with what the last one kept; our own columns stay empty
            self.intended[cid] = dict(self.kept.get(cid, {MANUAL: None, NOTES: None}))
            for values in self.extra.values():
                values.pop(cid, None)
        self.sheet.delete_row(TAB, r)

    def do_insert_column(self, pos: int) -> None:
        hr = self.hr()
        width = max(len(line) for line in self.grid)
        header = f"own{len(self.extra) + 1}"
        idc = column(self.grid, hr, "id")
        values: list[Any] = [None] * hr + [header]
        mine: dict[str, str] = {}
        for line in self.grid[hr + 1:]:
            cid = id_text(cell(line, idc))
            values.append(f"{header}:{cid}" if cid else None)
            if cid:
                mine[cid] = f"{header}:{cid}"
        self.sheet.insert_column(TAB, pos % (width + 1), values)
        self.extra[header] = mine

    def do_move_column(self, src: int, dst: int) -> None:
        width = max(len(line) for line in self.grid)
        self.sheet.move_column(TAB, src % width, dst % width)

    def do_delete_column(self, pos: int) -> None:
        hr = self.hr()
        line = self.grid[hr]
        col = pos % len(line)
        header = header_text(line[col])
        if header == "id":
            return
        for name in (MANUAL, NOTES):
            if header == self.headers[name]:
                # added again at the end by the next sync, filled with what the last one kept
                for cid in self.intended:
                    self.intended[cid][name] = self.kept.get(cid, {}).get(name)
                self.headers[name] = name
        self.extra.pop(header, None)
        self.sheet.delete_column(TAB, col)

    # -- owner rules
    @precondition(lambda self: self.broken is None)
    @rule(col=st.integers(0, 40), reverse=st.booleans())
    def sort(self, col: int, reverse: bool) -> None:
        self.do_sort(col, reverse)
        self.synced = False

    @precondition(lambda self: self.broken is None)
    @rule(pos=st.integers(0, 40))
    def insert_row(self, pos: int) -> None:
        self.do_insert_row(pos)
        self.synced = False

    @precondition(lambda self: self.broken is None and self.hr() < 3)
    @rule()
    def insert_title_row(self) -> None:
        self.sheet.insert_row(TAB, 0, ["Клиенты на ноябрь"])
        self.synced = False

    @precondition(lambda self: self.broken is None)
    @rule(pos=st.integers(0, 40))
    def delete_row(self, pos: int) -> None:
        self.do_delete_row(pos)
        self.synced = False

    @precondition(lambda self: self.broken is None)
    @rule(pos=st.integers(0, 40))
    def insert_column(self, pos: int) -> None:
        self.do_insert_column(pos)
        self.synced = False

    @precondition(lambda self: self.broken is None)
    @rule(pos=st.integers(0, 40))
    def delete_column(self, pos: int) -> None:
        self.do_delete_column(pos)
        self.synced = False

    @precondition(lambda self: self.broken is None)
    @rule(src=st.integers(0, 40), dst=st.integers(0, 40))
    def move_column(self, src: int, dst: int) -> None:
        self.do_move_column(src, dst)
        self.synced = False

    @precondition(lambda self: self.broken is None)
    @rule(which=st.sampled_from([MANUAL, NOTES]))
    def rename_owner_column(self, which: str) -> None:
        """Renamed when the column holds what the last sync kept (so it can be recognised)."""
        single = self.single()
        kept = [cid for _, cid in single if self.kept.get(cid, {}).get(which)]
        col = column(self.grid, self.hr(), self.headers[which])
        if self.headers[which] != which or col is None or not kept or any(
                self.wants(cid)[which] != self.kept.get(cid, {}).get(which) for _, cid in single):
            return
        self.sheet.rename_header(TAB, which, RENAMED[which])
        self.headers[which] = RENAMED[which]
        self.synced = False

    def _owner_cell(self, pick: int, which: str, value: str | None) -> None:
        """An owner types into a row; in one of two rows of a copied client it decides nothing
        until one of them is deleted (the sync uses the values it kept)."""
        rows = self.rows_of()
        col = column(self.grid, self.hr(), self.headers[which])
        if not rows or col is None:
            return
        r, cid = rows[pick % len(rows)]
        self.sheet.set_cell(TAB, r, col, value)
        if self.counts()[cid] == 1:
            self.wants(cid)[which] = value
        else:
            self.dup_edited.add(cid)
        self.synced = False

    @precondition(lambda self: self.broken is None)
    @rule(pick=st.integers(0, 40), code=st.sampled_from(OWNER_CODES))
    def set_manual_category(self, pick: int, code: str | None) -> None:
        self._owner_cell(pick, MANUAL, code)

    @precondition(lambda self: self.broken is None)
    @rule(pick=st.integers(0, 40), note=st.sampled_from([None, "VIP contact", "Позвонить в понедельник"]))
    def set_note(self, pick: int, note: str | None) -> None:
        self._owner_cell(pick, NOTES, note)

    @precondition(lambda self: self.broken is None)
    @rule(pick=st.integers(0, 40), value=st.sampled_from([1.0, 777_777.0]))
    def edit_revenue_in_sheet(self, pick: int, value: float) -> None:
        single = self.single()
        col = column(self.grid, self.hr(), "revenue")
        if not single or col is None:
            return
        r, cid = single[pick % len(single)]
        self.sheet.set_cell(TAB, r, col, value)
        self.revenues[cid].add(value)
        self.synced = False

    @precondition(lambda self: self.broken is None)
    @rule(pick=st.integers(0, 40), above=st.booleans(), code=st.sampled_from(OWNER_CODES))
    def copy_row(self, pick: int, above: bool, code: str | None) -> None:
        """A row copied (above or below its original); with a code, a manual category is then
        typed into the copy (issue 12, 5)."""
        rows = self.rows_of()
        col = column(self.grid, self.hr(), self.headers[MANUAL])
        if not rows:
            return
        r, cid = rows[pick % len(rows)]
        at = r if above else r + 1
        self.sheet.copy_row(TAB, r, at)
        if code is not None and col is not None:
            self.sheet.set_cell(TAB, at, col, code)
            self.dup_edited.add(cid)
        self.synced = False

    @precondition(lambda self: self.broken is None)
    @rule()
    def delete_header_row(self) -> None:
        before = copy.deepcopy(self.sheet.tabs)
        self.sheet.delete_row(TAB, self.hr())
        self.broken = ("header", before)

    @precondition(lambda self: self.broken is None)
    @rule()
    def rename_tab(self) -> None:
        before = copy.deepcopy(self.sheet.tabs)
        self.sheet.rename_tab(TAB, "Клиенты")
        self.broken = ("tab", before)

    @precondition(lambda self: self.broken is None)
    @rule()
    def lose_the_sheet(self) -> None:
        before = copy.deepcopy(self.sheet.tabs)
        self.sheet.lose()
        self.broken = ("lost", before)

    # -- the CRM
    @rule(pick=st.integers(0, 40), value=st.sampled_from(REVENUES))
    def crm_revenue(self, pick: int, value: float) -> None:
        client = self.crm.clients[pick % len(self.crm.clients)]
        client["revenue_rub"] = value
        self.revenues[client["id"]].add(value)
        self.synced = False

    @rule()
    def crm_add_client(self) -> None:
        client = make_client(self.next_id)
        self.next_id += 1
        self.crm.add(client)
        self.names[client["id"]] = client["company"]
        self.revenues[client["id"]] = {client["revenue_rub"]}
        self.synced = False

    @precondition(lambda self: self.deleted < 3 and len(self.crm.clients) > 3)
    @rule(pick=st.integers(0, 40))
    def crm_delete_client(self, pick: int) -> None:
        self.crm.delete(self.crm_ids()[pick % len(self.crm.clients)])
        self.deleted += 1
        self.synced = False

    @rule(pick=st.integers(0, 40), on=st.booleans())
    def crm_rejects(self, pick: int, on: bool) -> None:
        cid = self.crm_ids()[pick % len(self.crm.clients)]
        if on:
            self.crm.reject[cid] = "record locked by another user"
        else:
            self.crm.reject.pop(cid, None)
        self.synced = False

    # -- syncs and faults
    def _sync(self, **options: Any) -> sync.Summary:
        counts = self.counts() if TAB in self.sheet.tabs else {}
        seen = {cid: dict(self.wants(cid)) for cid in self.crm_ids() if counts.get(cid) == 1}
        self.rows_deleted = set()
        if options:
            self.ctx.state.close()
            self.ctx = self._context(**options)
        try:
            summary = sync.run_sync(self.ctx)
        finally:
            if options:
                self.ctx.state.close()
                self.ctx = self._context()
        for cid, values in seen.items():
            if cid not in self.rows_deleted:  # a row deleted during the sync was not seen
                self.kept[cid] = values
        self.synced = True
        return summary

    @precondition(lambda self: self.broken is None)
    @rule()
    def sync(self) -> None:
        self._sync()

    @precondition(lambda self: self.broken is None)
    @rule(race=st.sampled_from(["sort", "insert_row", "delete_row", "insert_column", "move_column"]),
          a=st.integers(0, 40), b=st.integers(0, 40))
    def sync_with_a_race(self, race: str, a: int, b: int) -> None:
        """An owner's structural edit lands between the write guard and the write (of a
        revenue the CRM just changed, so that there is something to write)."""
        self.crm_revenue(b, REVENUES[(a + b) % 4])
        action = {"sort": lambda: self.do_sort(a, b % 2 == 1), "insert_row": lambda: self.do_insert_row(a),
                  "delete_row": lambda: self.do_delete_row(a),
                  "insert_column": lambda: self.sheet.insert_column(TAB, a % 12),
                  "move_column": lambda: self.do_move_column(a % 12, b)}[race]
        self.sheet.between_check_and_write = lambda _sheet: action()
        self._sync()
        self.sheet.between_check_and_write = None

    @precondition(lambda self: self.broken is None)
    @rule()
    def sync_with_an_append_timeout(self) -> None:
        self.sheet.append_times_out_after_applying = True
        self._sync()
        self.sheet.append_times_out_after_applying = False

    @precondition(lambda self: self.broken is None)
    @rule(at=st.sampled_from(["crm-read", "crm-written", "sheet-written"]))
    def sync_killed(self, at: str) -> None:
        def die(name: str) -> None:
            if name == at:
                raise Killed(name)

        with mock.patch.object(sync, "checkpoint", die), pytest.raises(Killed):
            sync.run_sync(self.ctx)
        self.ctx.state.close()
        self.ctx = self._context()  # a new process
        self.synced = False

    @precondition(lambda self: self.broken is not None)
    @rule(rebuild=st.booleans())
    def sync_refuses_then_repair(self, rebuild: bool) -> None:
        """A lost header row, tab or sheet stops the sync, nothing written; then the owner
        undoes it (or, for a lost sheet, asks for a rebuild)."""
        assert self.broken is not None
        what, before = self.broken
        crm, tabs = copy.deepcopy(self.crm.categories()), copy.deepcopy(self.sheet.tabs)
        history = self.ctx.state.history()
        with pytest.raises(StructureError):
            sync.run_sync(self.ctx)
        assert self.crm.categories() == crm, "a refused sync changed the CRM"
        assert self.sheet.tabs == tabs, "a refused sync wrote the sheet"
        assert self.ctx.state.history() == history
        self.broken = None
        if what == "lost" and rebuild:
            for cid in self.intended:
                self.intended[cid] = dict(self.kept.get(cid, {MANUAL: None, NOTES: None}))
            self.extra = {}
            self.headers = {MANUAL: MANUAL, NOTES: NOTES}
            self._sync(rebuild_sheet=True)
            return
        self.sheet.tabs = before
        self.sheet.present = True
        self.synced = False

    # -- invariants
    @invariant()
    def rows_hold_their_own_clients_values(self) -> None:
        if self.broken is not None:
            return
        grid, hr = self.grid, self.hr()
        idc, name_col, rev_col = (column(grid, hr, h) for h in ("id", "name", "revenue"))
        for r in range(hr + 1, len(grid)):
            line = grid[r]
            cid = id_text(cell(line, idc))
            if not cid:
                assert blank(line), f"row {r + 1} has no id but holds {line}"
                continue
            assert cid in self.names, f"row {r + 1}: unknown id {cid!r}"
            name = cell(line, name_col)
            assert name_col is None or name == self.names[cid], f"row {r + 1} (client {cid}): name {name!r}"
            gone = self.crm.find(cid) is None  # a column made anew is empty in a gone client's row
            if rev_col is not None and not (gone and cell(line, rev_col) is None):
                assert cell(line, rev_col) in self.revenues[cid], \
                    f"row {r + 1} (client {cid}): revenue {cell(line, rev_col)!r} was never {cid}'s"

    @invariant()
    def owner_values_are_where_the_owner_left_them(self) -> None:
        if self.broken is not None:
            return
        grid, hr = self.grid, self.hr()
        cols = {name: column(grid, hr, header) for name, header in self.headers.items()}
        extra = {h: column(grid, hr, h) for h in self.extra}
        counts = self.counts()
        for r, cid in self.rows_of():
            if counts[cid] > 1 and cid in self.dup_edited:
                continue  # which row's value the owner means is theirs to say (by deleting one)
            for name, col in cols.items():
                if col is not None:
                    have, want = cell(grid[r], col), self.wants(cid)[name]
                    assert have == want, f"row {r + 1} (client {cid}) {name}: {have!r}, the owner left {want!r}"
            for h, col in extra.items():
                if col is not None:
                    assert cell(grid[r], col) == self.extra[h].get(cid), \
                        f"row {r + 1} (client {cid}) {h}: {cell(grid[r], col)!r}"

    @invariant()
    def history_has_every_change_once(self) -> None:
        rows = self.ctx.state.history()
        last: dict[str, str] = {}
        for row in rows:
            cid = row["client_id"]
            assert (row["from_cat"] or "") == last.get(cid, ""), f"history of {cid} skips or repeats: {row}"
            assert row["from_cat"] != row["to_cat"], f"history row that changes nothing: {row}"
            last[cid] = row["to_cat"]
        tab = self.sheet.tabs.get("History")
        if self.broken is not None or not tab:
            return
        seq_col = column(tab, 0, "seq")
        assert seq_col is not None
        seqs = [id_text(cell(line, seq_col)) for line in tab[1:] if not blank(line)]
        assert len(seqs) == len(set(seqs)), f"History tab repeats a row: {sorted(seqs)}"
        if self.synced:
            edits = self.ctx.state.db.execute("SELECT seq FROM edits").fetchall()
            want = {str(r["seq"]) for r in rows} | {f"e{s}" for (s,) in edits}
            lacks, extra = sorted(want - set(seqs) - self.history_lost), sorted(set(seqs) - want)
            assert not lacks and not extra, f"History tab lacks {lacks}, has extra {extra}"

    @invariant()
    def the_crm_holds_what_the_sheet_shows(self) -> None:
        if not self.synced or self.broken is not None:
            return
        grid, hr = self.grid, self.hr()
        cat_col, rev_col = column(grid, hr, "category"), column(grid, hr, "revenue")
        counts = self.counts()
        crm = self.crm.categories()
        last = self.ctx.state.last_categories()
        codes = set(self.rules.codes)
        expected = self.expected_categories(counts)
        for client in self.crm.clients:
            cid = client["id"]
            if cid in self.rows_deleted:  # an owner deleted its row while the sync ran: the next one restores it
                continue
            assert counts.get(cid, 0) >= 1, f"client {cid} of the CRM has no row after a sync"
            if cid in self.crm.reject:
                continue
            if expected[cid] in codes:
                assert crm[cid] == expected[cid], \
                    f"client {cid} (in {counts[cid]} rows): CRM {crm[cid]!r}, expected {expected[cid]!r}"
            if counts[cid] > 1:  # a copied row: no owner value of either row reaches the CRM
                continue
            r = next(r for r, c in self.rows_of() if c == cid)
            shown = cell(grid[r], cat_col)
            assert cell(grid[r], rev_col) == client["revenue_rub"], f"client {cid}: revenue not the CRM's"
            if shown in codes:
                assert crm[cid] == shown, f"client {cid}: the sheet shows {shown!r}, the CRM holds {crm[cid]!r}"
                assert last[cid][0] == shown, f"client {cid}: history ends at {last[cid][0]!r}, sheet {shown!r}"
            manual = self.wants(cid)[MANUAL]
            if manual:
                assert shown == manual and crm[cid] == manual, \
                    f"client {cid}: manual {manual!r}, sheet {shown!r}, CRM {crm[cid]!r}"

    def expected_categories(self, counts: dict[str, int]) -> dict[str, str]:
        """The oracle: the rules over the CRM's data with the manual categories the owners
        decided (the kept one for a client in two rows: neither row's value counts)."""
        table, _ = sync.read_crm(self.ctx)
        frame = table.frame.copy()
        manual = [(self.kept if counts.get(cid, 0) > 1 else self.intended).get(cid, {}).get(MANUAL)
                  for cid in frame["id"].astype(str)]
        frame["manual_category"] = pd.array(manual, dtype="string")
        out = categorize(ClientTable(frame, table.problems, table.source_columns), self.rules, NOW.date()).frame
        return dict(zip(out["id"].astype(str), out["category"].astype(str), strict=True))


TestOwnerMachine = OwnerMachine.TestCase
# CI: 30 fixed examples (~20 s of CPU; both mutants named in the report are caught within them).
# Hunting locally: HSM_EXAMPLES=400 HSM_RANDOM=1 HSM_SHRINK=0 (no shrinking: a failure is shown at once).
TestOwnerMachine.settings = settings(max_examples=int(os.environ.get("HSM_EXAMPLES", "30")), stateful_step_count=15,
                                     deadline=None, database=None, derandomize=os.environ.get("HSM_RANDOM") != "1",
                                     phases=tuple(Phase) if os.environ.get("HSM_SHRINK", "1") == "1" else
                                     [Phase.explicit, Phase.reuse, Phase.generate])


# -- sequences the machine found, as plain scenarios on the same model
def checked(machine: OwnerMachine) -> OwnerMachine:
    machine.rows_hold_their_own_clients_values()
    machine.owner_values_are_where_the_owner_left_them()
    machine.history_has_every_change_once()
    machine.the_crm_holds_what_the_sheet_shows()
    return machine


def rows_of_client(machine: OwnerMachine, cid: str) -> list[int]:
    return [r for r, c in machine.rows_of() if c == cid]


def test_a_rebuilt_sheet_has_the_whole_history() -> None:
    m = checked(OwnerMachine())
    try:
        m.lose_the_sheet()
        m.sync_refuses_then_repair(rebuild=True)
        m.history_lost = set()  # the model's allowance for this very bug, withdrawn
        checked(m)
    finally:
        m.teardown()


def test_a_restored_manual_column_is_filled_in_copied_rows_too() -> None:
    """Manual A on client 3; its row copied; the manual_category column deleted; a sync adds
    the column again but leaves it empty in both rows of client 3; the owner deletes the copy;
    the next sync read the empty cell as "cleared" and put the rule's EEE into the CRM."""
    m = checked(OwnerMachine())
    try:
        m.set_manual_category(pick=2, code="A")
        m.sync()
        assert m.crm.categories()["3"] == "A"
        m.copy_row(pick=2, above=False, code=None)
        m.delete_column(pos=column(m.grid, m.hr(), MANUAL) or 0)
        m.sync()
        m.sheet.delete_row(TAB, rows_of_client(m, "3")[1])  # the owner deletes the copy
        m.sync()
        assert m.crm.categories()["3"] == "A"
        checked(m)
    finally:
        m.teardown()


def test_a_manual_category_typed_into_a_copied_row_never_reaches_the_crm() -> None:
    """Issue 12, 5 (and the mutant the machine was proven on: layout.read_clients using the
    first of two rows of an id)."""
    m = checked(OwnerMachine())
    try:
        before = m.crm.categories()["6"]
        m.copy_row(pick=5, above=True, code="A" if before != "A" else "B")
        m.sync()
        assert m.crm.categories()["6"] == before
        checked(m)
    finally:
        m.teardown()


def test_a_column_inserted_between_guard_and_write_clobbers_nothing() -> None:
    """Revenue changes for every client; an owner inserts a column left of notes while the
    sync writes: the revenue figures land in notes, are caught after the write, the notes are
    given back, and the re-planned pass writes the revenues where they belong."""
    m = checked(OwnerMachine())
    try:
        for pick in range(FIRST):
            m.set_note(pick=pick, note=f"note {pick}")
            m.crm_revenue(pick=pick, value=REVENUES[(pick + 2) % 4])
        notes = column(m.grid, m.hr(), NOTES)
        assert notes is not None
        writes = m.sheet.writes
        m.sheet.between_check_and_write = lambda sheet: sheet.insert_column(TAB, notes - 1)
        m._sync()
        assert m.sheet.writes == writes + 2  # the clobbering write, then the re-planned one
        checked(m)
    finally:
        m.teardown()


def test_an_append_that_timed_out_after_landing_is_not_repeated() -> None:
    m = checked(OwnerMachine())
    try:
        m.crm_add_client()
        m.sync_with_an_append_timeout()
        assert m.counts()[str(FIRST + 1)] == 1
        checked(m)
    finally:
        m.teardown()


@pytest.mark.parametrize("at", ["crm-read", "crm-written", "sheet-written"])
def test_a_kill_at_a_checkpoint_is_finished_by_the_next_sync(at: str) -> None:
    m = checked(OwnerMachine())
    try:
        m.set_manual_category(pick=0, code="C")
        m.crm_add_client()
        m.sync_killed(at)
        m.sync()
        assert m.crm.categories()["1"] == "C" and m.counts()[str(FIRST + 1)] == 1
        checked(m)
    finally:
        m.teardown()
