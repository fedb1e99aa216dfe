"""Regressions a review of the owner-trust work found, through the CLI."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import openpyxl
from test_owner_trust import header


def _live(config: Path) -> None:
    text = config.read_text()
    line = next(x for x in text.splitlines() if x.startswith("workbook = "))
    config.write_text(text.replace(line, line + "\nlive_formulas = true"))


def test_a_renamed_manual_column_with_live_formulas(cli: Callable[..., str], tmp_path: Path) -> None:
    """A renamed manual_category column is recognised by its values; with live formulas on,
    _live_formulas looks our columns up by their own header and raises KeyError after the
    CRM was written (a traceback)."""
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "40", code=0)
    config = folder / "sheets-sync.toml"
    _live(config)
    cli("sync", "--config", str(config), code=None)
    book = folder / "clients.xlsx"
    wb = openpyxl.load_workbook(book)
    ws = wb["Clients"]
    col = header(ws)
    for r in range(2, 6):
        ws.cell(row=r, column=col["manual_category"]).value = "E"
    wb.save(book)
    cli("sync", "--config", str(config), code=None)
    wb = openpyxl.load_workbook(book)
    ws = wb["Clients"]
    ws.cell(row=1, column=header(ws)["manual_category"]).value = "Ручная категория"
    ws.cell(row=6, column=header(ws)["Ручная категория"]).value = "E"  # a new decision too
    wb.save(book)
    out = cli("sync", "--config", str(config), code=None)  # catch_exceptions=False: a traceback raises
    assert "recognised as manual_category" in out


def test_a_dry_run_creates_no_state_file(cli: Callable[..., str], tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "20", code=0)
    state = folder / "sheets-sync.state.sqlite"
    state.unlink()
    cli("sync", "--config", str(folder / "sheets-sync.toml"), "--dry-run", code=None)
    assert not state.exists(), "a dry run created the state file"
