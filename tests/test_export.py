"""The Excel export: what lands in the workbook, what of the template survives, clear errors."""

from __future__ import annotations

import io
import sqlite3
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.chart import LineChart, Reference
from openpyxl.drawing.image import Image
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Font, PatternFill
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from PIL import Image as PILImage

from sheets_sync.categorize import categorize
from sheets_sync.demo import default_rules_text, demo_rows
from sheets_sync.errors import InputError
from sheets_sync.excel import ExportOptions, default_template, export_table
from sheets_sync.rules import parse_rules
from sheets_sync.table import build_table

AS_OF = date(2026, 11, 23)
COLUMNS = ["id", "name", "revenue", "costs", "orders_12m", "first_order", "last_order",
           "overdue_days", "referrals", "potential", "nps", "blacklisted", "manual_category"]


@pytest.fixture
def table() -> tuple[pd.DataFrame, dict]:
    raw = pd.DataFrame(demo_rows(40, AS_OF, 5), columns=COLUMNS, dtype=object)
    parsed = build_table(raw)
    return categorize(parsed, RULES, AS_OF).frame, parsed.problems


RULES = parse_rules(default_rules_text(), "default rules")


def _grid(path: Path, sheet: str) -> tuple[list[str], list[tuple]]:
    ws = openpyxl.load_workbook(path)[sheet]
    rows = list(ws.iter_rows(values_only=True))
    return [str(h) for h in rows[0]], rows[1:]


def test_default_template_gets_live_formulas_values_and_summary(tmp_path: Path, table: tuple) -> None:
    outcome, problems = table
    out = tmp_path / "export.xlsx"
    result = export_table(outcome, RULES, out, as_of=AS_OF, problems=problems)
    assert result.clients == 40 and sum(result.counts.values()) == 40
    wb = openpyxl.load_workbook(out)
    ws = wb["Clients"]
    header = [c.value for c in ws[1]]
    live = header.index("live_category") + 1
    assert str(ws.cell(2, live).value).startswith("=IF(")
    assert ws.freeze_panes == "C2" and ws.auto_filter.ref == f"A1:{ws.cell(1, len(header)).column_letter}41"
    assert ws.cell(2, header.index("revenue") + 1).number_format == '#,##0.00\\ "₽"'
    assert ws.cell(2, header.index("first_order") + 1).number_format == "DD.MM.YYYY"
    assert ws.cell(2, header.index("roi_pct") + 1).number_format == '0.0"%"'
    cached = openpyxl.load_workbook(out, data_only=True)["Clients"]
    assert [cached.cell(r, live).value for r in range(2, 42)] == list(outcome["category"])
    assert wb.defined_names["roi_a"].attr_text.startswith("'Legend'!$B$")
    assert wb.defined_names["as_of"].attr_text.startswith("'Legend'!$B$")
    summary = openpyxl.load_workbook(out, data_only=True)["Summary"]
    counts = {summary.cell(r, 1).value: summary.cell(r, 3).value for r in range(2, 13)}
    assert counts["total"] == 40
    assert {k: v for k, v in counts.items() if v and k != "total"} == result.counts
    assert str(wb["Summary"]["C2"].value).startswith("=COUNTIF('Clients'!$D$2:$D$41")
    chart = zipfile.ZipFile(out).read("xl/charts/chart1.xml").decode()
    assert "'Summary'!$E$2:$E$11" in chart and "numCache" not in chart  # 9 categories + unqualified
    assert len(wb["Summary"]._charts) == 1
    legend = [c.value for c in wb["Legend"]["A"]]
    assert legend[:4] == ["code", "EEE", "EE", "E"] and "roi_a" in legend


def test_values_that_could_not_be_read_are_written_as_text(tmp_path: Path) -> None:
    raw = pd.DataFrame([["1", "Bad", "12,3,4", "100", 3], ["2", "Good", "300", "100", 3]],
                       columns=["id", "name", "revenue", "costs", "orders_12m"], dtype=object)
    parsed = build_table(raw)
    outcome = categorize(parsed, RULES, AS_OF).frame
    export_table(outcome, RULES, tmp_path / "x.xlsx", as_of=AS_OF, problems=parsed.problems)
    header, rows = _grid(tmp_path / "x.xlsx", "Clients")
    assert rows[0][header.index("revenue")] == "12,3,4"
    assert rows[1][header.index("revenue")] == 300


