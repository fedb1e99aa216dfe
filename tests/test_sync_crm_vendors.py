"""Full syncs through the CLI against each HTTP CRM emulator (amoCRM, Bitrix24, HubSpot).

Each test runs the real command (``sheets-sync crm setup`` / ``sync``) with a config pointing at
the vendor's loopback emulator, a local workbook as the sheet and the token from the
environment: the category field is created, categories are written, the owner's manual category
is pushed, a rejected record is reported and retried without losing the rest, rate-limit storms
and a company edited or deleted mid-sync are survived, and a real process killed after the CRM
write or after the sheet write is finished by the next run.

The emulators run in this process on 127.0.0.1 (a killed subprocess reaches them there), with
the vendors' documented limits, in virtual time: the emulators' limiters and the CLI's pacing
and retries (``sheets_sync.http.CLOCK``/``SLEEP``) share one manual clock that moves only
when the client waits, so nothing sleeps and no outcome depends on the machine's speed. The
killed-run tests start a real process, which cannot share that clock: there the limiters are
off (those tests are about recovery, not limits). No test asserts a timing.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from sheets_sync import http
from sheets_sync_emulators.crm import AmoCrmApp, App, Bitrix24App, EmulatorServer, HubSpotApp
from sheets_sync_emulators.crm.limits import ManualClock

ROOT = Path(__file__).resolve().parent.parent
VENDORS = ["amocrm", "bitrix24", "hubspot"]
# name, revenue, costs, orders_12m, overdue_days: Hooli has no revenue (unqualified)
COMPANIES = [("Acme", 300000, 100000, 6, 0), ("Globex", 100000, 95000, 1, 0),
             ("Initech", 50000, 80000, 2, 10), ("Umbrella", 90000, 40000, 5, 0),
             ("Hooli", None, 10, 1, 0)]
RETRY = 'backoff = 0.005\nbackoff_max = 0.05\nmax_attempts = 10\nretry_budget = 20\ntimeout = 10\n'


@dataclass
class Vendor:
    """One emulator, seeded, with what a test needs to know about it."""

    kind: str
    app: App
    server: EmulatorServer
    secret: str
    token_env: str
    category_field: str
    write_path: str  # the batch write's path, for fault switches
    ids: dict[str, str]  # company name -> CRM id

    def category(self, name_or_id: str) -> str | None:
        cid = self.ids.get(name_or_id, name_or_id)
        value = self.app.state.value_of(cid, self.category_field)  # type: ignore[attr-defined]
        return None if value in (None, "") else str(value)

    def requests(self) -> int:
        """Requests the emulator answered since its reset (the numbering of ``on_request``)."""
        return len(self.app.log.entries)

    def writes(self) -> list[Any]:
        return [e for e in self.app.log.entries if e.path.endswith(self.write_path)
                and e.method in ("PATCH", "POST")]

    def delete(self, name: str) -> None:
        self.app.state.delete_company(self.ids[name])  # type: ignore[attr-defined]

    def edit_revenue(self, name: str, revenue: int) -> None:
        """Change a company's revenue in the CRM, as a user of the CRM would."""
        state: Any = self.app.state
        cid = self.ids[name]
        if isinstance(self.app, AmoCrmApp):
            state.set_value(state.companies[int(cid)], "REVENUE", revenue)
        elif isinstance(self.app, Bitrix24App):
            state.set_value(state.companies[int(cid)], "REVENUE", revenue)
        else:
            state.set_value(cid, "annualrevenue", revenue)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, EmulatorServer]]:
    apps: dict[str, App] = {"amocrm": AmoCrmApp(token="amo-long-lived-secret-token-0001"),
                            "bitrix24": Bitrix24App(code="b24secretwebhookcode77"),
                            "hubspot": HubSpotApp(token="pat-na1-0123456789-secret-token")}
    started = {kind: EmulatorServer(app).start() for kind, app in apps.items()}
    yield started
    for server in started.values():
        server.stop()


