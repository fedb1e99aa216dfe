"""The state store: a SQLite file beside the config.

It keeps what the sheet and the CRM cannot tell us on their own:

* ``snapshot``: the CRM values last written into the sheet, per client and column, so an
  owner's edit of a CRM column in the sheet is noticed (reported and kept in history) rather
  than silently overwritten;
* ``history``: every category change (client, from, to, reason, rule or manual, when), and
  whether it has been copied into the sheet's History tab yet;
* ``owner``: the owners' decisions as last seen in the sheet (manual category, notes), so a
  sheet that lost them (a deleted column, row, tab or workbook) never costs one: they are put
  back, or the sync refuses and says why;
* ``ledger``: categories the CRM rejected, retried at every run until they go through;
* ``runs``: one summary per sync;
* ``deals``: the CRM's deals as last read (``[orders] source = "crm"``), so a steady sync reads
  only the deals changed since (``sheets_sync.orders.vendors``).

Each step's state is saved in its own transaction, only when the step succeeded.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS snapshot (
    client_id TEXT NOT NULL, col TEXT NOT NULL, value TEXT, PRIMARY KEY (client_id, col));
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, client_id TEXT NOT NULL, name TEXT,
    from_cat TEXT, to_cat TEXT, reason TEXT, source TEXT, changed_at TEXT NOT NULL,
    in_sheet INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS history_client ON history (client_id, seq);
CREATE TABLE IF NOT EXISTS ledger (
    client_id TEXT PRIMARY KEY, category TEXT, message TEXT, first_seen TEXT, last_tried TEXT,
    attempts INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS edits (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, client_id TEXT, col TEXT, sheet_value TEXT,
    crm_value TEXT, at TEXT);
CREATE TABLE IF NOT EXISTS owner (
    client_id TEXT NOT NULL, col TEXT NOT NULL, value TEXT NOT NULL, seen_at TEXT,
    PRIMARY KEY (client_id, col));
CREATE TABLE IF NOT EXISTS deals (
    source TEXT NOT NULL, deal_id TEXT NOT NULL, client_id TEXT, amount REAL, day TEXT,
    won INTEGER NOT NULL, PRIMARY KEY (source, deal_id));
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT, finished_at TEXT, summary TEXT);
"""


@dataclass(frozen=True)
class Change:
    """One category change, as recorded in history."""

    client_id: str
    name: str
    from_cat: str
    to_cat: str
    reason: str
    source: str  # "rule" | "manual"
    changed_at: str  # ISO timestamp