def _owner_template(path: Path) -> None:
    """The default template, restyled by an owner: an image and a chart of their own, their own
    column with a formula, a sheet, a defined name, validation and a conditional format."""
    wb = openpyxl.load_workbook(default_template())
    ws = wb["Clients"]
    ws.column_dimensions["B"].width = 55
    ws["AB1"] = "owner_note"
    ws["AB2"] = "=J2*2"
    ws.conditional_formatting.add("J2:J5000", CellIsRule(operator="lessThan", formula=["0"],
                                                          fill=PatternFill("solid", start_color="FFFF0000")))
    dv = DataValidation(type="whole", operator="greaterThanOrEqual", formula1="0")
    dv.add("L2:L5000")
    ws.add_data_validation(dv)
    wb.defined_names["ClientsHeader"] = DefinedName("ClientsHeader", attr_text="Clients!$A$1:$AB$1")
    extra = wb.create_sheet("Plan")
    extra["A1"], extra["A2"], extra["A3"] = "month", "=1+1", "=SUM(A2:A2)"
    extra["A1"].font = Font(bold=True, color="FF00AA00")
    for i in range(2, 6):
        extra.cell(i, 2, i * 10)
    chart = LineChart()
    chart.add_data(Reference(extra, min_col=2, min_row=2, max_row=5))
    extra.add_chart(chart, "D2")
    buf = io.BytesIO()
    PILImage.new("RGB", (30, 20), "blue").save(buf, format="PNG")
    buf.seek(0)
    extra.add_image(Image(buf), "D20")
    wb.defined_names["budget"] = DefinedName("budget", attr_text="Plan!$B$2:$B$5")
    wb.save(path)


def test_owner_template_keeps_images_charts_sheets_names_and_formats(tmp_path: Path, table: tuple) -> None:
    outcome, problems = table
    template = tmp_path / "owner.xlsx"
    _owner_template(template)
    out = tmp_path / "export.xlsx"
    export_table(outcome, RULES, out, as_of=AS_OF, problems=problems, options=ExportOptions(template=template))
    src, dst = zipfile.ZipFile(template), zipfile.ZipFile(out)
    media = [n for n in src.namelist() if n.startswith("xl/media/")]
    assert media and all(src.read(n) == dst.read(n) for n in media)  # the image, byte for byte
    untouched = [n for n in src.namelist() if n.startswith(("xl/drawings/", "xl/theme/"))
                 or n in ("xl/charts/chart2.xml", "xl/worksheets/sheet4.xml")]
    assert all(src.read(n) == dst.read(n) for n in untouched), "owner parts must be copied as they are"
    wb = openpyxl.load_workbook(out)
    plan = wb["Plan"]
    assert len(plan._images) == 1 and len(plan._charts) == 1
    assert plan["A3"].value == "=SUM(A2:A2)" and plan["A1"].font.color.rgb == "FF00AA00"
    assert wb.defined_names["budget"].attr_text == "Plan!$B$2:$B$5"
    ws = wb["Clients"]
    assert ws.column_dimensions["B"].width == 55
    assert ws["AB1"].value == "owner_note" and ws["AB2"].value == "=J2*2" and ws["AB41"].value == "=J41*2"
    assert any(str(r.sqref) == "J2:J5000" for r in ws.conditional_formatting)
    sqrefs = [str(dv.sqref) for dv in ws.data_validations.dataValidation]
    assert "L2:L5000" in sqrefs and "E2:E41" in sqrefs  # theirs and the manual_category dropdown
    assert len(wb["Summary"]._charts) == 1


def test_minimal_template_gets_the_missing_columns_after_its_own(tmp_path: Path, table: tuple) -> None:
    outcome, problems = table
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Клиенты"
    ws["A3"], ws["B3"], ws["C3"] = "Компания", "id", "Категория сейчас"
    ws["A1"] = "Our clients"
    wb.create_sheet("Legend")
    wb.defined_names["ClientsHeader"] = DefinedName("ClientsHeader", attr_text="'Клиенты'!$A$3:$C$3")
    wb.save(tmp_path / "t.xlsx")
    with pytest.raises(InputError, match=r"sheet 'Клиенты'.*no column 'category'.*Add a header cell 'category'"):
        export_table(outcome, RULES, tmp_path / "x.xlsx", as_of=AS_OF,
                     options=ExportOptions(template=tmp_path / "t.xlsx"))
    ws["C3"] = "category"
    wb.save(tmp_path / "t.xlsx")
    result = export_table(outcome, RULES, tmp_path / "x.xlsx", as_of=AS_OF, problems=problems,
                          options=ExportOptions(template=tmp_path / "t.xlsx"))
    assert "revenue" in result.added_columns and "live_category" in result.added_columns
    out = openpyxl.load_workbook(tmp_path / "x.xlsx")["Клиенты"]
    assert out["A1"].value == "Our clients" and out["A4"].value == outcome["name"].iloc[0]
    assert out["C4"].value == outcome["category"].iloc[0] and out["D3"].value == "live_category"


