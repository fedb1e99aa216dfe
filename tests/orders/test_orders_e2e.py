"""A sync through the CLI with an [orders] source: the deals' metrics land in the sheet and the
categories use them. A CRM whose company records hold no numbers at all: revenue, costs,
orders and the order dates all come from the deals."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from sheets_sync.demo import default_rules_text

CONFIG = """\
rules = "rules.py"
[crm]
kind = "sqlite"
path = "crm.sqlite"
table = "companies"
category_field = "category"
[sheet]
workbook = "clients.xlsx"
[fields]
id = "id"
name = "company"
"""

# steady: 100 000 a month for 12 months (X); lumpy: the same 12 orders, 1 200 000 in all, but
# in two months (Z); both regular buyers with the same ROI (25 %, not VIP): B only for the steady one
# (the sync date is 2026-11-23: the 365 days start on 2025-11-24, the 12 full months are
# 2025-11 .. 2026-10, so the 25th of each of those months is in both)
MONTHS = [f"{y}-{m:02d}" for y, m in [(2025, 11), (2025, 12), *((2026, k) for k in range(1, 11))]]


def deals() -> list[tuple[str, str, str, str, str]]:
    rows = [("1", "100 000,00", f"25.{m[5:]}.{m[:4]}", "80 000", "Оплачен") for m in MONTHS]
    rows += [("2", "100 000,00", f"{d:02d}.03.2026", "80 000", "Оплачен") for d in range(1, 7)]
    rows += [("2", "100 000,00", f"{d:02d}.09.2026", "80 000", "Оплачен") for d in range(1, 7)]
    rows += [("3", "5 000", "01.10.2026", "", "Отменён")]  # not won: no orders at all
    return rows


@pytest.fixture
def crm(tmp_path: Path) -> Path:
    (tmp_path / "rules.py").write_text(default_rules_text(), encoding="utf-8")
    with sqlite3.connect(tmp_path / "crm.sqlite") as db:
        db.execute("CREATE TABLE companies (id INTEGER PRIMARY KEY, company TEXT, category TEXT)")
        db.executemany("INSERT INTO companies VALUES (?, ?, NULL)",
                       [(1, "ООО «Ровный»"), (2, "ООО «Рывок»"), (3, "ИП Новый")])
    return tmp_path


def clients(folder: Path) -> dict[str, dict[str, object]]:
    ws = openpyxl.load_workbook(folder / "clients.xlsx")["Clients"]
    rows = list(ws.iter_rows(values_only=True))
    return {str(r[0]): dict(zip(rows[0], r, strict=False)) for r in rows[1:]}


def check(folder: Path) -> None:
    got = clients(folder)
    steady, lumpy, new = got["1"], got["2"], got["3"]
    assert (steady["revenue"], steady["orders_12m"], steady["xyz"], steady["cv_12m"]) == (1_200_000, 12, "X", 0)
    assert (lumpy["revenue"], lumpy["orders_12m"], lumpy["xyz"]) == (1_200_000, 12, "Z")
    assert steady["costs"] == steady["costs_12m"] == 960_000 and steady["roi_pct"] == 25
    assert (steady["stage"], lumpy["stage"]) == ("Regular", "Regular")  # the stage by its title
    assert (steady["category"], lumpy["category"]) == ("B", "D")  # not only often: steadily
    assert steady["abc"] == "A" and steady["months_active_12m"] == 12 and lumpy["months_active_12m"] == 2
    assert len(str(steady["rfm"])) == 3
    # no won deal: a count of 0, and blanks where nothing can be said
    assert (new["orders_12m"], new["revenue"], new["first_order"], new["xyz"], new["rfm"]) == (0, 0, None, None, None)


def test_sync_with_an_orders_file(cli: Callable[..., str], crm: Path) -> None:
    lines = ["Клиент;Сумма;Дата;Себестоимость;Статус"] + [";".join(r) for r in deals()]
    (crm / "orders.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1251"))
    (crm / "sheets-sync.toml").write_text(CONFIG + """
[orders]
source = "file"
path = "orders.csv"
won = ["оплачен"]
""", encoding="utf-8")
    out = cli("sync", "--config", str(crm / "sheets-sync.toml"), code=0)
    assert "3 clients" in out
    check(crm)
    assert "No changes" in cli("sync", "--config", str(crm / "sheets-sync.toml"), code=0)


def test_sync_with_an_orders_table_and_a_company_field_that_wins(cli: Callable[..., str], crm: Path) -> None:
    with sqlite3.connect(crm / "crm.sqlite") as db:
        db.execute("CREATE TABLE deals (id INTEGER PRIMARY KEY, company_id INTEGER, sum TEXT, "
                   "closed TEXT, cost TEXT, state TEXT)")
        db.executemany("INSERT INTO deals (company_id, sum, closed, cost, state) VALUES (?, ?, ?, ?, ?)",
                       deals())
        db.execute("ALTER TABLE companies ADD COLUMN orders_kept_by_hand INTEGER")
        db.execute("UPDATE companies SET orders_kept_by_hand = 99 WHERE id = 3")
    (crm / "sheets-sync.toml").write_text(CONFIG + """
[orders]
source = "sql"
path = "crm.sqlite"
table = "deals"
won = ["Оплачен"]
[orders.columns]
client_id = "company_id"
amount = "sum"
date = "closed"
status = "state"
""", encoding="utf-8")
    cli("sync", "--config", str(crm / "sheets-sync.toml"), code=0)
    check(crm)
    # a company field mapped in [fields] wins over the deals
    config = crm / "sheets-sync.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        'name = "company"\n', 'name = "company"\norders_12m = "orders_kept_by_hand"\n'), encoding="utf-8")
    out = cli("sync", "--config", str(config), code=1)
    assert clients(crm)["3"]["orders_12m"] == 99
    # the field is blank for the others: the record's blank, so they wait for it (REQUIRED)
    assert clients(crm)["1"]["orders_12m"] is None
    assert "client 1 ООО «Ровный»: orders_12m: empty (required)" in out
    assert clients(crm)["1"]["revenue_12m"] == 1_200_000  # the other metrics still from the deals