def _seed(app: App) -> dict[str, str]:
    ids = {}
    if isinstance(app, AmoCrmApp):
        for code, label in (("REVENUE", "Выручка"), ("COSTS", "Затраты"), ("ORDERS_12M", "Заказы"),
                            ("OVERDUE_DAYS", "Просрочка")):
            app.state.add_field(label, "numeric", code=code)
        for name, revenue, costs, orders, overdue in COMPANIES:
            values = {"REVENUE": revenue, "COSTS": costs, "ORDERS_12M": orders, "OVERDUE_DAYS": overdue}
            ids[name] = str(app.state.add_company(name, {k: v for k, v in values.items() if v is not None}).id)
    elif isinstance(app, Bitrix24App):
        app.state.add_userfield("COSTS", "double", "Затраты")
        app.state.add_userfield("ORDERS_12M", "integer", "Заказы")
        app.state.add_userfield("OVERDUE_DAYS", "integer", "Просрочка")
        for name, revenue, costs, orders, overdue in COMPANIES:
            ids[name] = str(app.state.add_company(name, REVENUE=revenue, UF_CRM_COSTS=costs,
                                                  UF_CRM_ORDERS_12M=orders, UF_CRM_OVERDUE_DAYS=overdue).id)
    else:
        assert isinstance(app, HubSpotApp)
        for prop in ("costs", "orders_12m", "overdue_days"):
            app.state.add_property(prop, prop, "number")
        for name, revenue, costs, orders, overdue in COMPANIES:
            ids[name] = app.state.add_company(name=name, annualrevenue="" if revenue is None else revenue,
                                              costs=costs, orders_12m=orders, overdue_days=overdue).id
    return ids


def _config(kind: str, base_url: str) -> str:
    if kind == "amocrm":
        return f'''[crm]
kind = "amocrm"
url = "{base_url}"
token_env = "AMOCRM_TOKEN"
category_field = "SS_CATEGORY"
category_label = "Категория клиента"
{RETRY}
[fields]
id = "id"
name = "name"
revenue = "REVENUE"
costs = "COSTS"
orders_12m = "ORDERS_12M"
overdue_days = "OVERDUE_DAYS"
'''
    if kind == "bitrix24":
        return f'''[crm]
kind = "bitrix24"
url = "{base_url}/rest/1/"
token_env = "BITRIX24_WEBHOOK"
category_field = "UF_CRM_SS_CATEGORY"
category_label = "Категория клиента"
{RETRY}
[fields]
id = "ID"
name = "TITLE"
revenue = "REVENUE"
costs = "UF_CRM_COSTS"
orders_12m = "UF_CRM_ORDERS_12M"
overdue_days = "UF_CRM_OVERDUE_DAYS"
'''
    return f'''[crm]
kind = "hubspot"
url = "{base_url}"
token_env = "HUBSPOT_TOKEN"
category_field = "client_category"
category_label = "Client category"
{RETRY}
[fields]
id = "id"
name = "name"
revenue = "annualrevenue"
costs = "costs"
orders_12m = "orders_12m"
overdue_days = "overdue_days"
'''


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """Virtual time for the in-process CLI's pacing and retries (the emulators share it)."""
    manual = ManualClock()
    monkeypatch.setattr(http, "CLOCK", manual.now)
    monkeypatch.setattr(http, "SLEEP", manual.sleep)
    return manual