@pytest.mark.parametrize(("change", "message"), [
    ("no_name", r"does not say where the clients go. Define the name ClientsHeader"),
    ("no_legend", r"has no sheet 'Legend'. Add an empty sheet named Legend"),
    ("not_xlsx", r"cannot be read as an .xlsx workbook"),
])
def test_a_template_that_does_not_fit_says_what_to_add(tmp_path: Path, table: tuple, change: str,
                                                      message: str) -> None:
    template = tmp_path / "t.xlsx"
    if change == "not_xlsx":
        template.write_text("not a workbook")
    else:
        wb = openpyxl.load_workbook(default_template())
        if change == "no_name":
            del wb.defined_names["ClientsHeader"]
        else:
            del wb["Legend"]
        wb.save(template)
    with pytest.raises(InputError, match=message):
        export_table(table[0], RULES, tmp_path / "x.xlsx", as_of=AS_OF, options=ExportOptions(template=template))


def test_fixed_pareto_writes_the_share_as_values(tmp_path: Path, table: tuple) -> None:
    outcome, problems = table
    result = export_table(outcome, RULES, tmp_path / "x.xlsx", as_of=AS_OF, problems=problems,
                          options=ExportOptions(pareto="fixed"))
    assert "profit_share_cum is a value" in result.to_text()
    header, rows = _grid(tmp_path / "x.xlsx", "Clients")
    assert "pareto_weight" not in header
    shares = [r[header.index("profit_share_cum")] for r in rows]
    want = outcome["profit_share_cum"].astype("float64").tolist()
    assert all((s is None and w != w) or abs(s - w) < 1e-12 for s, w in zip(shares, want, strict=True))


def test_cli_export_reads_like_a_sync_and_writes_nothing_else(cli: Callable[..., str], tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "50", code=0)
    config = folder / "sheets-sync.toml"
    book = openpyxl.load_workbook(folder / "clients.xlsx")  # the owner sets a manual category in the sheet
    ws = book["Clients"]
    header = [c.value for c in ws[1]]
    ws.cell(2, header.index("manual_category") + 1, "AAA")
    first_id = str(ws.cell(2, header.index("id") + 1).value)
    book.save(folder / "clients.xlsx")
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    out = tmp_path / "export.xlsx"
    text = cli("export", "--config", str(config), "--out", str(out))
    assert text.startswith("Exported 50 clients (") and str(out) in text
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    header, rows = _grid(out, "Clients")
    exported = {str(r[header.index("id")]): r for r in rows}
    assert exported[first_id][header.index("manual_category")] == "AAA"
    with sqlite3.connect(folder / "crm.sqlite") as db:
        assert db.execute("select count(*) from companies").fetchone()[0] == len(rows)


def test_cli_export_errors_are_one_line(cli: Callable[..., str], tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    cli("demo", str(folder), "--clients", "20", code=0)
    config = str(folder / "sheets-sync.toml")
    assert "give a name ending in .xlsx" in cli("export", "--config", config, "--out", str(tmp_path / "x.csv"),
                                                code=2)
    bad = tmp_path / "bad.xlsx"
    wb = openpyxl.Workbook()
    wb.save(bad)
    text = cli("export", "--config", config, "--out", str(tmp_path / "x.xlsx"), "--template", str(bad), code=2)
    assert "Define the name ClientsHeader" in text and "Traceback" not in text


def test_the_packaged_template_is_the_generated_one() -> None:
    top = Path(__file__).resolve().parent.parent / "templates" / "default.xlsx"
    assert default_template().read_bytes() == top.read_bytes(), "run python templates/make_default.py"
