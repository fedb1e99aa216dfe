"""Owners editing the spreadsheet while a sync writes it, through gspread and the emulator: no
value lands in a wrong row or column, nothing wrong reaches the CRM, appends never double."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from gspread.utils import rowcol_to_a1

from .conftest import GoogleDemo


def crm(demo: GoogleDemo, sql: str) -> list:
    with sqlite3.connect(demo.folder / "crm.sqlite") as db:
        return db.execute(sql).fetchall()


def rows_by_id(demo: GoogleDemo) -> tuple[dict[str, int], list[list]]:
    values = demo.values()
    width = max(len(r) for r in values)
    return {h: i for i, h in enumerate(values[0])}, [r + [""] * (width - len(r)) for r in values[1:]]


def assert_consistent(demo: GoogleDemo) -> None:
    """Every row holds its own client's values, each client is in one row, the CRM agrees."""
    col, rows = rows_by_id(demo)
    ids = [str(r[col["id"]]) for r in rows if r[col["id"]] != ""]
    assert len(ids) == len(set(ids)), "a client is in two rows"
    names = dict(crm(demo, "SELECT CAST(id AS TEXT), company FROM companies"))
    categories = dict(crm(demo, "SELECT CAST(id AS TEXT), category FROM companies"))
    for r in rows:
        cid = str(r[col["id"]])
        if not cid:
            assert all(v in ("", None) for v in r), f"a row without an id holds {r}"
            continue
        assert r[col["name"]] == names[cid], cid
        if r[col["category"]] != "unqualified":
            assert categories[cid] == r[col["category"]], cid


