"""Live formulas in the synced sheet: written once, recomputed by a real spreadsheet engine."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def _live(config: Path) -> None:
    text = config.read_text()
    line = next(x for x in text.splitlines() if x.startswith("workbook = ") or x.startswith("google = "))
    config.write_text(text.replace(line, line + "\nlive_formulas = true"))


@pytest.fixture
def live_demo(cli: Callable[..., str], tmp_path: Path) -> Path:
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "80", code=0)
    config = folder / "sheets-sync.toml"
    _live(config)
    cli("sync", "--config", str(config), code=0)
    return config


def test_workbook_gets_formulas_and_named_thresholds(cli: Callable[..., str], live_demo: Path) -> None:
    wb = openpyxl.load_workbook(live_demo.parent / "clients.xlsx")
    ws = wb["Clients"]
    header = [c.value for c in ws[1]]
    assert header[-1] == "live_category" and "live_profit" in header and "live_vip" in header
    col = header.index("live_category") + 1
    assert all(str(ws.cell(row=r, column=col).value).startswith("=IF(") for r in range(2, 82))
    assert "roi_a" in wb.defined_names and "as_of" in wb.defined_names
    before = (live_demo.parent / "clients.xlsx").read_bytes()
    assert cli("sync", "--config", str(live_demo), code=0).startswith("No changes")
    assert (live_demo.parent / "clients.xlsx").read_bytes() == before


def test_new_rows_get_formulas(cli: Callable[..., str], live_demo: Path) -> None:
    with sqlite3.connect(live_demo.parent / "crm.sqlite") as db:
        db.execute("INSERT INTO companies (id, company, revenue_rub, costs_rub, orders_12m) "
                   "VALUES (999, 'New', 10, 5, 1)")
    cli("sync", "--config", str(live_demo), code=0)
    ws = openpyxl.load_workbook(live_demo.parent / "clients.xlsx")["Clients"]
    header = [c.value for c in ws[1]]
    assert ws.cell(row=82, column=1).value == "999"
    assert str(ws.cell(row=82, column=header.index("live_category") + 1).value) == \
        str(ws.cell(row=81, column=header.index("live_category") + 1).value).replace("81", "82")


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed (apt-get install libreoffice-calc-nogui)")
def test_libreoffice_recomputes_the_same_categories(live_demo: Path, recalculate: Callable) -> None:
    book = live_demo.parent / "clients.xlsx"
    (result,) = recalculate([book])
    ws = openpyxl.load_workbook(result, data_only=True)["Clients"]
    rows = list(ws.iter_rows(values_only=True))
    col = {h: i for i, h in enumerate(rows[0])}
    mismatches = [(r[col["id"]], r[col["category"]], r[col["live_category"]]) for r in rows[1:]
                  if r[col["category"]] != r[col["live_category"]]]
    assert mismatches == []
