"""Unattended runs: a real process killed at several points loses nothing and the next run
finishes the job; two real processes contend for the lock."""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest


@pytest.fixture
def busy_demo(cli: Callable[..., str], tmp_path: Path) -> Path:
    """A synced demo whose CRM then lost every category and changed data: plenty to do."""
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "120", code=0)
    config = folder / "sheets-sync.toml"
    config.write_text(config.read_text().replace('category_field = "category"',
                                                 'category_field = "category"\nbatch_size = 10'))
    with sqlite3.connect(folder / "crm.sqlite") as db:
        db.execute("UPDATE companies SET category = NULL")
        db.execute("UPDATE companies SET overdue_days = 200 WHERE id % 7 = 0")  # these move to EEE
    return config


def consistent(config: Path) -> None:
    """The CRM holds every qualified client's category from the sheet; history has no repeats."""
    folder = config.parent
    ws = openpyxl.load_workbook(folder / "clients.xlsx")["Clients"]
    rows = list(ws.iter_rows(values_only=True))
    col = {h: i for i, h in enumerate(rows[0])}
    sheet = {r[col["id"]]: r[col["category"]] for r in rows[1:]}
    with sqlite3.connect(folder / "crm.sqlite") as db:
        crm = {str(i): c for i, c in db.execute("SELECT id, category FROM companies")}
    assert set(sheet) == set(crm)
    for cid, category in sheet.items():
        if category != "unqualified":
            assert crm[cid] == category, cid
    with sqlite3.connect(folder / "sheets-sync.state.sqlite") as db:
        repeats = db.execute("SELECT COUNT(*) FROM (SELECT client_id, to_cat, COUNT(*) n FROM history "
                             "GROUP BY client_id, to_cat, from_cat HAVING n > 1)").fetchone()[0]
    assert repeats == 0
    history = list(openpyxl.load_workbook(folder / "clients.xlsx")["History"].iter_rows(values_only=True))[1:]
    keys = [(r[1], r[3], r[4]) for r in history]
    assert len(keys) == len(set(keys)), "History tab has a change twice"


@pytest.mark.parametrize("point", ["crm-read", "crm-batch", "crm-written", "sheet-written"])
def test_killed_anywhere_the_next_run_finishes(cli: Callable[..., str], busy_demo: Path, sync_processes: Any,
                                               point: str) -> None:
    proc = sync_processes.start(busy_demo, point)
    sync_processes.wait_for_checkpoint(proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    if point == "crm-batch":
        with sqlite3.connect(busy_demo.parent / "crm.sqlite") as db:
            written = db.execute("SELECT COUNT(*) FROM companies WHERE category IS NOT NULL").fetchone()[0]
        assert 0 < written < 100  # killed halfway through the CRM batches
    cli("sync", "--config", str(busy_demo), code=0)
    consistent(busy_demo)
    assert cli("sync", "--config", str(busy_demo), code=0).startswith("No changes")


def test_lock_between_two_real_processes(busy_demo: Path, sync_processes: Any) -> None:
    first = sync_processes.start(busy_demo, "crm-read")
    sync_processes.wait_for_checkpoint(first)
    second = sync_processes.start(busy_demo)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 3
    assert "Another sync of sheets-sync.toml is running" in err
    first.send_signal(signal.SIGKILL)  # a killed holder never blocks forever
    first.communicate(timeout=30)
    third = sync_processes.start(busy_demo)
    out, err = third.communicate(timeout=120)
    assert third.returncode == 0, err
    consistent(busy_demo)