@pytest.fixture(params=VENDORS)
def crm(request: pytest.FixtureRequest, servers: dict[str, EmulatorServer], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> Vendor:
    kind = request.param
    server = servers[kind]
    app = server.app
    app.reset()
    app.clock = clock.now
    if isinstance(app, AmoCrmApp):
        app.limiter.configure(limit=7, window=1.0, enabled=True)  # amoCRM: 7 per second
        secret, token_env, field, path = app.state.token, "AMOCRM_TOKEN", "SS_CATEGORY", "/api/v4/companies"
    elif isinstance(app, Bitrix24App):
        app.bucket.configure(capacity=50, rate=2.0, enabled=True)  # 50 draining 2 per second
        app.operation.configure(budget=480.0, window=600.0, enabled=True)
        secret, token_env, field, path = app.state.code, "BITRIX24_WEBHOOK", "UF_CRM_SS_CATEGORY", "/batch.json"
    else:
        assert isinstance(app, HubSpotApp)
        app.limiter.configure(limit=100, window=10.0, enabled=True)  # 100 per 10 s
        secret, token_env, field, path = (app.state.token, "HUBSPOT_TOKEN", "client_category",
                                          "/batch/update")
    ids = _seed(app)
    monkeypatch.setenv(token_env, secret)
    (tmp_path / "rules.py").write_text((ROOT / "rules.py").read_text(encoding="utf-8"), encoding="utf-8")
    config = tmp_path / "sheets-sync.toml"
    config.write_text(_config(kind, server.base_url) + '[sheet]\nworkbook = "clients.xlsx"\n'
                      '[log]\nfile = "logs/sync.log"\n', encoding="utf-8")
    return Vendor(kind, app, server, secret, token_env, field, path, ids)


def limits_off(app: App) -> None:
    if isinstance(app, Bitrix24App):
        app.bucket.configure(enabled=False)
        app.operation.configure(enabled=False)
    else:
        app.limiter.configure(enabled=False)  # type: ignore[attr-defined]


def _config_path(crm: Vendor, tmp_path: Path) -> str:
    return str(tmp_path / "sheets-sync.toml")


def _read_requests(cli: Callable[..., str], crm: Vendor, config: str) -> int:
    """How many requests a sync's read of the CRM makes (a dry run reads and writes nothing)."""
    start = crm.requests()
    cli("sync", "--config", config, "--dry-run", code=None)
    return crm.requests() - start


def sync(cli: Callable[..., str], config: str, code: int | None = None) -> dict[str, Any]:
    out = cli("sync", "--config", config, "--json", code=code)
    return json.loads(out)


def sheet(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """The Clients tab as {id: {header: value}}."""
    ws = openpyxl.load_workbook(tmp_path / "clients.xlsx")["Clients"]
    rows = list(ws.iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    return {str(r[header.index("id")]): dict(zip(header, r, strict=False)) for r in rows[1:]}


def set_manual(tmp_path: Path, cid: str, code: str) -> None:
    """The owner types a manual category into the workbook and saves it."""
    path = tmp_path / "clients.xlsx"
    wb = openpyxl.load_workbook(path)
    ws = wb["Clients"]
    header = [c.value for c in ws[1]]
    col = header.index("manual_category") + 1
    for row in ws.iter_rows(min_row=2):
        if str(row[header.index("id")].value) == cid:
            ws.cell(row=row[0].row, column=col, value=code)
    wb.save(path)


def in_crm_as_in_sheet(crm: Vendor, tmp_path: Path) -> dict[str, str]:
    """Every qualified client's category in the CRM equals the sheet's; returns the sheet's."""
    rows = sheet(tmp_path)
    categories = {cid: str(r["category"]) for cid, r in rows.items()}
    for cid, category in categories.items():
        if category != "unqualified" and not str(rows[cid].get("crm_status") or "").startswith("not in"):
            assert crm.category(cid) == category, (cid, category)
    return categories


# ----------------------------------------------------------------------------- the common path


def test_setup_sync_manual_category_and_nothing_left(cli: Callable[..., str], crm: Vendor, tmp_path: Path) -> None:
    config = _config_path(crm, tmp_path)
    out = cli("crm", "setup", "--config", config)
    assert "created" in out and crm.category_field.removeprefix("UF_CRM_") in out
    assert "every category" in cli("crm", "setup", "--config", config)

    first = sync(cli, config, code=1)  # 1: Hooli is unqualified (no revenue)
    assert [u["name"] for u in first["unqualified"]] == ["Hooli"]
    assert first["crm"] == {"written": 4, "rejected": []}
    categories = in_crm_as_in_sheet(crm, tmp_path)
    assert categories[crm.ids["Acme"]] == "A"
    assert crm.category("Hooli") is None
    assert [e.items for e in crm.writes()] == [4]  # one batch with the four changed categories

    # the owner overrides Globex in the workbook; the next sync pushes it to the CRM, and only it
    globex = crm.ids["Globex"]
    assert categories[globex] != "AAA"
    set_manual(tmp_path, globex, "AAA")
    before = len(crm.writes())
    second = sync(cli, config, code=1)
    assert second["crm"] == {"written": 1, "rejected": []}
    assert [c["source"] for c in second["changes"]] == ["manual"]
    assert crm.category("Globex") == "AAA"
    assert [e.items for e in crm.writes()[before:]] == [1]
    assert sheet(tmp_path)[globex]["category"] == "AAA"
    assert in_crm_as_in_sheet(crm, tmp_path)[globex] == "AAA"

    assert cli("sync", "--config", config, code=1).startswith("No changes")
    log = (tmp_path / "logs" / "sync.log").read_text(encoding="utf-8")
    state = (tmp_path / "sheets-sync.state.sqlite").read_bytes().decode("utf-8", "replace")
    assert crm.secret not in out + json.dumps([first, second]) + log + state


def test_rejected_record_is_reported_and_retried_without_losing_the_rest(
        cli: Callable[..., str], crm: Vendor, tmp_path: Path) -> None:
    config = _config_path(crm, tmp_path)
    cli("crm", "setup", "--config", config)
    acme = crm.ids["Acme"]
    crm.app.faults.reject(acme, "Record is locked")
    first = sync(cli, config, code=1)
    assert [r["id"] for r in first["crm"]["rejected"]] == [acme]
    assert first["crm"]["rejected"][0]["category"] == "A"
    assert "Record is locked" in first["crm"]["rejected"][0]["message"]
    assert first["crm"]["written"] == 3
    assert crm.category("Acme") is None
    for name in ("Globex", "Initech", "Umbrella"):  # the rest of the batch went through
        assert crm.category(name) is not None, name
    assert "CRM rejected category A" in sheet(tmp_path)[acme]["problems"]
    text = cli("sync", "--config", config, code=1)  # still locked: retried, still reported
    assert f"client {acme} -> A" in text and "Record is locked" in text

    crm.app.faults.reset()
    again = sync(cli, config, code=1)
    assert again["crm"] == {"written": 1, "rejected": []}
    assert crm.category("Acme") == "A"
    assert "CRM rejected" not in str(sheet(tmp_path)[acme]["problems"] or "")
    in_crm_as_in_sheet(crm, tmp_path)
    assert cli("sync", "--config", config, code=1).startswith("No changes")


def test_rate_limit_storm_is_survived(cli: Callable[..., str], crm: Vendor, tmp_path: Path) -> None:
    config = _config_path(crm, tmp_path)
    cli("crm", "setup", "--config", config)
    faults = crm.app.faults
    read = _read_requests(cli, crm, config)
    first_write = crm.requests() + read + 5 + 1  # after the read and its 5 refusals

    def storm_on_the_write(app: App) -> None:  # fires as the first write arrives: it is refused too
        faults.fail(429, times=4, retry_after=0.01)
        faults.fail(503, times=2)

    faults.fail(429, times=3)  # the read meets a burst of 429 ...
    faults.fail(503, times=2)  # ... then 503 (Bitrix24: QUERY_LIMIT_EXCEEDED)
    faults.on_request(first_write, storm_on_the_write)
    summary = sync(cli, config, code=1)
    assert summary["crm"] == {"written": 4, "rejected": []}
    assert crm.app.log.count(status=429) == 7 and crm.app.log.count(status=503) == 4
    assert [e.status for e in crm.writes()] == [429, 429, 429, 429, 503, 503, 200]
    in_crm_as_in_sheet(crm, tmp_path)
    assert cli("sync", "--config", config, code=1).startswith("No changes")


def test_company_edited_and_deleted_during_the_sync(cli: Callable[..., str], crm: Vendor, tmp_path: Path) -> None:
    config = _config_path(crm, tmp_path)
    cli("crm", "setup", "--config", config)
    # as the first write arrives (the request after the read), a CRM user deletes Initech and
    # changes Umbrella's revenue: the run wrote what it had read, and goes on
    read = _read_requests(cli, crm, config)
    first_write = crm.requests() + read + 1

    def meddle(app: App) -> None:
        crm.delete("Initech")
        crm.edit_revenue("Umbrella", 1)

    crm.app.faults.on_request(first_write, meddle)
    summary = sync(cli, config, code=1)
    initech, umbrella = crm.ids["Initech"], crm.ids["Umbrella"]
    planned = {c["id"]: c["to"] for c in summary["changes"]}
    assert [r["id"] for r in summary["crm"]["rejected"]] == [initech]  # the vendor: not found
    assert summary["crm"]["written"] == 3
    assert crm.category("Acme") == "A"
    assert crm.category("Umbrella") == planned[umbrella]  # as read, before the edit

    # the next run reads the CRM as it is now: Initech gone from it, Umbrella recategorised
    after = sync(cli, config, code=None)
    assert after["exit_code"] in (0, 1)
    rows = sheet(tmp_path)
    assert str(rows[initech]["crm_status"]).startswith("not in the CRM")
    assert after["crm"]["rejected"] == []
    assert rows[umbrella]["category"] != planned[umbrella]  # revenue 1 now
    assert in_crm_as_in_sheet(crm, tmp_path)[umbrella] == crm.category("Umbrella")
    assert cli("sync", "--config", config, code=1).startswith("No changes")


# ----------------------------------------------------------------------------- a killed run


@pytest.mark.parametrize("point", ["crm-written", "sheet-written"])
def test_killed_run_is_finished_by_the_next(cli: Callable[..., str], crm: Vendor, tmp_path: Path,
                                            point: str, sync_processes: Any) -> None:
    config = _config_path(crm, tmp_path)
    limits_off(crm.app)  # a real process runs on the real clock: see the module's docstring
    cli("crm", "setup", "--config", config)
    sync(cli, config, code=1)
    set_manual(tmp_path, crm.ids["Globex"], "AAA")  # work for the killed run
    crm.edit_revenue("Initech", 400000)

    proc = sync_processes.start(config, point)
    sync_processes.wait_for_checkpoint(proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert crm.category("Globex") == "AAA"  # both checkpoints come after the CRM write

    summary = sync(cli, config, code=1)
    assert summary["crm"]["rejected"] == []
    categories = in_crm_as_in_sheet(crm, tmp_path)
    assert categories[crm.ids["Globex"]] == "AAA"
    with sqlite3.connect(tmp_path / "sheets-sync.state.sqlite") as db:
        repeats = db.execute("SELECT COUNT(*) FROM (SELECT client_id, to_cat, from_cat, COUNT(*) n FROM "
                             "history GROUP BY client_id, to_cat, from_cat HAVING n > 1)").fetchone()[0]
    assert repeats == 0
    history = list(openpyxl.load_workbook(tmp_path / "clients.xlsx")["History"].iter_rows(values_only=True))[1:]
    keys = [(r[1], r[3], r[4]) for r in history]
    assert len(keys) == len(set(keys)), "History tab has a change twice"
    assert (crm.ids["Globex"], categories[crm.ids["Globex"]]) in {(str(k[0]), k[2]) for k in keys}
    assert cli("sync", "--config", config, code=1).startswith("No changes")


# ----------------------------------------------------------------------------- malformed answers

BAD = ROOT / "tests" / "fixtures" / "bad_inputs" / "vendors"
#: kind -> (the listing's path as the fault switch matches it, the write's path, method)
LISTING = {"amocrm": ("/api/v4/companies?", "/api/v4/companies", "PATCH"),
           "bitrix24": ("/crm.company.list.json", "/batch.json", "POST"),
           "hubspot": ("/crm/v3/objects/companies?", "/batch/update", "POST")}


@dataclass(frozen=True)
class BadAnswer:
    name: str
    file: str  # under tests/fixtures/bad_inputs/vendors/, "{kind}" for the vendor's folder
    content_type: str = "application/json"
    target: str = "read"  # "read": the listing; "write": the category write
    after: int = 0  # good answers before the bad ones (1: page 1 is good, page 2 is bad)
    times: int = 100  # every retry meets it too
    expect: str = ""  # a word the message must hold


BAD_ANSWERS = [
    BadAnswer("truncated JSON on page 2", "{kind}/truncated_page.json", after=1,
              expect="truncated or invalid JSON"),
    BadAnswer("truncated page 1", "{kind}/truncated_page.json", expect="truncated or invalid JSON"),
    BadAnswer("HTML with 200", "html_200.html", "text/html; charset=utf-8",
              expect="Service temporarily unavailable"),
    BadAnswer("error body with 200", "{kind}/error_200.json", expect="wrong shape"),
    BadAnswer("empty body", "empty.txt", expect="empty body"),
    BadAnswer("repeated cursor", "{kind}/repeated_cursor.json", expect="same next-page cursor"),
    BadAnswer("write answered 200 with an error body", "{kind}/error_200.json", target="write",
              expect="wrong shape"),
]


def _categories(crm: Vendor) -> dict[str, str | None]:
    return {cid: crm.category(cid) for cid in crm.app.state.companies}  # type: ignore[attr-defined]


def _state(tmp_path: Path, tables: tuple[str, ...]) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(tmp_path / "sheets-sync.state.sqlite") as db:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}  # noqa: S608


def _fill_pages(crm: Vendor, count: int) -> None:
    """Companies enough for a second listing page (250 amoCRM, 100 HubSpot, 50 Bitrix24)."""
    state: Any = crm.app.state
    for n in range(count):
        if isinstance(crm.app, AmoCrmApp):
            state.add_company(f"Filler {n}", {"REVENUE": 1000 + n, "COSTS": 10, "ORDERS_12M": 1,
                                              "OVERDUE_DAYS": 0})
        elif isinstance(crm.app, Bitrix24App):
            state.add_company(f"Filler {n}", REVENUE=1000 + n, UF_CRM_COSTS=10,
                              UF_CRM_ORDERS_12M=1, UF_CRM_OVERDUE_DAYS=0)
        else:
            state.add_company(name=f"Filler {n}", annualrevenue=1000 + n, costs=10, orders_12m=1,
                              overdue_days=0)


@pytest.mark.parametrize("bad", BAD_ANSWERS, ids=lambda b: b.name)
def test_a_malformed_vendor_answer_fails_the_sync_and_writes_nothing(
        cli: Callable[..., str], crm: Vendor, tmp_path: Path, bad: BadAnswer) -> None:
    config = _config_path(crm, tmp_path)
    if bad.after:
        _fill_pages(crm, 255)
    cli("crm", "setup", "--config", config)
    sync(cli, config, code=1)
    crm.edit_revenue("Globex", 900000)  # the next sync has a category to write
    crm_before = _categories(crm)
    workbook = (tmp_path / "clients.xlsx").read_bytes()
    tables = ("meta", "snapshot", "history", "ledger", "edits", "runs")
    state_before = _state(tmp_path, tables)

    listing, write_path, write_method = LISTING[crm.kind]
    body = (BAD / bad.file.format(kind=crm.kind)).read_bytes()
    if bad.target == "read":
        crm.app.faults.answer(200, body, bad.content_type, times=bad.times, after=bad.after,
                              path=listing, method="GET" if crm.kind != "bitrix24" else None)
    else:
        crm.app.faults.answer(200, body, bad.content_type, times=bad.times, path=write_path,
                              method=write_method)
    out = cli("sync", "--config", config, code=4)

    assert out.count("\n") == 1, out  # one message line
    assert bad.expect in out, out
    assert {"amocrm": "amoCRM", "bitrix24": "Bitrix24", "hubspot": "HubSpot"}[crm.kind] in out
    for leak in ("Секретный", "Secret Client", "<", "Globex", crm.secret):
        assert leak not in out, (leak, out)
    assert _categories(crm) == crm_before  # nothing written to the CRM
    assert (tmp_path / "clients.xlsx").read_bytes() == workbook  # nor to the sheet
    state_after = _state(tmp_path, tables)
    if bad.target == "read":
        assert state_after == state_before  # the state did not advance
    else:  # the change is kept as pending history (sync.py: history first), nothing else
        assert {t: v for t, v in state_after.items() if t != "history"} == \
            {t: v for t, v in state_before.items() if t != "history"}

    crm.app.faults.reset()  # the vendor answers properly again: the next sync completes
    after = sync(cli, config, code=1)
    assert after["crm"]["rejected"] == []
    assert crm.category("Globex") == sheet(tmp_path)[crm.ids["Globex"]]["category"]


def test_vendor_limit_during_the_write_stops_the_run_until_the_next_sync(
        cli: Callable[..., str], crm: Vendor, tmp_path: Path, clock: ManualClock) -> None:
    """Bitrix24's operating-time limit inside a 200 batch, amoCRM's 403 block, HubSpot's 429s
    past the retries: exit 4, "resumes at the next sync", nobody recorded as rejected."""
    config = _config_path(crm, tmp_path)
    cli("crm", "setup", "--config", config)
    sync(cli, config, code=1)
    crm.edit_revenue("Globex", 900000)
    crm_before = _categories(crm)
    app = crm.app
    if isinstance(app, Bitrix24App):  # crm.company.update has used up its 480 s
        app.operation.spend("crm.company.update", clock.now(), 480.0)
        expect = "OPERATION_TIME_LIMIT"
    elif isinstance(app, AmoCrmApp):
        app.faults.fail(403, times=100, path="/api/v4/companies", method="PATCH")
        expect = "HTTP 403"
    else:
        app.faults.fail(429, times=100, path="/batch/update")
        expect = "HTTP 429"
    out = cli("sync", "--config", config, code=4)
    assert out.count("\n") == 1 and expect in out, out
    if not isinstance(app, HubSpotApp):
        assert "resumes at the next sync" in out
    assert _categories(crm) == crm_before
    assert _state(tmp_path, ("ledger",)) == {"ledger": []}  # nothing recorded as rejected
    app.faults.reset()
    if isinstance(app, Bitrix24App):
        app.operation.reset()
    sync(cli, config, code=1)
    assert crm.category("Globex") == sheet(tmp_path)[crm.ids["Globex"]]["category"]
