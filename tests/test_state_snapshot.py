"""The compact snapshot of the state store: a state file of the older layout (a row per client
and CRM column) is converted when opened and keeps telling an owner's edit from a CRM change;
a sync that changes nothing does not write it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from test_owner_trust import find, header

from sheets_sync.layout import snapshot_text
from sheets_sync.sheets.workbook import WorkbookSheet
from sheets_sync.state import Snapshot, StateStore, text_hashes

OLD_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE snapshot (
    client_id TEXT NOT NULL, col TEXT NOT NULL, value TEXT, PRIMARY KEY (client_id, col));
"""


def _old_state(path: Path, rows: list[tuple[str, str, str]]) -> None:
    db = sqlite3.connect(path)
    with db:
        db.executescript(OLD_SCHEMA)
        db.executemany("INSERT INTO snapshot VALUES (?, ?, ?)", rows)
    db.close()


def _layout(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [row[1] for row in db.execute("PRAGMA table_info(snapshot)")]
    finally:
        db.close()


def test_an_old_snapshot_is_converted_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    _old_state(path, [("1", "name", "Acme"), ("1", "revenue", "1200.5"), ("2", "name", ""),
                      ("2", "last_order", "2026-01-02")])
    read_only = StateStore(path, read_only=True)  # a dry run converts its private copy only
    assert read_only.client_ids() == {"1", "2"}
    read_only.close()
    assert _layout(path) == ["client_id", "col", "value"]

    store = StateStore(path)
    snap = store.snapshot()
    assert _layout(path) == ["part", "data"]
    assert store.client_ids() == {"1", "2"}
    assert snap.get("1", "revenue") == int(text_hashes(["1200.5"])[0])
    assert snap.get("2", "name") == int(text_hashes([""])[0])  # an empty cell is a value kept
    assert snap.get("2", "revenue") is None and snap.get("3", "name") is None
    store.close()
    again = StateStore(path)  # opened again: nothing left to convert, same values
    assert again.snapshot().same_as(snap)
    again.close()


def test_a_conversion_that_fails_halfway_leaves_the_old_snapshot(tmp_path: Path, monkeypatch: object) -> None:
    """As a run killed while converting: the next run finds the older table whole."""
    import sheets_sync.state as state

    path = tmp_path / "state.sqlite"
    rows = [("1", "name", "Acme"), ("2", "name", "Globex")]
    _old_state(path, rows)

    def broken(values: object) -> Snapshot:
        raise RuntimeError("killed")

    monkeypatch.setattr(state.Snapshot, "from_texts", staticmethod(broken))  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError):
        StateStore(path)
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT client_id, col, value FROM snapshot ORDER BY client_id").fetchall() == rows
    finally:
        db.close()


def test_a_snapshot_hashed_by_another_function_is_not_compared(tmp_path: Path) -> None:
    """Were pandas' hash ever to change, stored hashes would match nothing: rather than report
    every differing cell as an owner's edit, the snapshot counts as empty."""
    path = tmp_path / "state.sqlite"
    store = StateStore(path)
    store.save_snapshot(Snapshot.from_texts({("1", "name"): "Acme"}))
    assert store.snapshot().get("1", "name")
    with store.db:
        store.db.execute("UPDATE snapshot SET data = ? WHERE part = 'probe'", (b"\x00" * 8,))
    assert len(store.snapshot()) == 0
    store.close()


def _sheet_as_old_snapshot(folder: Path) -> list[tuple[str, str, str]]:
    """What the older code kept after a sync: the snapshot text of every CRM cell it wrote."""
    from sheets_sync.config import load_config
    from sheets_sync.sync import open_context, read_crm, sheet_columns

    config = load_config(folder / "sheets-sync.toml")
    ctx = open_context(config)
    try:
        _, raw = read_crm(ctx)
        columns = [c for c in sheet_columns(config, ctx.rules, raw) if c.role == "crm"]
    finally:
        ctx.state.close()
    grid = WorkbookSheet(folder / "clients.xlsx").read(["Clients"])["Clients"]
    head = [str(h) for h in grid[0]]
    at = {c.name: head.index(c.header) for c in columns}
    return [(str(line[at["id"]]), name, snapshot_text(line[col] if col < len(line) else None))
            for line in grid[1:] for name, col in at.items()]


def test_a_state_file_of_the_older_layout_keeps_telling_edits_from_crm_changes(
        cli: Callable[..., str], tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "30", code=0)
    state = folder / "sheets-sync.state.sqlite"
    old = _sheet_as_old_snapshot(folder)
    db = sqlite3.connect(state)
    with db:  # the snapshot table as the older code left it
        db.execute("DROP TABLE snapshot")
        db.execute("CREATE TABLE snapshot (client_id TEXT NOT NULL, col TEXT NOT NULL, value TEXT, "
                   "PRIMARY KEY (client_id, col))")
        db.executemany("INSERT INTO snapshot VALUES (?, ?, ?)", old)
    db.close()
    book = folder / "clients.xlsx"
    wb = openpyxl.load_workbook(book)
    ws = wb["Clients"]
    col = header(ws)
    name_col = next(c for h, c in col.items() if h in ("name", "company", "Компания", "Название"))
    ws.cell(row=find(ws, "3"), column=name_col).value = "Owner typed this"
    wb.save(book)
    with sqlite3.connect(folder / "crm.sqlite") as crm:  # and a change in the CRM itself
        crm.execute("UPDATE companies SET revenue_rub = 987654 WHERE id = 5")
    out = json.loads(cli("sync", "--config", str(folder / "sheets-sync.toml"), "--json"))
    assert [(e["id"], e["sheet"]) for e in out["overwritten_edits"]] == [("3", "Owner typed this")]
    assert _layout(state) == ["part", "data"]


def test_a_sync_with_nothing_to_do_does_not_write_the_snapshot(cli: Callable[..., str], tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "30", code=0)
    state = folder / "sheets-sync.state.sqlite"
    db = sqlite3.connect(state)
    with db:  # count every write to the snapshot table
        db.executescript("""
            CREATE TABLE writes (n INTEGER);
            INSERT INTO writes VALUES (0);
            CREATE TRIGGER counted_insert AFTER INSERT ON snapshot BEGIN UPDATE writes SET n = n + 1; END;
            CREATE TRIGGER counted_update AFTER UPDATE ON snapshot BEGIN UPDATE writes SET n = n + 1; END;
            CREATE TRIGGER counted_delete AFTER DELETE ON snapshot BEGIN UPDATE writes SET n = n + 1; END;
        """)
    db.close()
    config = str(folder / "sheets-sync.toml")
    cli("sync", "--config", config, code=0)  # settles whatever the demo left to do
    before = _writes(state)
    out = json.loads(cli("sync", "--config", config, "--json"))
    assert out["nothing_to_do"]
    assert _writes(state) == before
    with sqlite3.connect(folder / "crm.sqlite") as crm:
        crm.execute("UPDATE companies SET company = 'Renamed' WHERE id = 4")
    cli("sync", "--config", config, code=None)
    assert _writes(state) > before  # a change is written


def _writes(state: Path) -> int:
    db = sqlite3.connect(state)
    try:
        return db.execute("SELECT n FROM writes").fetchone()[0]
    finally:
        db.close()
