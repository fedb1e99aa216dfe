"""End to end through the CLI: demo, owner edits in the workbook, re-syncs, the CRM."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest


@pytest.fixture
def demo(cli: Callable[..., str], tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    out = cli("demo", str(folder), "--clients", "120", code=0)
    assert "Demo created" in out and "Next, try:" in out
    return folder


def crm_category(folder: Path, client_id: int) -> str | None:
    with sqlite3.connect(folder / "crm.sqlite") as db:
        return db.execute("SELECT category FROM companies WHERE id = ?", (client_id,)).fetchone()[0]


def sheet_rows(path: Path, tab: str = "Clients") -> tuple[list[str], list[list]]:
    ws = openpyxl.load_workbook(path)[tab]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    return [str(h) for h in rows[0]], rows[1:]


def test_demo_then_owner_edits_then_quiet(cli: Callable[..., str], demo: Path) -> None:
    config = str(demo / "sheets-sync.toml")
    book = demo / "clients.xlsx"
    header, rows = sheet_rows(book)
    assert len(rows) == 120
    col = {h: i for i, h in enumerate(header)}
    for name in ("id", "category", "rule_category", "reason", "stage", "changed_at", "manual_category", "notes"):
        assert name in col

    # a second run with no data change writes nothing and says so in one line
    out = cli("sync", "--config", config, code=0)
    assert out.startswith("No changes: 120 clients") and out.count("\n") == 1
    stamp = book.stat().st_mtime_ns

    # the owner: manual category and a note on client 7, sorts the rows, adds a column
    target = next(r for r in rows if r[col["id"]] == "7")
    forced = "E" if target[col["category"]] != "E" else "D"
    wb = openpyxl.load_workbook(book)
    ws = wb["Clients"]
    data = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    data.sort(key=lambda r: str(r[col["name"]]), reverse=True)
    for r in data:
        if r[col["id"]] == "7":
            r[col["manual_category"]] = forced.lower()
            r[col["notes"]] = "Позвонить в понедельник"
    for i, r in enumerate(data, start=2):
        for j, v in enumerate(r, start=1):
            ws.cell(row=i, column=j).value = v
    extra = len(header) + 1
    ws.cell(row=1, column=extra).value = "Мой столбец"
    ws.cell(row=3, column=extra).value = "owner data"
    ws["A1"].comment = None
    wb.create_sheet("Owner notes")["A1"] = "keep me"
    wb.save(book)
    assert book.stat().st_mtime_ns != stamp

    out = cli("sync", "--config", config, "--json", code=0)
    summary = json.loads(out)
    assert summary["crm"]["written"] == 1
    assert summary["changes"] == [{"id": "7", "name": target[col["name"]], "from": target[col["category"]],
                                   "to": forced, "source": "manual", "reason": summary["changes"][0]["reason"]}]
    assert crm_category(demo, 7) == forced

    header2, rows2 = sheet_rows(book)
    assert header2[: len(header)] == header and header2[extra - 1] == "Мой столбец"
    by_id = {r[col["id"]]: r for r in rows2}
    assert by_id["7"][col["notes"]] == "Позвонить в понедельник"
    assert by_id["7"][col["category"]] == forced
    assert by_id["7"][col["rule_category"]] == target[col["rule_category"]]
    assert by_id["7"][col["reason"]].startswith(f"manual {forced} set by the owner (rules: ")
    assert rows2[1][extra - 1] == "owner data"  # the owner's cell stayed in its row
    assert [r[col["id"]] for r in rows2] == [r[col["id"]] for r in data]  # the owner's order kept
    wb2 = openpyxl.load_workbook(book)
    assert wb2["Owner notes"]["A1"].value == "keep me"
    _, history = sheet_rows(book, "History")
    assert history[-1][1:6] == ["7", target[col["name"]], target[col["category"]], forced, "manual"]

    out = cli("sync", "--config", config, code=0)
    assert out.startswith("No changes: 120 clients")


def test_dry_run_touches_nothing(cli: Callable[..., str], demo: Path) -> None:
    config = str(demo / "sheets-sync.toml")
    with sqlite3.connect(demo / "crm.sqlite") as db:
        db.execute("UPDATE companies SET revenue_rub = 1, costs_rub = 5 WHERE id = 3")
    before = (demo / "clients.xlsx").read_bytes()
    state_before = (demo / "sheets-sync.state.sqlite").read_bytes()
    out = cli("sync", "--config", config, "--dry-run", code=0)
    assert out.splitlines()[1].startswith("Would: sheet +0 rows")
    assert "client 3:" in out
    assert (demo / "clients.xlsx").read_bytes() == before
    assert (demo / "sheets-sync.state.sqlite").read_bytes() == state_before
    assert crm_category(demo, 3) != "E"
    cli("sync", "--config", config, code=0)
    assert crm_category(demo, 3) == "E"


def test_bad_owner_input_is_reported_not_spread(cli: Callable[..., str], demo: Path) -> None:
    config = str(demo / "sheets-sync.toml")
    book = demo / "clients.xlsx"
    header, rows = sheet_rows(book)
    col = {h: i for i, h in enumerate(header)}
    wb = openpyxl.load_workbook(book)
    ws = wb["Clients"]
    ws.cell(row=5, column=col["manual_category"] + 1).value = "VIP!!"
    first_id = ws.cell(row=2, column=1).value
    ws.cell(row=3, column=1).value = first_id  # a duplicated id
    ws.cell(row=4, column=1).value = None  # a blank id
    wb.save(book)
    before = crm_category(demo, int(first_id))
    out = cli("sync", "--config", config, "--json", code=1)
    summary = json.loads(out)
    problems = " | ".join(summary["sheet_problems"])
    assert f"row 3, column 'id': '{first_id}' is in rows 2, 3: delete the copies" in problems
    assert summary["duplicate_ids"] == [first_id]
    assert "row 4, column 'id': None is blank" in problems
    unq = {u["id"]: u["problems"] for u in summary["unqualified"]}
    bad = [u for u in json.loads(out)["unqualified"] if "VIP!!" in u["problems"]]
    assert not bad  # an invalid manual code is a problem of the row, not unqualified
    assert crm_category(demo, int(first_id)) == before
    _, rows2 = sheet_rows(book)
    assert "manual_category 'VIP!!': is not a category code" in rows2[3][col["problems"]]
    assert unq is not None


def test_client_gone_from_crm_is_marked_not_deleted(cli: Callable[..., str], demo: Path) -> None:
    config = str(demo / "sheets-sync.toml")
    with sqlite3.connect(demo / "crm.sqlite") as db:
        db.execute("DELETE FROM companies WHERE id = 5")
    out = cli("sync", "--config", config, code=0)
    assert "1 marked gone from the CRM" in out
    header, rows = sheet_rows(demo / "clients.xlsx")
    col = {h: i for i, h in enumerate(header)}
    row = next(r for r in rows if r[col["id"]] == "5")
    assert row[col["crm_status"]] == "not in the CRM since 2026-11-23"
    assert row[col["category"]]  # kept
    assert cli("sync", "--config", config, code=0).startswith("No changes")


def test_owner_edit_of_a_crm_column_is_reported_and_kept_in_history(cli: Callable[..., str], demo: Path) -> None:
    config = str(demo / "sheets-sync.toml")
    book = demo / "clients.xlsx"
    header, rows = sheet_rows(book)
    col = {h: i for i, h in enumerate(header)}
    wb = openpyxl.load_workbook(book)
    ws = wb["Clients"]
    ws.cell(row=2, column=col["orders_12m"] + 1).value = 999
    client = ws.cell(row=2, column=1).value
    wb.save(book)
    out = cli("sync", "--config", config, code=0)
    assert f"client {client} orders_12m: '999.0' ->" in out
    _, rows2 = sheet_rows(book)
    assert rows2[0][col["orders_12m"]] != 999
    with sqlite3.connect(demo / "sheets-sync.state.sqlite") as db:
        assert db.execute("SELECT client_id, sheet_value FROM edits").fetchall() == [(client, "999.0")]


def test_new_client_in_crm_is_appended(cli: Callable[..., str], demo: Path) -> None:
    config = str(demo / "sheets-sync.toml")
    with sqlite3.connect(demo / "crm.sqlite") as db:
        db.execute("INSERT INTO companies (id, company, revenue_rub, costs_rub, orders_12m, first_order, "
                   "last_order, overdue_days, referrals) VALUES (1000, '=HYPERLINK(\"http://x\",\"y\")', "
                   "'1 000 000,00 ₽', '100 000', 12, '01.01.2020', '2026-11-01', 0, 3)")
    out = cli("sync", "--config", config, "--json", code=0)
    assert json.loads(out)["sheet"]["rows_added"] == 1
    header, rows = sheet_rows(demo / "clients.xlsx")
    col = {h: i for i, h in enumerate(header)}
    row = rows[-1]
    assert row[col["id"]] == "1000"
    assert row[col["name"]] == '=HYPERLINK("http://x","y")'  # text, not a formula
    assert row[col["revenue"]] == 1_000_000
    assert crm_category(demo, 1000) == row[col["category"]]


def test_demo_refuses_a_used_folder(cli: Callable[..., str], demo: Path) -> None:
    out = cli("demo", str(demo), code=2)
    assert "already holds sheets-sync.toml" in out


@pytest.mark.parametrize(("text", "message"), [
    ("[crm\nkind = 1", "not valid TOML"),
    ("[crm]\nkind = \"oracle\"\n", "[crm] kind = 'oracle' is not known"),
    ("colour = 1\n[crm]\nkind = \"sqlite\"\n", "unknown key 'colour'"),
    ("[crm]\nkind = \"sqlite\"\npath = \"nope.sqlite\"\n[parsing]\ndates = \"ymd\"\n", "[parsing] dates must be"),
])
def test_bad_config_is_one_clear_line(cli: Callable[..., str], tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "sheets-sync.toml"
    path.write_text(text)
    (tmp_path / "rules.py").write_text((Path(__file__).parent.parent / "rules.py").read_text())
    out = cli("sync", "--config", str(path), code=2)
    assert message in out and "Traceback" not in out and out.count("\n") == 1


def test_broken_rules_fail_before_any_data_is_touched(cli: Callable[..., str], demo: Path) -> None:
    rules = demo / "rules.py"
    rules.write_text(rules.read_text().replace('"when": "vip",', '"when": "vip and revnue > 0",'))
    before = (demo / "clients.xlsx").read_bytes()
    out = cli("sync", "--config", str(demo / "sheets-sync.toml"), code=2)
    assert "rules.py:" in out and "category A" in out and "did you mean 'revenue'" in out
    assert (demo / "clients.xlsx").read_bytes() == before


def test_missing_config_says_what_to_do(cli: Callable[..., str], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = cli("sync", code=2)
    assert "sheets-sync demo" in out


def test_check_reports_one_line_each(cli: Callable[..., str], demo: Path) -> None:
    out = cli("check", "--config", str(demo / "sheets-sync.toml"))
    assert all(line.startswith("ok    ") for line in out.splitlines())
    with sqlite3.connect(demo / "crm.sqlite") as db:
        db.execute("ALTER TABLE companies RENAME COLUMN nps TO nps_score")
    out = cli("check", "--config", str(demo / "sheets-sync.toml"), code=2)
    assert "FIX   CRM: field 'nps' is missing" in out


def test_help_lists_exit_codes(cli: Callable[..., str]) -> None:
    out = cli("sync", "--help")
    assert "3  another sync holds the lock" in out


def test_second_sync_is_locked_out(cli: Callable[..., str], demo: Path) -> None:
    from sheets_sync.config import load_config
    from sheets_sync.session import sync_lock

    config = demo / "sheets-sync.toml"
    with sync_lock(load_config(config)):
        out = cli("sync", "--config", str(config), code=3)
    assert "Another sync of sheets-sync.toml is running" in out
    cli("sync", "--config", str(config), code=0)


def test_crm_failure_halfway_is_finished_by_the_next_run(cli: Callable[..., str], demo: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from sheets_sync.crm.sql import SqlCrm
    from sheets_sync.errors import CrmError

    config = str(demo / "sheets-sync.toml")
    with sqlite3.connect(demo / "crm.sqlite") as db:  # every client's category is lost in the CRM
        db.execute("UPDATE companies SET category = NULL")
    real = SqlCrm.write_categories
    monkeypatch.setattr(SqlCrm, "batch", 10, raising=False)

    def dies_after_first_batch(self: SqlCrm, changes: dict) -> object:
        first = dict(list(changes.items())[:10])
        real(self, first)
        raise CrmError("connection lost")

    monkeypatch.setattr(SqlCrm, "write_categories", dies_after_first_batch)
    out = cli("sync", "--config", config, code=4)
    assert "connection lost" in out
    with sqlite3.connect(demo / "crm.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM companies WHERE category IS NULL").fetchone()[0] > 100
    monkeypatch.setattr(SqlCrm, "write_categories", real)
    summary = json.loads(cli("sync", "--config", config, "--json", code=0))
    assert summary["crm"]["written"] == 120 - 10 - len(summary["unqualified"])
    with sqlite3.connect(demo / "crm.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM companies WHERE category IS NULL").fetchone()[0] == \
            len(summary["unqualified"])
    assert cli("sync", "--config", config, code=0).startswith("No changes")


@pytest.mark.parametrize("clients", ["1", "5", "11"])
def test_small_demos_work(cli: Callable[..., str], tmp_path: Path, clients: str) -> None:
    out = cli("demo", str(tmp_path / "d"), "--clients", clients, code=None)
    assert f"{clients} clients:" in out
