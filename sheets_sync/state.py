"""The state store: a SQLite file beside the config.

It keeps what the sheet and the CRM cannot tell us on their own:

* ``snapshot``: the CRM values last written into the sheet, per client and column, so an
  owner's edit of a CRM column in the sheet is noticed (reported and kept in history) rather
  than silently overwritten. It is kept compactly (:class:`Snapshot`): the client ids, the
  column names and one 64-bit hash per cell, as three blobs; a sync that changes nothing
  does not rewrite it. A state file of the older layout (a row per client and column) is
  converted when it is opened;
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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
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


SNAPSHOT_TABLE = "CREATE TABLE IF NOT EXISTS snapshot (part TEXT PRIMARY KEY, data BLOB NOT NULL)"
#: values whose hashes are stored beside the snapshot: if the hash functions ever changed
#: (another pandas), the stored hashes are not compared with new ones (no owner edit is invented)
_PROBE = ["sheets-sync snapshot probe", "12.5"]
_FLOAT_START = frozenset("0123456789-i")


def text_hashes(texts: Sequence[str] | np.ndarray) -> np.ndarray:
    """64-bit hashes of snapshot texts (:func:`sheets_sync.layout.snapshot_text`); never 0,
    which stands for "no value kept". A text that is a number's ``repr`` is hashed as that
    number (as :func:`sheets_sync.plan.cell_hashes` hashes numbers, without their text)."""
    values = np.asarray(texts, dtype=object)
    out = np.zeros(len(values), dtype=np.uint64)
    if not len(values):
        return out
    numbers: list[int] = []
    floats: list[float] = []
    for i, text in enumerate(values.tolist()):
        # a float's repr has a point, an exponent or is inf: an id of digits is no candidate
        if text and text[0] in _FLOAT_START and ("." in text or "e" in text or "inf" in text):
            try:
                number = float(text)
            except ValueError:
                continue
            if repr(number) == text:
                numbers.append(i)
                floats.append(number)
    rest = np.ones(len(values), dtype=bool)
    if numbers:
        out[numbers] = float_hashes(np.array(floats, dtype="float64"))
        rest[numbers] = False
    if rest.any():
        out[rest] = pd.util.hash_array(values[rest], categorize=False)
    out[out == 0] = 1
    return out


def float_hashes(values: np.ndarray) -> np.ndarray:
    """Hashes of numbers (not NaN), equal to :func:`text_hashes` of their ``repr``."""
    out = pd.util.hash_array(np.ascontiguousarray(values, dtype="float64"), categorize=False)
    out = out ^ np.uint64(0x9E3779B97F4A7C15)  # apart from the hashes of texts
    out[out == 0] = 1
    return out


def _probe() -> bytes:
    return text_hashes(_PROBE).astype("<u8").tobytes()


@dataclass(frozen=True)
class Snapshot:
    """The CRM values last written into the sheet, compactly: for each client (``ids``) and
    CRM column (``columns``) the hash of the value's snapshot text, 0 where none was kept."""

    ids: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    hashes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.uint64))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def index(self) -> pd.Index:
        """The client ids as an index (positions by id: ``index.get_indexer(ids)``)."""
        return pd.Index(self.ids, dtype=object)

    def column(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Hashes of column ``name`` at positions ``rows`` (-1: a client not kept): 0 = none."""
        out = np.zeros(len(rows), dtype=np.uint64)
        if name not in self.columns:
            return out
        known = rows >= 0
        out[known] = self.hashes[rows[known], self.columns.index(name)]
        return out

    def get(self, client_id: str, column: str) -> int | None:
        """The hash kept for one cell, ``None`` when none is."""
        if client_id not in self.ids or column not in self.columns:
            return None
        value = int(self.hashes[self.ids.index(client_id), self.columns.index(column)])
        return value or None

    @classmethod
    def from_texts(cls, values: Mapping[tuple[str, str], str]) -> Snapshot:
        """A snapshot of ``{(client id, column): snapshot text}`` (the older layout)."""
        ids = list(dict.fromkeys(cid for cid, _ in values))
        columns = list(dict.fromkeys(col for _, col in values))
        hashes = np.zeros((len(ids), len(columns)), dtype=np.uint64)
        if values:
            row = {cid: i for i, cid in enumerate(ids)}
            col = {c: j for j, c in enumerate(columns)}
            rows = np.fromiter((row[cid] for cid, _ in values), dtype=np.intp, count=len(values))
            cols = np.fromiter((col[c] for _, c in values), dtype=np.intp, count=len(values))
            hashes[rows, cols] = text_hashes(list(values.values()))
        return cls(tuple(ids), tuple(columns), hashes)

    def with_rows(self, other: Snapshot, ids: Iterable[str]) -> Snapshot:
        """This snapshot plus ``other``'s rows of ``ids`` (clients this one does not hold)."""
        wanted = [cid for cid in dict.fromkeys(ids) if cid not in set(self.ids) and cid in set(other.ids)]
        if not wanted:
            return self
        columns = list(self.columns) + [c for c in other.columns if c not in self.columns]
        hashes = np.zeros((len(self.ids) + len(wanted), len(columns)), dtype=np.uint64)
        hashes[:len(self.ids), :len(self.columns)] = self.hashes
        rows = other.index.get_indexer(wanted)
        for j, name in enumerate(columns):
            hashes[len(self.ids):, j] = other.column(name, rows)
        return Snapshot(self.ids + tuple(wanted), tuple(columns), hashes)

    def same_as(self, other: Snapshot) -> bool:
        return (self.ids == other.ids and self.columns == other.columns
                and np.array_equal(self.hashes, other.hashes))


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
            self._snapshot_layout()
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

    def categories_before(self, moment: datetime) -> list[dict[str, Any]]:
        """For each client, its last history row up to ``moment`` (the rows a report needs to
        know the categories then, without reading the whole history)."""
        cur = self.db.execute(
            "SELECT seq, client_id, name, from_cat, to_cat, reason, source, changed_at FROM history "
            "WHERE seq IN (SELECT MAX(seq) FROM history WHERE changed_at <= ? GROUP BY client_id) "
            "ORDER BY seq", (moment.isoformat(timespec="seconds"),))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def not_in_sheet(self, limit: int | None = None) -> list[dict[str, Any]]:
        """History rows not yet in the sheet's History tab (the first ``limit`` of them)."""
        cur = self.db.execute(
            "SELECT seq, client_id, name, from_cat, to_cat, reason, source, changed_at "
            "FROM history WHERE in_sheet = 0 ORDER BY seq" + (f" LIMIT {int(limit)}" if limit else ""))
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

    def edits_not_in_sheet(self, every: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
        """Replaced owner edits not yet in the History tab (``every``: all of them; the first
        ``limit`` of them)."""
        where = "" if every else "WHERE in_sheet = 0 "
        cur = self.db.execute("SELECT seq, client_id, col, sheet_value, crm_value, at FROM edits "
                              f"{where}ORDER BY seq" + (f" LIMIT {int(limit)}" if limit else ""))
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
    def _snapshot_layout(self) -> None:
        """Create the snapshot table, or convert one of the older layout (a row per client and
        column) in one transaction: a run killed meanwhile leaves the old one."""
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(snapshot)")}
        if not columns:
            with self.db:
                self.db.execute(SNAPSHOT_TABLE)
            return
        if "client_id" not in columns:
            return
        old = {(cid, col): value or "" for cid, col, value in
               self.db.execute("SELECT client_id, col, value FROM snapshot")}
        self.db.execute("BEGIN IMMEDIATE")  # the DROP too: sqlite3 begins implicitly only before DML
        try:
            self.db.execute("DROP TABLE snapshot")
            self.db.execute(SNAPSHOT_TABLE)
            self._write_snapshot(Snapshot.from_texts(old))
        except BaseException:
            self.db.rollback()
            raise
        self.db.commit()

    def client_ids(self) -> set[str]:
        """The clients the last sync wrote into the sheet (the CRM's clients then)."""
        return set(self.snapshot().ids)

    def snapshot(self) -> Snapshot:
        parts = dict(self.db.execute("SELECT part, data FROM snapshot"))
        if "ids" not in parts or parts.get("probe") != _probe():
            return Snapshot()
        ids = tuple(json.loads(parts["ids"]))
        columns = tuple(json.loads(parts["columns"]))
        hashes = np.frombuffer(parts["hashes"], dtype="<u8").astype(np.uint64)
        return Snapshot(ids, columns, hashes.reshape(len(ids), len(columns)))

    def save_snapshot(self, values: Snapshot, before: Snapshot | None = None) -> None:
        """Store ``values``; nothing is written when it is ``before`` (what is stored now)."""
        if before is not None and values.same_as(before):
            return
        with self.db:
            self._write_snapshot(values)

    def _write_snapshot(self, values: Snapshot) -> None:
        parts = {"ids": json.dumps(list(values.ids), ensure_ascii=False).encode(),
                 "columns": json.dumps(list(values.columns), ensure_ascii=False).encode(),
                 "hashes": np.ascontiguousarray(values.hashes, dtype="<u8").tobytes(),
                 "probe": _probe()}
        self.db.executemany("INSERT OR REPLACE INTO snapshot (part, data) VALUES (?, ?)", parts.items())

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
