"""Owners' decisions are never lost and nothing wrong reaches the CRM: the workbook edited the
way owners edit it (rows and columns deleted, renamed, copied; the file moved away; Excel
holding it open), end to end through the CLI."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest


@pytest.fixture
def demo(cli: Callable[..., str], tmp_path: Path) -> Path:
    """A demo of 60 clients where the owner set a manual category and a note on client 7."""
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "60", code=0)
    book = folder / "clients.xlsx"
    wb = openpyxl.load_workbook(book)
    ws = wb["Clients"]
    col = header(ws)
    row = find(ws, "7")
    rule = ws.cell(row=row, column=col["rule_category"]).value
    forced = "E" if rule != "E" else "D"
    ws.cell(row=row, column=col["manual_category"]).value = forced
    ws.cell(row=row, column=col["notes"]).value = "Позвонить в понедельник"
    wb.save(book)
    cli("sync", "--config", str(folder / "sheets-sync.toml"), code=0)
    assert crm_category(folder, 7) == forced
    (folder / "forced").write_text(forced)
    return folder


def header(ws: object) -> dict[str, int]:
    for r in range(1, 5):
        names = {str(c.value): c.column for c in ws[r] if c.value is not None}  # type: ignore[index]
        if "id" in names:
            return names
    raise AssertionError("no header")


def find(ws: object, cid: str) -> int:
    """The only row holding client ``cid`` (fails on a duplicate: a dict would hide it)."""
    col = header(ws)["id"]
    rows = [c.row for c in next(ws.iter_cols(min_col=col, max_col=col)) if str(c.value) == cid]  # type: ignore[attr-defined]
    assert len(rows) == 1, f"client {cid} is in rows {rows}"
    return rows[0]


def crm_category(folder: Path, cid: int) -> str | None:
    with sqlite3.connect(folder / "crm.sqlite") as db:
        return db.execute("SELECT category FROM companies WHERE id = ?", (cid,)).fetchone()[0]


def crm_all(folder: Path) -> list[tuple]:
    with sqlite3.connect(folder / "crm.sqlite") as db:
        return db.execute("SELECT id, category FROM companies ORDER BY id").fetchall()


def sync(cli: Callable[..., str], folder: Path, *args: str, code: int | None = 0) -> str:
    return cli("sync", "--config", str(folder / "sheets-sync.toml"), *args, code=code)


def cell(folder: Path, cid: str, column: str) -> object:
    ws = openpyxl.load_workbook(folder / "clients.xlsx")["Clients"]
    return ws.cell(row=find(ws, cid), column=header(ws)[column]).value


def test_a_lost_workbook_stops_the_sync_and_rebuild_restores_decisions(cli: Callable[..., str], demo: Path) -> None:
    forced = (demo / "forced").read_text()
    before = crm_all(demo)
    shutil.move(demo / "clients.xlsx", demo / "elsewhere.xlsx")
    out = sync(cli, demo, code=2)
    assert "clients.xlsx is missing" in out and "1 manual categories" in out and "--rebuild-sheet" in out
    assert not (demo / "clients.xlsx").exists() and crm_all(demo) == before
    sync(cli, demo, "--rebuild-sheet")
    assert cell(demo, "7", "manual_category") == forced
    assert cell(demo, "7", "notes") == "Позвонить в понедельник"
    assert crm_all(demo) == before


def test_a_renamed_tab_stops_the_sync(cli: Callable[..., str], demo: Path) -> None:
    book = demo / "clients.xlsx"
    wb = openpyxl.load_workbook(book)
    wb["Clients"].title = "Клиенты"
    wb.save(book)
    before, stamp = crm_all(demo), book.stat().st_mtime_ns
    out = sync(cli, demo, code=2)
    assert "Tab 'Clients' is missing" in out and "clients_tab" in out
    assert crm_all(demo) == before and book.stat().st_mtime_ns == stamp


def test_a_deleted_header_row_stops_the_sync(cli: Callable[..., str], demo: Path) -> None:
    book = demo / "clients.xlsx"
    wb = openpyxl.load_workbook(book)
    wb["Clients"].delete_rows(1)
    wb.save(book)
    before, stamp = crm_all(demo), book.stat().st_mtime_ns
    out = sync(cli, demo, code=2)
    assert "has no header row with an 'id' column" in out and "Nothing was written" in out
    assert crm_all(demo) == before and book.stat().st_mtime_ns == stamp


def test_a_title_row_above_the_header_is_fine(cli: Callable[..., str], demo: Path) -> None:
    forced = (demo / "forced").read_text()
    book = demo / "clients.xlsx"
    wb = openpyxl.load_workbook(book)
    wb["Clients"].insert_rows(1)
    wb["Clients"]["A1"] = "Клиенты ООО «Ромашка»"
    wb.save(book)
    assert sync(cli, demo).startswith("No changes")
    with sqlite3.connect(demo / "crm.sqlite") as db:
        db.execute("UPDATE companies SET company = 'Новое имя' WHERE id = 9")
    sync(cli, demo)
    assert cell(demo, "9", "name") == "Новое имя"
    ws = openpyxl.load_workbook(book)["Clients"]
    assert ws["A1"].value == "Клиенты ООО «Ромашка»" and ws.max_row == 62
    assert crm_category(demo, 7) == forced


def test_a_renamed_manual_column_is_recognised(cli: Callable[..., str], demo: Path) -> None:
    forced = (demo / "forced").read_text()
    book = demo / "clients.xlsx"
    wb = openpyxl.load_workbook(book)
    ws = wb["Clients"]
    width = ws.max_column
    ws.cell(row=1, column=header(ws)["manual_category"]).value = "Ручная категория"
    wb.save(book)
    out = sync(cli, demo)
    assert "'Ручная категория' of tab 'Clients' is recognised as manual_category" in out
    assert crm_category(demo, 7) == forced
    ws = openpyxl.load_workbook(book)["Clients"]
    assert ws.max_column == width  # no second manual_category column
    assert sync(cli, demo).startswith("No changes")
    # the owner changes the manual category in the renamed column: it reaches the CRM
    wb = openpyxl.load_workbook(book)
    ws = wb["Clients"]
    ws.cell(row=find(ws, "7"), column=header(ws)["Ручная категория"]).value = "B"
    wb.save(book)
    sync(cli, demo)
    assert crm_category(demo, 7) == "B"


def test_a_deleted_manual_column_comes_back_filled(cli: Callable[..., str], demo: Path) -> None:
    forced = (demo / "forced").read_text()
    book = demo / "clients.xlsx"
    wb = openpyxl.load_workbook(book)
    ws = wb["Clients"]
    ws.delete_cols(header(ws)["manual_category"])
    wb.save(book)
    out = sync(cli, demo)
    assert "Column manual_category was missing" in out
    assert crm_category(demo, 7) == forced
    assert cell(demo, "7", "manual_category") == forced


def test_a_deleted_row_comes_back_with_its_decisions(cli: Callable[..., str], demo: Path) -> None:
    forced = (demo / "forced").read_text()
    book = demo / "clients.xlsx"
    wb = openpyxl.load_workbook(book)
    ws = wb["Clients"]
    ws.delete_rows(find(ws, "7"))
    wb.save(book)
    out = sync(cli, demo)
    assert "1 clients still in the CRM had no row" in out
    assert crm_category(demo, 7) == forced
    assert cell(demo, "7", "manual_category") == forced
    assert cell(demo, "7", "notes") == "Позвонить в понедельник"


def test_a_copied_row_never_reaches_the_crm(cli: Callable[..., str], demo: Path) -> None:
    forced = (demo / "forced").read_text()
    book = demo / "clients.xlsx"
    wb = openpyxl.load_workbook(book)
    ws = wb["Clients"]
    row = find(ws, "7")
    ws.insert_rows(2)
    for c in range(1, ws.max_column + 1):
        ws.cell(row=2, column=c).value = ws.cell(row=row + 1, column=c).value
    ws.cell(row=2, column=header(ws)["manual_category"]).value = "A"
    wb.save(book)
    out = sync(cli, demo, code=1)  # 1: the copied rows are not updated
    assert "is in rows 2, " in out and "delete the copies" in out
    assert crm_category(demo, 7) == forced
    summary = json.loads(sync(cli, demo, "--json", code=1))
    assert summary["duplicate_ids"] == ["7"] and summary["exit_code"] == 1
    assert crm_category(demo, 7) == forced
    check = cli("check", "--config", str(demo / "sheets-sync.toml"), code=1)
    assert "FIX   sheet: client 7 is in rows 2, " in check


def test_a_workbook_open_in_excel_is_not_written(cli: Callable[..., str], demo: Path) -> None:
    book = demo / "clients.xlsx"
    with sqlite3.connect(demo / "crm.sqlite") as db:
        db.execute("UPDATE companies SET revenue_rub = 1, costs_rub = 100 WHERE id = 3")
    lock = demo / "~$clients.xlsx"
    lock.write_bytes(b"owner")
    before, stamp = crm_all(demo), book.stat().st_mtime_ns
    out = sync(cli, demo, code=3)
    assert "~$clients.xlsx" in out and "--force" in out
    assert crm_all(demo) == before and book.stat().st_mtime_ns == stamp
    lock.unlink()
    (demo / ".~lock.clients.xlsx#").write_text("owner,host")
    assert ".~lock.clients.xlsx#" in sync(cli, demo, code=3)
    sync(cli, demo, "--force")
    assert crm_category(demo, 3) == "E"


def test_temporary_files_of_a_killed_run_are_removed(cli: Callable[..., str], demo: Path) -> None:
    old = demo / ".~clientsab12cd34.xlsx"
    new = demo / ".~clients.sync-ab12cd34.xlsx"
    other = demo / ".~clients-notes.xlsx"
    for p in (old, new, other):
        p.write_bytes(b"x")
    sync(cli, demo)
    assert not old.exists() and not new.exists() and other.exists()


def test_history_keeps_every_move_and_replaced_edit(cli: Callable[..., str], demo: Path) -> None:
    book = demo / "clients.xlsx"
    forced = (demo / "forced").read_text()
    for value in (None, forced, "B"):  # three moves of client 7 within the same minute
        wb = openpyxl.load_workbook(book)
        ws = wb["Clients"]
        ws.cell(row=find(ws, "7"), column=header(ws)["manual_category"]).value = value
        wb.save(book)
        sync(cli, demo)
    wb = openpyxl.load_workbook(book)
    ws = wb["Clients"]
    ws.cell(row=find(ws, "8"), column=header(ws)["name"]).value = "Правка владельца"
    wb.save(book)
    out = sync(cli, demo)
    assert "replaced by the CRM's value" in out
    with sqlite3.connect(demo / "sheets-sync.state.sqlite") as db:
        moves = db.execute("SELECT from_cat, to_cat FROM history WHERE client_id = '7' ORDER BY seq").fetchall()
    history = openpyxl.load_workbook(book)["History"]
    rows = [[c.value for c in r] for r in history.iter_rows(min_row=2)]
    hcol = {str(c.value): i for i, c in enumerate(history[1])}
    assert [(r[hcol["from"]] or "", r[hcol["to"]]) for r in rows
            if str(r[hcol["id"]]) == "7" and r[hcol["source"]] != "sheet edit replaced"] == moves
    assert len(moves) == 5  # the first sync, the fixture's manual category, then cleared, set again, B
    edits = [r for r in rows if r[hcol["source"]] == "sheet edit replaced"]
    assert len(edits) == 1 and edits[0][hcol["from"]] == "Правка владельца"
    seqs = [r[hcol["seq"]] for r in rows]
    assert len(seqs) == len(set(seqs))


def test_a_crm_that_lost_many_clients_writes_nothing(cli: Callable[..., str], demo: Path) -> None:
    book = demo / "clients.xlsx"
    with sqlite3.connect(demo / "crm.sqlite") as db:
        db.execute("DELETE FROM companies WHERE id > 40")
    before, stamp = crm_all(demo), book.stat().st_mtime_ns
    out = sync(cli, demo, code=4)
    assert "20 of the 60 the last sync saw are missing" in out and "--accept-shrink" in out
    assert crm_all(demo) == before and book.stat().st_mtime_ns == stamp
    out = sync(cli, demo, "--accept-shrink")
    assert "20 marked gone from the CRM" in out
    assert sync(cli, demo).startswith("No changes")
    with sqlite3.connect(demo / "crm.sqlite") as db:
        db.execute("DELETE FROM companies")
    assert "returned 0 clients" in sync(cli, demo, code=4)


@pytest.mark.parametrize("target", ["clients.xlsx", "sheets-sync.state.sqlite", "rules.py", "sheets-sync.toml",
                                    "crm.sqlite"])
def test_outputs_never_replace_the_configs_own_files(cli: Callable[..., str], demo: Path, target: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(demo)  # the config is found in the current folder, as a user runs it
    (demo / "in.csv").write_text("id,name,revenue,costs\n1,A,100,10\n", encoding="utf-8")
    stamp = (demo / target).stat().st_mtime_ns
    for args in (["categorize", "in.csv", "--out", target], ["export", "--out", target],
                 ["report", "review", "--out", target]):
        out = cli(*args, code=2)
        assert f"--out {target} is the " in out and "Nothing was written" in out, out
    assert (demo / target).stat().st_mtime_ns == stamp


def test_the_shrink_guard_is_set_in_the_config(cli: Callable[..., str], demo: Path) -> None:
    config = demo / "sheets-sync.toml"
    config.write_text(config.read_text() + "\n[sync]\nmax_gone = 100\nmax_gone_share = 0.5\n")
    with sqlite3.connect(demo / "crm.sqlite") as db:
        db.execute("DELETE FROM companies WHERE id > 40")  # 20 of 60: a third, under half
    assert "20 marked gone from the CRM" in sync(cli, demo)
    config.write_text(config.read_text().replace("max_gone_share = 0.5", "max_gone_share = '50%'"))
    out = sync(cli, demo, code=2)
    assert "[sync] max_gone_share must be a share from 0 to 1" in out
