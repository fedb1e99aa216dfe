"""Generate the default export template, ``templates/default.xlsx``, and its packaged copy.

    python templates/make_default.py [--currency ₽]

The template is an ordinary workbook an owner may restyle in Excel. What the exporter reads
from it (see docs/export.md):

* the defined name ``ClientsHeader`` over the header row of the clients sheet; each header
  cell names a column (``revenue``, ``Выручка``...); the row below it is the style row: its
  number formats and fonts are given to every client row;
* a ``Legend`` sheet (its row 1 is the header; the rows below are written at export, with
  the thresholds as defined names the live formulas read);
* a ``Summary`` sheet (row 1: ``code title clients revenue profit share``; the rows below are
  written as live formulas) with a native bar chart over it.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.data_source import AxDataSource, StrRef
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName

HERE = Path(__file__).resolve().parent
PACKAGED = HERE.parent / "sheets_sync" / "templates" / "default.xlsx"

# name, width, format kind
CLIENT_COLUMNS = [
    ("id", 10, "text"), ("name", 34, "text"), ("category", 10, "code"),
    ("live_category", 12, "code"), ("manual_category", 12, "text"), ("rule_category", 11, "code"),
    ("stage", 15, "text"), ("reason", 60, "text"), ("notes", 30, "text"),
    ("revenue", 16, "money"), ("costs", 16, "money"), ("orders_12m", 9, "count"),
    ("first_order", 12, "date"), ("last_order", 12, "date"), ("overdue_days", 9, "count"),
    ("referrals", 9, "count"), ("potential", 16, "money"), ("nps", 6, "count"),
    ("blacklisted", 9, "text"), ("profit", 16, "money"), ("roi_pct", 9, "percent"),
    ("margin_pct", 9, "percent"), ("profit_share_cum", 10, "share"), ("tenure_months", 9, "count"),
    ("recency_days", 9, "count"), ("qualified", 9, "text"), ("problems", 40, "text"),
]
SUMMARY_COLUMNS = [("code", 8, "code"), ("title", 32, "text"), ("clients", 10, "count"),
                   ("revenue", 18, "money"), ("profit", 18, "money"), ("share", 10, "share")]
LEGEND_COLUMNS = [("code", 10), ("title", 32), ("condition", 60), ("strategy", 70), ("colour", 10)]
HEADER_FILL = PatternFill("solid", start_color="FF1F4E78", end_color="FF1F4E78")
HEADER_FONT = Font(bold=True, color="FFFFFFFF")
THIN = Border(bottom=Side(style="thin", color="FFBFBFBF"))


def formats(currency: str) -> dict[str, str]:
    money = f'#,##0.00\\ "{currency}"' if currency else "#,##0.00"
    return {"money": money, "count": "0", "date": "DD.MM.YYYY", "percent": '0.0"%"',
            "share": "0.0%", "text": "General", "code": "General"}


def header(ws, columns, row: int = 1) -> None:  # type: ignore[no-untyped-def]
    for col, (name, width, *_) in enumerate(columns, start=1):
        cell = ws.cell(row=row, column=col, value=name)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.row_dimensions[row].height = 30


def style_row(ws, columns, fmt: dict[str, str], row: int = 2) -> None:  # type: ignore[no-untyped-def]
    """The style row: empty cells whose format every exported row takes."""
    for col, (_, _, kind) in enumerate(columns, start=1):
        cell = ws.cell(row=row, column=col)
        cell.number_format = fmt[kind]
        cell.border = THIN
        if kind == "code":
            cell.font = Font(bold=True)
            cell.alignment = Alignment(horizontal="center")


def build(path: Path, currency: str = "₽") -> None:
    fmt = formats(currency)
    wb = Workbook()
    ws = wb.active
    ws.title = "Clients"
    header(ws, CLIENT_COLUMNS)
    style_row(ws, CLIENT_COLUMNS, fmt)
    ws.freeze_panes = "C2"
    last = get_column_letter(len(CLIENT_COLUMNS))
    ws.auto_filter.ref = f"A1:{last}1"
    wb.defined_names["ClientsHeader"] = DefinedName("ClientsHeader", attr_text=f"Clients!$A$1:${last}$1")

    summary = wb.create_sheet("Summary")
    header(summary, SUMMARY_COLUMNS)
    style_row(summary, SUMMARY_COLUMNS, fmt)
    summary.freeze_panes = "A2"
    chart = BarChart()
    chart.type = "col"
    chart.title = "Profit by category"
    chart.y_axis.title = "profit"
    chart.x_axis.title = "category"
    rows = 11  # the exporter fits the series to the categories it writes
    chart.add_data(Reference(summary, min_col=5, min_row=1, max_row=rows), titles_from_data=True)
    chart.series[0].cat = AxDataSource(strRef=StrRef(f=f"'Summary'!$A$2:$A${rows}"))  # codes are text
    chart.height, chart.width = 9, 16
    summary.add_chart(chart, "H2")

    legend = wb.create_sheet("Legend")
    for col, (name, width) in enumerate(LEGEND_COLUMNS, start=1):
        cell = legend.cell(row=1, column=col, value=name)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        legend.column_dimensions[get_column_letter(col)].width = width
    for col in range(1, len(LEGEND_COLUMNS) + 1):
        legend.cell(row=2, column=col).alignment = Alignment(wrap_text=True, vertical="top")
    legend.freeze_panes = "A2"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--currency", default="₽", help="money suffix ('' for none)")
    args = parser.parse_args()
    target = HERE / "default.xlsx"
    build(target, args.currency)
    PACKAGED.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(target, PACKAGED)
    print(f"wrote {target} and {PACKAGED}")


if __name__ == "__main__":
    main()
