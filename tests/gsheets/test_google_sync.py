"""The sync pass against a Google spreadsheet, through gspread's HTTP client and the emulator."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

import pytest
from gspread.utils import rowcol_to_a1

from .conftest import SA_EMAIL, GoogleDemo


def crm(demo: GoogleDemo, sql: str) -> list:
    with sqlite3.connect(demo.folder / "crm.sqlite") as db:
        return db.execute(sql).fetchall()


def test_first_sync_builds_the_sheet_then_quiet(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    summary = json.loads(cli("sync", "--config", str(google_demo.config), "--json", code=0))
    assert summary["sheet"]["rows_added"] == 60
    col, rows = google_demo.table()
    assert len(rows) == 60
    for name in ("id", "name", "category", "manual_category", "rule_category", "reason", "changed_at"):
        assert name in col
    # categories reached the CRM for every qualified client
    written = dict(crm(google_demo, "SELECT CAST(id AS TEXT), category FROM companies"))
    for cid, row in rows.items():
        if row[col["category"]] != "unqualified":
            assert written[cid] == row[col["category"]]
    ss = google_demo.server.state.get_spreadsheet(google_demo.key)
    clients = ss.sheet_by_title("Clients")
    assert clients.props["gridProperties"].get("frozenRowCount") == 1
    assert clients.row_count == 1000 + 60  # a new tab's 1,000 rows, and the appended ones inserted
    assert {s.title for s in ss.sheets} >= {"Clients", "History", "Legend"}
    assert clients.conditional_formats and clients.basic_filter is not None
    # numbers stay numbers, dates are serial numbers with a date format
    some = next(r for r in rows.values() if isinstance(r[col["revenue"]], int | float))
    assert isinstance(some[col["revenue"]], int | float)
    assert isinstance(some[col["changed_at"]], int | float)

    google_demo.server.state.clear_log()
    out = cli("sync", "--config", str(google_demo.config), code=0)
    assert out.startswith("No changes: 60 clients")
    assert google_demo.actions() == ["values.batchGet"]


def test_owner_edits_sort_and_own_column_survive(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    config = str(google_demo.config)
    cli("sync", "--config", config, code=0)
    col, rows = google_demo.table()
    target = rows["7"]
    forced = "E" if target[col["category"]] != "E" else "D"
    state = google_demo.server.state
    state.owner_sort(google_demo.key, "Clients", col["name"], ascending=False)
    values = google_demo.values()
    line = next(i for i, r in enumerate(values) if str(r[col["id"]]) == "7")
    letter = rowcol_to_a1(1, col["manual_category"] + 1)[:-1]  # past Z too
    notes = rowcol_to_a1(1, col["notes"] + 1)[:-1]  # past Z too
    state.owner_update_values(google_demo.key, f"Clients!{letter}{line + 1}", [[forced]])
    state.owner_update_values(google_demo.key, f"Clients!{notes}{line + 1}", [["Позвонить"]])
    own = rowcol_to_a1(1, len(values[0]) + 1)[:-1]  # past Z too
    clients = state.get_spreadsheet(google_demo.key).sheet_by_title("Clients")
    state.owner_batch_update(google_demo.key, [{"appendDimension": {  # room for the owner's column
        "sheetId": clients.id, "dimension": "COLUMNS", "length": 1}}])
    state.owner_update_values(google_demo.key, f"Clients!{own}1:{own}2", [["Мой столбец"], ["mine"]])
    order = [str(r[col["id"]]) for r in google_demo.values()[1:]]
    state.clear_log()

    summary = json.loads(cli("sync", "--config", config, "--json", code=0))
    assert summary["crm"]["written"] == 1
    assert crm(google_demo, "SELECT category FROM companies WHERE id = 7") == [(forced,)]
    col2, rows2 = google_demo.table()
    assert rows2["7"][col["category"]] == forced and rows2["7"][col["notes"]] == "Позвонить"
    assert google_demo.values()[1][len(values[0])] == "mine"
    assert [str(r[col["id"]]) for r in google_demo.values()[1:]] == order
    # read, check (header row and ids), one write of the changed cells, check again, one History
    # append; then the sheet ids and one batchUpdate of the changed reasons' notes
    assert google_demo.actions() == ["values.batchGet", "values.batchGet", "values.batchUpdate",
                                     "values.batchGet", "values.append", "spreadsheets.get",
                                     "spreadsheets.batchUpdate"]
    assert cli("sync", "--config", config, code=0).startswith("No changes")


def test_owner_sorts_between_our_read_and_write(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    config = str(google_demo.config)
    cli("sync", "--config", config, code=0)
    col, _ = google_demo.table()
    crm(google_demo, "UPDATE companies SET revenue_rub = 1, costs_rub = 100 WHERE id IN (3, 4, 5)")
    state = google_demo.server.state
    sorts = []

    def owner_sorts(st: object) -> None:
        if not sorts:
            sorts.append(1)
            state.owner_sort(google_demo.key, "Clients", col["name"])

    state.before_next_write = owner_sorts
    cli("sync", "--config", config, code=0)
    assert sorts == [1]
    # every row holds its own client's values: the sheet agrees with the CRM row by row
    _, rows = google_demo.table()
    for cid in ("3", "4", "5"):
        assert rows[cid][col["category"]] == "E"
        assert rows[cid][col["revenue"]] == 1
    categories = dict(crm(google_demo, "SELECT CAST(id AS TEXT), category FROM companies"))
    for cid, row in rows.items():
        if row[col["category"]] != "unqualified":
            assert categories[cid] == row[col["category"]], cid
    assert cli("sync", "--config", config, code=0).startswith("No changes")


def test_text_from_the_crm_stays_text(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    crm(google_demo, "UPDATE companies SET company = '=HYPERLINK(\"http://x\",\"y\")' WHERE id = 2")
    crm(google_demo, "UPDATE companies SET company = '+7 495 123-45-67' WHERE id = 3")
    cli("sync", "--config", str(google_demo.config), code=0)
    col, rows = google_demo.table()
    # unformatted values: a formula would read back evaluated ("y"), "+7 ..." as #ERROR!
    assert rows["2"][col["name"]] == '=HYPERLINK("http://x","y")'
    assert rows["3"][col["name"]] == "+7 495 123-45-67"


def test_429_with_retry_after_is_waited_out(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    google_demo.server.state.faults.rate_limit(action="values.batchGet", retry_after=0.2)
    google_demo.server.state.faults.server_error(action="values.batchUpdate")
    cli("sync", "--config", str(google_demo.config), code=0)
    assert google_demo.actions()[:2] == ["values.batchGet", "values.batchGet"]
    assert cli("sync", "--config", str(google_demo.config), code=0).startswith("No changes")


def test_persistent_500_gives_up_in_bounded_time(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    google_demo.server.state.faults.server_error(action="values.batchGet", times=10_000)
    out = cli("sync", "--config", str(google_demo.config), code=4)
    assert "still failing after" in out and "HTTP 500" in out
    assert len(google_demo.actions()) >= 2
    google_demo.server.state.faults.clear()
    cli("sync", "--config", str(google_demo.config), code=0)


def test_dropped_connection_is_retried(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    google_demo.server.state.faults.drop(action="values.append")
    cli("sync", "--config", str(google_demo.config), code=0)
    _, rows = google_demo.table()
    assert len(rows) == 60


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: p.unlink(), "does not exist"),
    (lambda p: p.write_text("{not json"), "is not valid JSON (line 1)"),
    (lambda p: p.write_text(json.dumps({"type": "service_account", "client_email": "x@y"})),
     "lacks private_key, token_uri"),
    (lambda p: p.write_text(json.dumps({"type": "external_account"})), "has type 'external_account'"),
])
def test_bad_credentials_are_one_clear_line(cli: Callable[..., str], google_demo: GoogleDemo,
                                            change: Callable, message: str) -> None:
    change(google_demo.folder / "service-account.json")
    out = cli("sync", "--config", str(google_demo.config), code=2)
    assert message in out and "Traceback" not in out and "PRIVATE KEY" not in out


def test_a_sheet_not_shared_names_the_service_account(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    ss = google_demo.server.state.get_spreadsheet(google_demo.key)
    ss.owner = "someone@example.com"
    ss.permissions.clear()
    out = cli("sync", "--config", str(google_demo.config), code=2)
    assert f"Share the spreadsheet with {SA_EMAIL}" in out


def test_an_unknown_key_is_refused_by_the_emulator_with_its_own_words(cli: Callable[..., str],
                                                                      google_demo: GoogleDemo) -> None:
    text = google_demo.config.read_text().replace(google_demo.key, "1" + "x" * 43)
    google_demo.config.write_text(text)
    out = cli("sync", "--config", str(google_demo.config), code=2)
    assert "was not found. Check [sheet] google" in out


def test_endpoint_must_be_loopback(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    text = google_demo.config.read_text().replace(google_demo.server.base_url, "https://example.com")
    google_demo.config.write_text(text)
    out = cli("sync", "--config", str(google_demo.config), code=2)
    assert "only a loopback address" in out


def test_live_formulas_are_written_user_entered_once(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    text = google_demo.config.read_text()
    google_demo.config.write_text(text.replace("credentials = ", "live_formulas = true\ncredentials = "))
    cli("sync", "--config", str(google_demo.config), code=0)
    state = google_demo.server.state
    formulas = state.read_values(google_demo.key, "'Clients'", "FORMULA")
    col = formulas[0].index("live_category")
    assert all(str(r[col]).startswith("=IF(") for r in formulas[1:])
    assert str(formulas[5][col]).count("$") and "6" in str(formulas[5][col])  # its own row
    names = {n["name"] for n in state.get_spreadsheet(google_demo.key).named_ranges.values()}
    assert {"roi_a", "pareto_a", "as_of"} <= names
    state.clear_log()
    assert cli("sync", "--config", str(google_demo.config), code=0).startswith("No changes")
    assert google_demo.actions() == ["values.batchGet"]
    crm(google_demo, "INSERT INTO companies (id, company, revenue_rub, costs_rub, orders_12m) "
                     "VALUES (999, 'New', 10, 5, 1)")
    state.clear_log()
    cli("sync", "--config", str(google_demo.config), code=0)
    user_entered = [e for e in state.request_log if e.action == "values.batchUpdate" and b"USER_ENTERED" in
                    e.request_body]
    assert len(user_entered) == 1 and user_entered[0].request_body.count(b"=IF(") >= 1
    formulas = state.read_values(google_demo.key, "'Clients'", "FORMULA")
    assert str(formulas[-1][col]).startswith("=IF(") and str(len(formulas)) in str(formulas[-1][col])


def test_over_the_cell_limit_nothing_is_written(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    state = google_demo.server.state
    ss = state.get_spreadsheet(google_demo.key)
    ss.sheets[0].set_size(rows=383_000, cols=26)  # 9,958,000 cells in the owner's own tab
    before = [s.title for s in ss.sheets]
    out = cli("sync", "--config", str(google_demo.config), code=4)
    assert "over Google's limit of 10,000,000" in out and "Nothing was written" in out
    assert [s.title for s in ss.sheets] == before
    assert not [e for e in state.request_log if e.action in ("values.batchUpdate", "values.append",
                                                             "spreadsheets.batchUpdate")]


def test_big_writes_are_split_into_complete_parts() -> None:
    from sheets_sync.sheets.google import MAX_PAYLOAD, _split

    data = [{"range": f"'Clients'!A{i}:C{i}", "values": [["x" * 1000, i, None]]} for i in range(1, 5001)]
    parts = list(_split(data))
    assert len(parts) > 1 and [d for p in parts for d in p] == data
    assert all(len(json.dumps(p).encode()) <= MAX_PAYLOAD for p in parts)


def test_a_key_google_refuses_is_one_clear_line_in_sync_and_check(cli: Callable[..., str],
                                                                  google_demo: GoogleDemo) -> None:
    from sheets_sync_emulators.google_sheets.auth import new_key_pair

    _, other_public = new_key_pair()
    google_demo.server.state.register_service_account(SA_EMAIL, other_public)  # the key was rotated
    for args in (("sync",), ("check",)):
        out = cli(*args, "--config", str(google_demo.config), code=2)
        assert "Google refused the credentials in" in out and "Traceback" not in out, out


def test_the_google_backend_reads_dates_as_dates(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    """Google gives dates as serial numbers; the backend turns those of our date cells into
    dates, so nothing past it (the planner, the History tab's keys, reports) sees a serial."""
    from datetime import date, datetime

    from sheets_sync.config import load_config
    from sheets_sync.plan import StateView
    from sheets_sync.session import open_session
    from sheets_sync.sync import date_cells, read_crm, sheet_columns

    cli("sync", "--config", str(google_demo.config), code=0)
    with open_session(load_config(google_demo.config)) as ctx:
        _, raw = read_crm(ctx)
        cells = date_cells(ctx, sheet_columns(ctx.config, ctx.rules, raw), StateView.load(ctx.state).aliases)
        grids = ctx.sheet.read(["Clients", "History"], dates=cells)
        untyped = ctx.sheet.read(["Clients"])["Clients"]
    header = grids["Clients"][0]
    for name in ("changed_at", "last_order"):
        column = [row[header.index(name)] for row in grids["Clients"][1:] if len(row) > header.index(name)]
        assert column and all(isinstance(v, date) and not isinstance(v, datetime) for v in column if v != "")
    assert isinstance(untyped[1][header.index("changed_at")], int | float)  # as Google has it
    assert all(isinstance(row[0], datetime) for row in grids["History"][1:])
    revenue = [row[header.index("revenue")] for row in grids["Clients"][1:]]
    assert any(isinstance(v, float) for v in revenue) and not any(isinstance(v, date) for v in revenue)
