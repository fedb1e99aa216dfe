"""The quarterly review, capacity and the Summary tab, with two syncs a quarter apart."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from sheets_sync.demo import ORDERS_TEXT


@pytest.fixture
def quarter(cli: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHEETS_SYNC_NOW", "2026-08-01T09:00:00")
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "80", code=0)
    # without the deals: their metrics move with the calendar (tested in tests/orders); here
    # only the two clients edited below may move
    config = folder / "sheets-sync.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(ORDERS_TEXT, ""), encoding="utf-8")
    cli("sync", "--config", str(config), code=0)
    with sqlite3.connect(folder / "sheets-sync.state.sqlite") as db:
        ids = [r[0] for r in db.execute("SELECT DISTINCT client_id FROM history WHERE to_cat IN ('B', 'C', 'D') "
                                        "ORDER BY CAST(client_id AS INTEGER) LIMIT 2")]
    with sqlite3.connect(folder / "crm.sqlite") as db:
        db.execute("UPDATE companies SET revenue_rub = 100000, costs_rub = 150000, overdue_days = 0, "
                   "blacklisted = 0 WHERE id = ?", (ids[0],))  # now loses money: E
        db.execute("UPDATE companies SET blacklisted = 1 WHERE id = ?", (ids[1],))  # EEE
    (folder / "moved.txt").write_text(" ".join(ids))
    monkeypatch.setenv("SHEETS_SYNC_NOW", "2026-11-20T09:00:00")
    cli("sync", "--config", str(folder / "sheets-sync.toml"), code=0)
    return folder


def test_review_shows_the_quarters_moves(cli: Callable[..., str], quarter: Path) -> None:
    with sqlite3.connect(quarter / "sheets-sync.state.sqlite") as db:
        before = dict(db.execute("SELECT client_id, to_cat FROM history WHERE changed_at < '2026-09-01'"))
    out = cli("report", "review", "--config", str(quarter / "sheets-sync.toml"), "--since", "2026-08-15",
              "--out", str(quarter / "review.md"))
    assert "Quarterly review 2026-08-15 .. 2026-11-20" in out
    text = (quarter / "review.md").read_text()
    first, second = (quarter / "moved.txt").read_text().split()
    moved = [line for line in text.split("## Moved clients")[1].split("##")[0].splitlines()
             if line.startswith("| ") and not line.startswith("| id")]
    assert [line.split(" | ")[0][2:] for line in moved] == [first, second]
    assert f" | {before[first]} | E | E: profit -50000 < 0 |" in moved[0]
    assert "## Clients per category now" in text
    assert f" | {before[second]} | EEE | EEE: blacklisted |" in moved[1]
    matrix = text.split("## Transitions")[1].split("##")[0]
    assert "| from |" in matrix
    # nobody touched the others since August 1st, 111 days ago: more than 90
    stale_section = text.split("## Category not reviewed")[1].split("##")[0]
    assert "| 2026-08-01 | 111 |" in stale_section
    assert (quarter / "review-categories.png").stat().st_size > 1000
    assert (quarter / "review-transitions.png").stat().st_size > 1000


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_review_file_formats(cli: Callable[..., str], quarter: Path, suffix: str) -> None:
    out = quarter / f"review{suffix}"
    cli("report", "review", "--config", str(quarter / "sheets-sync.toml"), "--out", str(out))
    assert out.stat().st_size > 0


def test_capacity_keeps_the_best_categories_first(cli: Callable[..., str], quarter: Path) -> None:
    with sqlite3.connect(quarter / "crm.sqlite") as db:
        db.execute("UPDATE companies SET revenue_rub = 'н/д' WHERE id = 80")  # an unqualified client
    out = cli("report", "capacity", "--config", str(quarter / "sheets-sync.toml"), "--slots", "6")
    assert out.startswith("Capacity for 6 of 80 clients.")
    keep = out.split("Keep:")[1].split("Give up (first")[0]
    assert "AAA" in keep and " E " not in keep and "unqualified" not in keep
    give_up = out.split("Give up (first to go at the bottom):")[1].strip().splitlines()[1:]
    assert len(give_up) == 21 and give_up[-1] == "  ... and 54 more (the whole list: --out FILE.csv, .xlsx or .md)"
    table = quarter / "capacity.csv"
    out = cli("report", "capacity", "--config", str(quarter / "sheets-sync.toml"), "--slots", "6", "--out", str(table))
    assert out.endswith(f"wrote {table}\n")
    lines = table.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "decision,id,name,category,revenue,profit,roi_pct" and len(lines) == 81
    # the unqualified go first; blanks are blank
    assert lines[-1].startswith("give up,80,") and ",unqualified,," in lines[-1]
    assert lines[1].startswith("keep,") and ",AAA," in lines[1]


@pytest.mark.parametrize("suffix", [".xlsx", ".md"])
def test_capacity_writes_the_whole_list(cli: Callable[..., str], quarter: Path, suffix: str) -> None:
    out = quarter / f"capacity{suffix}"
    cli("report", "capacity", "--config", str(quarter / "sheets-sync.toml"), "--slots", "6", "--out", str(out))
    if suffix == ".xlsx":
        rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
        assert len(rows) == 81 and rows[1][0] == "keep" and isinstance(rows[1][4], float | int)
    else:
        text = out.read_text(encoding="utf-8")
        assert text.startswith("# Capacity for 6 of 80 clients") and text.count("| give up |") == 74


def test_review_on_the_first_day_shows_the_distribution(cli: Callable[..., str], tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "40", code=0)
    out = cli("report", "review", "--config", str(folder / "sheets-sync.toml"), "--since", "01.08.2026")
    assert "Quarterly review 2026-08-01 .. 2026-11-23" in out
    assert "Moved clients: 0" in out and "(new)" not in out
    now = out.split("Clients per category now")[1].split("Transitions")[0]
    assert sum(int(line.split()[-1]) for line in now.strip().splitlines()[1:]) == 40


def test_summary_tab_counts_and_moves(quarter: Path) -> None:
    ws = openpyxl.load_workbook(quarter / "clients.xlsx")["Summary"]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    assert rows[0][:6] == ["category", "title", "clients", "revenue", "profit", "profit share"]
    counted = sum(r[2] for r in rows[1:] if r[0] and isinstance(r[2], int) and not str(r[0]).startswith(("Moves", "(")))
    moves = [r for r in rows if r[0] and "→" in str(r[0])]
    assert counted - sum(r[2] for r in moves) == 80
    assert any(str(r[0]).endswith("→ E") for r in moves) and any(str(r[0]).endswith("→ EEE") for r in moves)
    assert len(ws._charts) == 1