class StateStore:
    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        """The store at ``path``; ``read_only`` (a dry run) works on a private copy in memory,
        so the file is neither created nor changed."""
        self.path = Path(path)
        from .paths import path_error

        try:
            if read_only:
                self.db = sqlite3.connect(":memory:")
                if self.path.is_file():
                    source = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
                    try:
                        source.backup(self.db)
                    finally:
                        source.close()
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self.path.is_dir():
                    raise IsADirectoryError(self.path)
                self.db = sqlite3.connect(self.path, timeout=30)
            self.db.executescript(SCHEMA)
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(edits)")}
            if "in_sheet" not in columns:  # state files of 0.1: edits were not in the History tab
                with self.db:
                    self.db.execute("ALTER TABLE edits ADD COLUMN in_sheet INTEGER NOT NULL DEFAULT 0")
            self._probe_writable()
        except (OSError, sqlite3.OperationalError) as exc:
            raise path_error(self.path, exc, "the state file") from exc
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"State file {self.path} is not usable ({exc}). Move it away; "
                              "a new one is created (history starts again).") from exc

    def _probe_writable(self) -> None:
        """A read-only state file (or folder) fails here, naming the path, not halfway
        through a sync; a file another sync is writing is writable, so "locked" is fine."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:  # a write rolled back: SQLite opens a file it may not write read-only
                self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('probe', '')")
            finally:
                self.db.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise

    def close(self) -> None:
        self.db.close()

    # -- categories and history
    def last_categories(self) -> dict[str, tuple[str, str]]:
        """client id -> (current category, when it was set)."""
        rows = self.db.execute(
            "SELECT client_id, to_cat, changed_at FROM history WHERE seq IN "
            "(SELECT MAX(seq) FROM history GROUP BY client_id)")
        return {cid: (to or "", at) for cid, to, at in rows}

    def record(self, changes: Iterable[Change]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT INTO history (client_id, name, from_cat, to_cat, reason, source, "
                "changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(c.client_id, c.name, c.from_cat, c.to_cat, c.reason, c.source, c.changed_at)
                 for c in changes])

    def history(self, since: str | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT seq, client_id, name, from_cat, to_cat, reason, source, changed_at "
               "FROM history")
        args: tuple[Any, ...] = ()
        if since:
            sql += " WHERE changed_at >= ?"
            args = (since,)
        cur = self.db.execute(sql + " ORDER BY seq", args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def not_in_sheet(self) -> list[dict[str, Any]]:
        cur = self.db.execute(
            "SELECT seq, client_id, name, from_cat, to_cat, reason, source, changed_at "
            "FROM history WHERE in_sheet = 0 ORDER BY seq")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def mark_in_sheet(self, seqs: Iterable[int]) -> None:
        with self.db:
            self.db.executemany("UPDATE history SET in_sheet = 1 WHERE seq = ?",
                                [(s,) for s in seqs])

    def record_edits(self, edits: Iterable[Mapping[str, str]], at: str) -> None:
        """Owner edits of CRM columns in the sheet that the CRM's value replaced; an edit already
        recorded and not yet in the sheet (a pass planned again, a sheet write that failed) is
        not recorded twice."""
        pending = {(r[0], r[1], r[2], r[3]) for r in self.db.execute(
            "SELECT client_id, col, sheet_value, crm_value FROM edits WHERE in_sheet = 0")}
        rows = [(e["id"], e["column"], e["sheet"], e["crm"], at) for e in edits
                if (e["id"], e["column"], e["sheet"], e["crm"]) not in pending]
        with self.db:
            self.db.executemany(
                "INSERT INTO edits (client_id, col, sheet_value, crm_value, at) VALUES (?, ?, ?, ?, ?)", rows)

    def edits_not_in_sheet(self, every: bool = False) -> list[dict[str, Any]]:
        """Replaced owner edits not yet in the History tab (``every``: all of them)."""
        where = "" if every else "WHERE in_sheet = 0 "
        cur = self.db.execute("SELECT seq, client_id, col, sheet_value, crm_value, at FROM edits "
                              f"{where}ORDER BY seq")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def mark_edits_in_sheet(self, seqs: Iterable[int]) -> None:
        with self.db:
            self.db.executemany("UPDATE edits SET in_sheet = 1 WHERE seq = ?", [(s,) for s in seqs])

    # -- the owners' decisions (manual category, notes) as last seen in the sheet
    def owner_values(self) -> dict[str, dict[str, str]]:
        """client id -> {column: value} of every non-empty owner value seen."""
        out: dict[str, dict[str, str]] = {}
        for cid, col, value in self.db.execute("SELECT client_id, col, value FROM owner"):
            out.setdefault(cid, {})[col] = value
        return out

    def save_owner_values(self, seen: Mapping[str, Mapping[str, str]], at: str) -> None:
        """What the sheet shows for these clients now; an empty value is a decision too (the
        owner cleared it) and removes the record. Clients not in ``seen`` keep theirs."""
        with self.db:
            before = self.owner_values()
            for cid, values in seen.items():
                for col, value in values.items():
                    if before.get(cid, {}).get(col, "") == value:
                        continue
                    if value:
                        self.db.execute("INSERT OR REPLACE INTO owner VALUES (?, ?, ?, ?)",
                                        (cid, col, value, at))
                    else:
                        self.db.execute("DELETE FROM owner WHERE client_id = ? AND col = ?", (cid, col))

    # -- snapshot of CRM values written to the sheet
    def client_ids(self) -> set[str]:
        """The clients the last sync wrote into the sheet (the CRM's clients then)."""
        return {cid for (cid,) in self.db.execute("SELECT DISTINCT client_id FROM snapshot")}

    def snapshot(self) -> dict[tuple[str, str], str]:
        return {(cid, col): value for cid, col, value in
                self.db.execute("SELECT client_id, col, value FROM snapshot")}

    def save_snapshot(self, values: Mapping[tuple[str, str], str],
                      before: Mapping[tuple[str, str], str] | None = None) -> None:
        """Store ``values``; with ``before`` (what is stored now) only the difference is written."""
        with self.db:
            if before is None:
                self.db.execute("DELETE FROM snapshot")
                changed = values.items()
            else:
                gone = [key for key in before if key not in values]
                self.db.executemany("DELETE FROM snapshot WHERE client_id = ? AND col = ?", gone)
                changed = [(key, v) for key, v in values.items() if before.get(key) != v]
            self.db.executemany("INSERT OR REPLACE INTO snapshot VALUES (?, ?, ?)",
                                [(cid, col, v) for (cid, col), v in changed])

    # -- ledger of CRM rejections
    def ledger(self) -> dict[str, dict[str, Any]]:
        cur = self.db.execute("SELECT client_id, category, message, first_seen, last_tried, "
                              "attempts FROM ledger ORDER BY client_id")
        names = [d[0] for d in cur.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cur}

    def update_ledger(self, rejected: Mapping[str, tuple[str, str]], written: Iterable[str],
                      now: str) -> None:
        with self.db:
            self.db.executemany("DELETE FROM ledger WHERE client_id = ?", [(w,) for w in written])
            for cid, (category, message) in rejected.items():
                self.db.execute(
                    "INSERT INTO ledger VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (client_id) DO "
                    "UPDATE SET category = excluded.category, message = excluded.message, "
                    "last_tried = excluded.last_tried, attempts = attempts + 1",
                    (cid, category, message, now, now))

    # -- meta and runs
    def get(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                            "value = excluded.value", (key, value))

    def record_run(self, started: datetime, finished: datetime, summary: Mapping[str, Any]) -> None:
        with self.db:
            self.db.execute("INSERT INTO runs (started_at, finished_at, summary) VALUES (?, ?, ?)",
                            (started.isoformat(timespec="seconds"),
                             finished.isoformat(timespec="seconds"),
                             json.dumps(summary, ensure_ascii=False, default=str)))


    # -- the CRM's deals ([orders] source = "crm"), kept between syncs
    def deals(self, source: str) -> list[tuple[str, str, float | None, str | None, int]]:
        """(deal id, client id, amount, close day ISO, won) of every deal kept for ``source``."""
        return self.db.execute("SELECT deal_id, client_id, amount, day, won FROM deals WHERE source = ?",
                               (source,)).fetchall()

    def save_deals(self, source: str, rows: Iterable[tuple[str, str, float | None, str | None, int]],
                   *, replace_all: bool) -> None:
        """Keep ``rows`` (as :meth:`deals` gives them); ``replace_all``: they are all there are."""
        with self.db:
            if replace_all:
                self.db.execute("DELETE FROM deals WHERE source = ?", (source,))
            self.db.executemany("INSERT OR REPLACE INTO deals (source, deal_id, client_id, amount, day, won) "
                                "VALUES (?, ?, ?, ?, ?, ?)", [(source, *row) for row in rows])