def test_a_column_inserted_between_check_and_write(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    config = str(google_demo.config)
    cli("sync", "--config", config, code=0)
    col, rows = rows_by_id(google_demo)
    state = google_demo.server.state
    manual = rowcol_to_a1(1, col["manual_category"] + 1)[:-1]  # past Z too
    state.owner_update_values(google_demo.key, f"Clients!{manual}2", [["B"]])  # an owner decision
    owner_client = str(rows[0][col["id"]])
    crm(google_demo, "UPDATE companies SET revenue_rub = 1, costs_rub = 100 WHERE id IN (3, 4, 5)")
    sheet_id = state.get_spreadsheet(google_demo.key).sheet_by_title("Clients").id
    fired = []

    def owner_inserts_a_column(st: object) -> None:
        fired.append(1)
        state.owner_batch_update(google_demo.key, [{"insertDimension": {"range": {
            "sheetId": sheet_id, "dimension": "COLUMNS", "startIndex": col["manual_category"],
            "endIndex": col["manual_category"] + 1}, "inheritFromBefore": True}}])
        state.owner_update_values(google_demo.key, f"Clients!{manual}1:{manual}3", [["Заметка"], ["VIP contact"], [""]])

    state.before_next_write = owner_inserts_a_column
    cli("sync", "--config", config, code=0)
    assert fired == [1]
    col2, rows2 = rows_by_id(google_demo)
    assert col2["manual_category"] == col["manual_category"] + 1
    notes = [r[col2["Заметка"]] for r in rows2]
    assert notes[0] == "VIP contact" and all(v in ("", None) for v in notes[1:]), notes
    # nobody else got a manual category, and the owner's one is where it was and in the CRM
    manual_values = {str(r[col2["id"]]): r[col2["manual_category"]] for r in rows2 if r[col2["manual_category"]]}
    assert manual_values == {owner_client: "B"}
    assert crm(google_demo, f"SELECT category FROM companies WHERE id = {owner_client}") == [("B",)]
    for cid in ("3", "4", "5"):
        assert crm(google_demo, f"SELECT category FROM companies WHERE id = {cid}") == [("E",)]
    assert_consistent(google_demo)
    assert cli("sync", "--config", config, code=0).startswith("No changes")


def test_rows_inserted_between_check_and_write_keep_no_ghost_values(cli: Callable[..., str],
                                                                     google_demo: GoogleDemo) -> None:
    config = str(google_demo.config)
    cli("sync", "--config", config, code=0)
    crm(google_demo, "UPDATE companies SET revenue_rub = 1, costs_rub = 100 WHERE id IN (3, 4, 5)")
    crm(google_demo, "UPDATE companies SET company = 'Новое имя ' || id")
    state = google_demo.server.state
    fired = []

    def owner_inserts_rows(st: object) -> None:
        fired.append(1)
        state.owner_insert_rows(google_demo.key, "Clients", 2, 3)

    state.before_next_write = owner_inserts_rows
    cli("sync", "--config", config, code=0)
    assert fired == [1]
    _, rows = rows_by_id(google_demo)
    assert len(rows) == 63  # the three empty rows stay the owner's, empty
    assert_consistent(google_demo)
    assert cli("sync", "--config", config, code=0).startswith("No changes")


def test_an_append_that_landed_but_got_no_answer_is_not_repeated(cli: Callable[..., str],
                                                                 google_demo: GoogleDemo) -> None:
    config = str(google_demo.config)
    google_demo.server.state.faults.drop_after(action="values.append", times=1)
    cli("sync", "--config", config, code=0)
    _, rows = rows_by_id(google_demo)
    assert len(rows) == 60
    assert_consistent(google_demo)
    out = cli("sync", "--config", config, code=0)
    assert out.startswith("No changes") and "problems in the sheet" not in out


def test_a_column_inserted_before_an_append_leaves_no_shifted_rows(cli: Callable[..., str],
                                                                    google_demo: GoogleDemo) -> None:
    config = str(google_demo.config)
    cli("sync", "--config", config, code=0)
    with sqlite3.connect(google_demo.folder / "crm.sqlite") as db:
        db.execute("INSERT INTO companies (id, company, revenue_rub, costs_rub) VALUES (9001, 'Новый', 100, 10)")
    col, _ = rows_by_id(google_demo)
    state = google_demo.server.state
    sheet_id = state.get_spreadsheet(google_demo.key).sheet_by_title("Clients").id
    fired = []

    def owner_inserts_a_column(st: object) -> None:
        fired.append(1)
        state.owner_batch_update(google_demo.key, [{"insertDimension": {"range": {
            "sheetId": sheet_id, "dimension": "COLUMNS", "startIndex": 1, "endIndex": 2}}}])

    # the first write of this sync is the append of the new client
    state.before_next_write = owner_inserts_a_column
    cli("sync", "--config", config, code=1)  # 1: the new client has no orders_12m yet
    assert fired == [1]
    col2, rows = rows_by_id(google_demo)
    assert col2["name"] == col["name"] + 1
    assert [r[1] for r in rows] == [""] * len(rows)  # the owner's new column stays empty
    assert_consistent(google_demo)


def test_a_layout_batch_that_landed_but_got_no_answer_is_not_repeated(cli: Callable[..., str],
                                                                      google_demo: GoogleDemo) -> None:
    """A spreadsheets:batchUpdate (new tabs, colour rules, deletes by index) is not safe to
    repeat: sent twice it adds a tab twice or deletes rules that are no longer ours. After a
    dropped answer the sheet is read again and the layout planned from what is there."""
    config = str(google_demo.config)
    google_demo.server.state.faults.drop_after(action="spreadsheets.batchUpdate", times=2)
    cli("sync", "--config", config, code=0)
    ss = google_demo.server.state.get_spreadsheet(google_demo.key)
    titles = [s.title for s in ss.sheets]
    assert len(titles) == len(set(titles)), titles
    rules = ss.sheet_by_title("Clients").conditional_formats
    keys = [repr((r.get("ranges"), r.get("booleanRule"))) for r in rules]
    assert keys and len(keys) == len(set(keys)), "a colour rule was added twice"
    assert_consistent(google_demo)
    assert cli("sync", "--config", config, code=0).startswith("No changes")
