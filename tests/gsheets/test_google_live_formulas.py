"""``live_formulas = true`` against the Google emulator: the formulas the sync writes, computed by
the emulator's evaluator, give every client the category pandas computed (as LibreOffice does in
``tests/test_live_sync.py``)."""

from __future__ import annotations

from collections.abc import Callable

from gspread.utils import rowcol_to_a1

from .conftest import GoogleDemo


def _live(demo: GoogleDemo) -> None:
    text = demo.config.read_text()
    line = next(x for x in text.splitlines() if x.startswith("google = "))
    demo.config.write_text(text.replace(line, line + "\nlive_formulas = true"))


def test_every_live_category_equals_the_computed_category(cli: Callable[..., str],
                                                           google_demo: GoogleDemo) -> None:
    _live(google_demo)
    cli("sync", "--config", str(google_demo.config), code=0)
    col, rows = google_demo.table()
    assert "live_category" in col and "live_profit" in col
    formulas = google_demo.server.state.read_values(google_demo.key, "Clients", "FORMULA")
    assert all(str(r[col["live_category"]]).startswith("=IF(") for r in formulas[1:])
    categories = {row[col["category"]] for row in rows.values()}
    assert len(categories) > 2  # the demo's clients fall into several categories
    mismatches = [(cid, row[col["category"]], row[col["live_category"]]) for cid, row in rows.items()
                  if row[col["category"]] != row[col["live_category"]]]
    assert mismatches == []


def test_an_owner_edit_recomputes_the_live_category(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    _live(google_demo)
    cli("sync", "--config", str(google_demo.config), code=0)
    col, rows = google_demo.table()
    values = google_demo.values()
    line = next(i for i, r in enumerate(values[1:], start=2) if r[col["category"]] not in ("unqualified", "E"))
    letter = rowcol_to_a1(1, col["manual_category"] + 1)[:-1]  # past Z too
    state = google_demo.server.state
    state.owner_update_values(google_demo.key, f"Clients!{letter}{line}", [[" e "]])
    assert google_demo.values()[line - 1][col["live_category"]] == "E"  # a manual category wins


def test_category_cells_show_the_legend_colour(cli: Callable[..., str], google_demo: GoogleDemo) -> None:
    """The emulator's effectiveFormat applies the sync's conditional formats: each category cell
    shows the colour the Legend gives its code."""
    from sheets_sync_emulators.google_sheets.render import spreadsheet_json

    cli("sync", "--config", str(google_demo.config), code=0)
    legend = google_demo.values("Legend")
    header = legend[0]
    colours = {str(r[0]): str(r[header.index("colour")]) for r in legend[1:]
               if len(r) > header.index("colour") and str(r[header.index("colour")]).startswith("#")}
    assert colours
    col, rows = google_demo.table()
    ss = google_demo.server.state.get_spreadsheet(google_demo.key)
    letter = rowcol_to_a1(1, col["category"] + 1)[:-1]  # past Z too
    body = spreadsheet_json(ss, True, [f"Clients!{letter}2:{letter}{len(rows) + 1}"], None)
    cells = [row["values"][0] for row in body["sheets"][0]["data"][0]["rowData"]]
    seen = set()
    for cell in cells:
        code = cell["effectiveValue"]["stringValue"]
        background = cell["effectiveFormat"]["backgroundColor"]
        got = "#" + "".join(f"{round(background.get(k, 0) * 255):02X}" for k in ("red", "green", "blue"))
        if code in colours:
            assert got == colours[code].upper(), code
            seen.add(code)
        else:
            assert got == "#FFFFFF", code
    assert len(seen) > 1
