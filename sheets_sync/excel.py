"""``sheets-sync export``: the categorized client table in a copy of an Excel template.

The template is the owner's workbook. The exporter never loads it into an object model and
saves it again (openpyxl would drop or rewrite charts, images, pivot caches and whatever
else it does not understand); it copies every part of the ``.xlsx`` zip as it is and
rewrites only the XML of three sheets' cell data, a few defined names, and appends styles:

* the clients sheet, found by the defined name ``ClientsHeader`` (the header row): each
  header cell names a column; the rows above and the header row stay as they are; the row
  below the header is the *style row*: every client row takes its cell styles, and a formula
  the owner put there in a column of their own is filled down (as a shared formula);
  every row after the header is replaced by the clients. Columns of ours that the header
  lacks are added after it; ``id`` and ``category`` must be there;
* ``Legend``: row 1 stays; below it the categories, stages, thresholds (each a defined name
  the live formulas read) and the ``as_of`` day of the metrics;
* ``Summary`` (optional): row 1 names its columns (``code title clients revenue profit
  share``); below it one row per category as live formulas over ``live_category``; charts
  over those columns are fitted to the rows written.

Computed columns are live formulas (:mod:`sheets_sync.rules.formula`) with the pandas values
as their cached results, so the file shows the right values before any recalculation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter

from .categorize import UNQUALIFIED
from .errors import InputError
from .i18n import _, language, ngettext, number
from .rules.expr import Type, to_text
from .rules.formula import (
    AS_OF_NAME,
    CompiledRules,
    Pareto,
    SheetRefs,
    compile_rules,
    defined_names,
)
from .rules.loader import RuleSet
from .serials import serial_days, to_serial
from .table import ALIASES, COLUMNS, Kind, Problem, header_key
from .xlsx_template import (
    HEADER_NAME,
    _add_formats,
    _escape,
    _kept_rows,
    _max_priority,
    _quote,
    _Sheet,
    _split,
    _Styles,
    _Template,
    _with_dimension,
)

LIVE_PARETO_LIMIT = 10_000  # auto: a live Pareto share up to this many clients
CHUNK = 4096

#: our columns in the order they are added after a template's own, with their kinds
ORDER = ["id", "name", "category", "live_category", "manual_category", "rule_category", "stage",
         "reason", "notes", "revenue", "costs", "orders_12m", "first_order", "last_order",
         "overdue_days", "referrals", "potential", "nps", "blacklisted"]
TAIL = ["profit", "roi_pct", "margin_pct", "profit_share_cum", "tenure_months", "recency_days"]
LAST = ["qualified", "pareto_weight", "problems"]
KINDS = {"profit": "money", "roi_pct": "percent", "margin_pct": "percent",
         "profit_share_cum": "share", "tenure_months": "count", "recency_days": "count",
         "pareto_weight": "money", "qualified": "bool"}
#: built-in number formats for columns the style row does not style
BUILTIN_FORMAT = {"money": 4, "count": 1, "number": 2, "percent": 2, "share": 10, "date": 14}
REQUIRED = ("id", "category")
SUMMARY_FIELDS = ("code", "title", "clients", "revenue", "profit", "share")


@dataclass(frozen=True)
class ExportOptions:
    template: Path | None = None  # None: the packaged default
    pareto: str = "auto"  # auto | live | fixed (see sheets_sync.rules.formula.Pareto)
    cached_values: bool = True  # write the pandas values as the formulas' cached results
    headers: Mapping[str, str] = field(default_factory=dict)  # column -> header, as [sheet.headers]


@dataclass
class ExportResult:
    path: Path
    clients: int
    counts: dict[str, int]
    pareto: Pareto
    added_columns: list[str]

    def to_text(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        lines = [ngettext("Exported {n} client ({counts}) to {path}.", "Exported {n} clients ({counts}) to {path}.",
                          self.clients).format(n=self.clients, counts=counts, path=self.path)]
        if self.pareto is Pareto.FIXED:
            lines.append(_("profit_share_cum is a value as of the export (over {limit} clients a live share "
                           "would recalculate slowly); every other computed column is a live formula.").format(
                limit=number(LIVE_PARETO_LIMIT) if language() == "ru" else f"{LIVE_PARETO_LIMIT:,}"))
        if self.added_columns:
            lines.append(_("Added after the template's columns: {columns}.").format(
                columns=", ".join(self.added_columns)))
        return "\n".join(lines)


def default_template() -> Path:
    return Path(str(resources.files("sheets_sync").joinpath("templates/default.xlsx")))


# ============================================================================ the export

def export_table(outcome: pd.DataFrame, rules: RuleSet, out: Path, *, as_of: date,
                 problems: Mapping[Any, Sequence[Problem]] | None = None,
                 options: ExportOptions = ExportOptions()) -> ExportResult:
    """Write the categorized table ``outcome`` (from :func:`sheets_sync.categorize.categorize`)
    into a copy of the template at ``out``. ``problems`` (row label -> problems) gives the
    values that could not be read: they are written as text, as the CRM had them."""
    template = Path(options.template) if options.template else default_template()
    book = _Template.open(template)
    try:
        return _export(book, outcome, rules, out, as_of, problems or {}, options)
    finally:
        book.zf.close()


def _export(book: _Template, outcome: pd.DataFrame, rules: RuleSet, out: Path, as_of: date,
            problems: Mapping[Any, Sequence[Problem]], options: ExportOptions) -> ExportResult:
    n = len(outcome)
    if options.pareto == "auto":
        pareto = Pareto.LIVE if n <= LIVE_PARETO_LIMIT else Pareto.FIXED
    else:
        pareto = Pareto(options.pareto)
    clients = book.clients_sheet()
    layout = _layout(book, clients, rules, pareto, options.headers)
    first, last = clients.header_row + 1, clients.header_row + max(n, 1)
    legend = book.sheet("Legend", "the thresholds the live formulas read are written there")
    names = defined_names(rules)
    legend_rows, name_cells = _legend_rows(rules, as_of, pareto)
    refs = SheetRefs({c.name: c.letter for c in layout if c.ours}, first, last,
                     {k: names[k] for k in names})
    compiled = compile_rules(rules, refs, pareto)
    styles = _Styles(book.read("xl/styles.xml"))
    frame = _prepare(outcome, rules, pareto)
    raw = _raw_texts(outcome, problems)
    parts: dict[str, bytes | Iterator[bytes]] = {}
    parts[clients.path] = _clients_xml(book, clients, layout, frame, raw, compiled, styles, rules,
                                       options.cached_values)
    parts[legend.path] = _legend_xml(book, legend, legend_rows, styles, rules)
    summary_rows = 0
    if "Summary" in book.sheets:
        summary = book.sheet("Summary", "")
        xml, summary_rows = _summary_xml(book, summary, layout, clients, frame, rules, n, styles,
                                         options.cached_values)
        parts[summary.path] = xml
    defined = {names[k]: f"'{_quote(legend.name)}'!$B${row}" for k, row in name_cells.items()}
    parts["xl/workbook.xml"] = book.workbook_xml(defined, clients, max(c.index for c in layout), last).encode()
    parts["xl/styles.xml"] = styles.xml().encode()
    if summary_rows:
        for chart in book.charts():
            parts[chart] = _fit_chart(book.read(chart), summary_rows).encode()
    book.write(out, parts)
    counts = outcome["category"].value_counts()
    order = rules.codes + [UNQUALIFIED]
    added = [c.name for c in layout if c.added]
    return ExportResult(out, n, {c: int(counts[c]) for c in order if c in counts.index}, pareto, added)


# ============================================================================ columns

@dataclass
class _Col:
    name: str  # our column name, or the owner's header
    index: int  # 1-based
    kind: str  # text money number count date bool percent share
    ours: bool = True
    added: bool = False
    style: str = ""
    owner_formula: str = ""

    @property
    def letter(self) -> str:
        return get_column_letter(self.index)


def _kind(name: str, rules: RuleSet) -> str:
    if name in KINDS:
        return KINDS[name]
    kind = {**COLUMNS, **rules.columns}.get(name)
    if kind is not None:
        return "text" if kind is Kind.TEXT else kind.value
    t = rules.names.get(name)
    return {Type.NUMBER: "number", Type.BOOL: "bool", Type.DATE: "date"}.get(t, "text") if t else "text"


def _layout(book: _Template, sheet: _Sheet, rules: RuleSet, pareto: Pareto,
            headers: Mapping[str, str]) -> list[_Col]:
    wanted = list(dict.fromkeys([*ORDER, *rules.columns, *TAIL, *(m.name for m in rules.metrics),
                                 *(c for c in LAST if c != "pareto_weight" or pareto is Pareto.LIVE)]))
    keys: dict[str, str] = {}
    for name in wanted:
        for text in (name, headers.get(name, name), *ALIASES.get(name, ())):
            keys.setdefault(header_key(text), name)
    xml = book.read(sheet.path)
    header = book.row_cells(xml, sheet.header_row)
    style = book.row_cells(xml, sheet.header_row + 1)
    cols: list[_Col] = []
    seen: set[str] = set()
    for index in range(sheet.first_col, sheet.last_col + 1):
        text = header.get(index, {}).get("v", "").strip()
        if not text:
            continue
        name = keys.get(header_key(text))
        proto = style.get(index, {})
        if name is None or name in seen:
            cols.append(_Col(text, index, "text", ours=False, style=proto.get("s", ""),
                             owner_formula=proto.get("f", "")))
            continue
        seen.add(name)
        cols.append(_Col(name, index, _kind(name, rules), style=proto.get("s", "")))
    missing = [r for r in REQUIRED if r not in seen]
    if missing:
        first, last = get_column_letter(sheet.first_col), get_column_letter(sheet.last_col)
        raise InputError(
            f"Template {book.path.name}, sheet {sheet.name!r}: the header row ({HEADER_NAME}, "
            f"{first}{sheet.header_row}:{last}{sheet.header_row}) has no column "
            f"{' or '.join(repr(m) for m in missing)}. Add a header cell {missing[0]!r} to it.")
    next_index = max([sheet.last_col, *header]) + 1
    for name in wanted:
        if name not in seen:
            cols.append(_Col(name, next_index, _kind(name, rules), added=True))
            next_index += 1
    return cols


def _prepare(outcome: pd.DataFrame, rules: RuleSet, pareto: Pareto) -> pd.DataFrame:
    frame = outcome
    if "live_category" not in frame.columns:
        frame = frame.assign(live_category=frame["category"])
    if pareto is Pareto.LIVE:
        profit = frame["profit"].to_numpy(dtype="float64", na_value=np.nan)
        qualified = frame["qualified"].to_numpy(dtype=bool)
        weight = np.where(qualified & (np.nan_to_num(profit) > 0), np.nan_to_num(profit), 0.0)
        frame = frame.assign(pareto_weight=weight)
    return frame


def _raw_texts(outcome: pd.DataFrame, problems: Mapping[Any, Sequence[Problem]]) -> dict[str, dict[int, str]]:
    """Column -> {row position -> the value as the CRM had it} for values that could not be read."""
    out: dict[str, dict[int, str]] = {}
    positions = {label: i for i, label in enumerate(outcome.index)}
    for label, items in problems.items():
        pos = positions.get(label)
        if pos is None:
            continue
        for p in items:
            if p.value is not None and p.column in outcome.columns:
                out.setdefault(p.column, {})[pos] = str(p.value)
    return out


# ============================================================================ cell XML

def _num(v: float) -> str:
    text = repr(v)
    return text[:-2] if text.endswith(".0") else text


def _text_cell(ref: str, s: str, value: str) -> str:
    text = _escape(value)
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _values(frame: pd.DataFrame, col: _Col, rows: slice) -> list[Any]:
    """The column's values for ``rows`` as Python objects (None for blank); dates as serials."""
    if col.name not in frame.columns:
        return [None] * len(range(*rows.indices(len(frame))))
    series = frame[col.name].iloc[rows]
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        days = serial_days(series.to_numpy(dtype="datetime64[ns]"))
        return [None if d != d else float(d) for d in days.tolist()]
    if pd.api.types.is_bool_dtype(series.dtype):
        return [None if v is pd.NA else bool(v) for v in series.astype(object).tolist()]
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan).tolist()
        return [v if math.isfinite(v) else None for v in values]  # no inf/nan: Excel refuses them
    return [None if v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v))
            or v == "" else v for v in series.astype(object).tolist()]


def _cells(col: _Col, values: list[Any], start: int, s: str, raw: Mapping[int, str],
           offset: int) -> list[str]:
    """XML of one column's value cells for rows ``start``...; ``raw`` overrides by position."""
    letter = col.letter
    out: list[str] = []
    for i, v in enumerate(values):
        ref = f"{letter}{start + i}"
        text = raw.get(offset + i) if raw else None
        if text is not None:
            out.append(_text_cell(ref, s, text))
        elif v is None:
            out.append(f'<c r="{ref}"{s}/>' if s else "")
        elif isinstance(v, bool):
            out.append(f'<c r="{ref}"{s} t="b"><v>{int(v)}</v></c>')
        elif isinstance(v, float | int):
            out.append(f'<c r="{ref}"{s}><v>{_num(float(v))}</v></c>')
        else:
            out.append(_text_cell(ref, s, str(v)))
    return out


def _formula_cells(col: _Col, template: str, values: list[Any] | None, start: int, s: str,
                   master: int, last: int, si: int) -> list[str]:
    """A shared formula: the master cell holds the text, the others refer to it."""
    letter = col.letter
    out: list[str] = []
    n = len(values) if values is not None else 0
    count = n if values is not None else 0
    for i in range(count):
        row = start + i
        if row == master:
            f = f'<f t="shared" ref="{letter}{master}:{letter}{last}" si="{si}">{_escape(template)}</f>'
        else:
            f = f'<f t="shared" si="{si}"/>'
        v = values[i] if values is not None else None
        if v is None:
            out.append(f'<c r="{letter}{row}"{s} t="str">{f}<v></v></c>')
        elif isinstance(v, bool):
            out.append(f'<c r="{letter}{row}"{s} t="b">{f}<v>{int(v)}</v></c>')
        elif isinstance(v, float | int):
            out.append(f'<c r="{letter}{row}"{s}>{f}<v>{_num(float(v))}</v></c>')
        else:
            out.append(f'<c r="{letter}{row}"{s} t="str">{f}<v>{_escape(str(v))}</v></c>')
    return out


def _strip_values(cells: list[str]) -> list[str]:
    return [re.sub(r"<v>.*?</v>", "", c).replace(' t="str"', "").replace(' t="b"', "") for c in cells]


# ============================================================================ sheets

def _colour_rules(styles: _Styles, rules: RuleSet, sqref: str, priority: int) -> str:
    out = []
    for cat in rules.categories:
        if not cat.colour:
            continue
        dxf = styles.fill_dxf(cat.colour)
        out.append(f'<cfRule type="cellIs" dxfId="{dxf}" priority="{priority}" operator="equal">'
                   f'<formula>"{_escape(cat.code)}"</formula></cfRule>')
        priority += 1
    return f'<conditionalFormatting sqref="{sqref}">{"".join(out)}</conditionalFormatting>' if out else ""


def _clients_xml(book: _Template, sheet: _Sheet, layout: list[_Col], frame: pd.DataFrame,
                 raw: dict[str, dict[int, str]], compiled: CompiledRules, styles: _Styles,
                 rules: RuleSet, cached: bool) -> Iterator[bytes]:
    xml = book.read(sheet.path)
    head, rows, tail = _split(xml, f"Template {book.path.name}, sheet {sheet.name!r}")
    hr = sheet.header_row
    header_style = next((c["s"] for c in book.row_cells(xml, hr).values() if c.get("s")), "")
    hs = f' s="{header_style}"' if header_style else ""
    extra = "".join(_text_cell(f"{c.letter}{hr}", hs, c.name) for c in layout if c.added)
    n = len(frame)
    first, last = hr + 1, hr + max(n, 1)
    layout = sorted(layout, key=lambda c: c.index)
    for c in layout:
        if not c.style and c.kind in BUILTIN_FORMAT:
            c.style = str(styles.number_xf(BUILTIN_FORMAT[c.kind]))
    lastcol = get_column_letter(layout[-1].index)
    head = _with_dimension(head, f"A1:{lastcol}{last}")
    tail = re.sub(r'<autoFilter\b([^>]*?)ref="[^"]*"',
                  lambda m: f'<autoFilter{m.group(1)}ref="{get_column_letter(sheet.first_col)}{hr}:{lastcol}{last}"',
                  tail, count=1)
    by_name = {c.name: c for c in layout if c.ours}
    coloured = " ".join(f"{by_name[n].letter}{first}:{by_name[n].letter}{last}"
                        for n in ("category", "live_category", "rule_category") if n in by_name)
    cf = _colour_rules(styles, rules, coloured, _max_priority(xml) + 1)
    codes = ",".join(rules.codes)
    dv = ""
    if "manual_category" in by_name and len(codes) < 250:
        m = by_name["manual_category"].letter
        dv = (f'<dataValidation type="list" allowBlank="1" showErrorMessage="1" showInputMessage="1" '
              f'errorTitle="Unknown category" error="Use one of: {_escape(codes)}" promptTitle="Manual category" '
              f'prompt="Leave empty to let the rules decide." sqref="{m}{first}:{m}{last}">'
              f'<formula1>"{_escape(codes)}"</formula1></dataValidation>')
    tail = _add_formats(tail, cf, dv)
    formulas = {c.name: c for c in compiled.columns}
    owner_formulas = {c.index: _shift_formula(c.owner_formula, hr + 1) for c in layout if c.owner_formula}

    def generate() -> Iterator[bytes]:
        yield (head + "<sheetData>" + _kept_rows(rows, hr, extra)).encode()
        for lo in range(0, n, CHUNK):
            hi = min(lo + CHUNK, n)
            start = first + lo
            columns: list[list[str]] = []
            for si, c in enumerate(layout):
                s = f' s="{c.style}"' if c.style else ""
                if c.ours and c.name in formulas:
                    values = _values(frame, c, slice(lo, hi))
                    cells = _formula_cells(c, formulas[c.name].template.replace("\x00", str(first)),
                                           values, start, s, first, last, si)
                    columns.append(cells if cached else _strip_values(cells))
                elif c.ours:
                    columns.append(_cells(c, _values(frame, c, slice(lo, hi)), start, s, raw.get(c.name, {}), lo))
                elif c.index in owner_formulas:
                    cells = _formula_cells(c, owner_formulas[c.index], [None] * (hi - lo), start, s, first,
                                           last, si)
                    columns.append(_strip_values(cells))
                elif s:
                    columns.append([f'<c r="{c.letter}{start + i}"{s}/>' for i in range(hi - lo)])
            parts = [f'<row r="{start + i}">{"".join(cells)}</row>'
                     for i, cells in enumerate(zip(*columns, strict=True))]
            yield "".join(parts).encode()
        yield ("</sheetData>" + tail).encode()

    return generate()


def _shift_formula(formula: str, row: int) -> str:
    """The owner's style-row formula as the master of a shared formula in ``row``."""
    from openpyxl.formula.translate import Translator

    text = formula if formula.startswith("=") else "=" + formula
    return Translator(text, origin=f"A{row}").translate_formula(f"A{row}")[1:]


def _legend_rows(rules: RuleSet, as_of: date, pareto: Pareto) -> tuple[list[list[Any]], dict[str, int]]:
    """Rows of the Legend below its header row, and the row of each named value cell."""
    rows: list[list[Any]] = [[c.code, c.title, to_text(c.node), c.strategy, c.colour] for c in rules.categories]
    rows += [[], ["stage", "title", "condition", "strategy"]]
    rows += [[s.code, s.title, to_text(s.node), s.strategy] for s in rules.stages]
    rows += [[], ["metric", "", "definition"]]
    rows += [[m.name, "", to_text(m.node)] for m in rules.metrics]
    rows += [[], ["threshold", "value", "the live formulas read these cells: edit a value and "
                                        "every live_category recomputes"]]
    cells: dict[str, int] = {}
    for name, value in rules.thresholds.items():
        cells[name] = len(rows) + 2
        rows.append([name, value])
    cells[AS_OF_NAME] = len(rows) + 2
    rows.append([AS_OF_NAME, as_of, "the day tenure_months and recency_days count to; put =TODAY() "
                                    "here to count to today"])
    share = ("a live formula over the whole table" if pareto is Pareto.LIVE else
             "a value computed at the export (re-export to update it)")
    rows += [[], ["note", "", f"profit_share_cum is {share}. live_category recomputes when a value "
                              "changes; category, rule_category and reason are as of the export."]]
    return rows, cells


def _legend_xml(book: _Template, sheet: _Sheet, rows: list[list[Any]], styles: _Styles,
                rules: RuleSet) -> bytes:
    xml = book.read(sheet.path)
    head, kept, tail = _split(xml, f"Template {book.path.name}, sheet {sheet.name!r}")
    header = book.row_cells(xml, 1)
    style = book.row_cells(xml, 2)
    extra = ""
    if not header:
        extra = "".join(_text_cell(f"{get_column_letter(i + 1)}1", "", t)
                        for i, t in enumerate(["code", "title", "condition", "strategy", "colour"]))
    date_xf = f' s="{styles.number_xf(14)}"'
    out = []
    for r, values in enumerate(rows, start=2):
        cells = []
        for c, v in enumerate(values, start=1):
            if v is None or v == "":
                continue
            ref = f"{get_column_letter(c)}{r}"
            s = style.get(c, {}).get("s", "")
            s = f' s="{s}"' if s else ""
            if isinstance(v, date):
                cells.append(f'<c r="{ref}"{date_xf}><v>{_num(float(to_serial(v)))}</v></c>')
            elif isinstance(v, int | float) and not isinstance(v, bool):
                cells.append(f'<c r="{ref}"{s}><v>{_num(float(v))}</v></c>')
            else:
                cells.append(_text_cell(ref, s, str(v)))
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    last = len(rows) + 1
    head = _with_dimension(head, f"A1:E{last}")
    cf = _colour_rules(styles, rules, f"A2:A{len(rules.categories) + 1}", _max_priority(xml) + 1)
    tail = _add_formats(tail, cf, "")
    return (head + "<sheetData>" + _kept_rows(kept, 1, extra) + "".join(out) + "</sheetData>" + tail).encode()


def _summary_xml(book: _Template, sheet: _Sheet, layout: list[_Col], clients: _Sheet, frame: pd.DataFrame,
                 rules: RuleSet, n: int, styles: _Styles, cached: bool) -> tuple[bytes, int]:
    xml = book.read(sheet.path)
    head, kept, tail = _split(xml, f"Template {book.path.name}, sheet {sheet.name!r}")
    header = {header_key(c.get("v", "")): i for i, c in book.row_cells(xml, 1).items()}
    where = {f: header[f] for f in SUMMARY_FIELDS if f in header}
    if "code" not in where:
        raise InputError(f"Template {book.path.name}, sheet 'Summary': row 1 has no header 'code'. "
                         f"Name its columns in row 1 ({', '.join(SUMMARY_FIELDS)}), or delete the "
                         "sheet.")
    style = book.row_cells(xml, 2)
    by_name = {c.name: c for c in layout if c.ours}
    first, last = clients.header_row + 1, clients.header_row + max(n, 1)
    q = f"'{_quote(clients.name)}'!"

    def span(name: str) -> str:
        letter = by_name[name].letter
        return f"{q}${letter}${first}:${letter}${last}"

    codes = [*rules.codes, UNQUALIFIED]
    titles = {c.code: c.title for c in rules.categories} | {UNQUALIFIED: "values to fix in the CRM"}
    category = frame["category"].astype(object)
    revenue = frame["revenue"].to_numpy(dtype="float64", na_value=np.nan)
    profit = frame["profit"].to_numpy(dtype="float64", na_value=np.nan)
    total_profit = float(np.nansum(profit))
    code_ref = get_column_letter(where["code"])
    profit_col = get_column_letter(where["profit"]) if "profit" in where else None
    total_row = len(codes) + 2
    out = []
    for r, code in enumerate([*codes, "total"], start=2):
        mask = (category == code).to_numpy() if code != "total" else np.ones(len(frame), dtype=bool)
        values: dict[str, tuple[str | None, Any]] = {"code": (None, code), "title": (None, titles.get(code, ""))}
        cat = f"${code_ref}{r}"
        if code == "total":
            sums = {"clients": len(frame), "revenue": float(np.nansum(revenue)), "profit": total_profit}
            for f in ("clients", "revenue", "profit"):
                if f in where:
                    letter = get_column_letter(where[f])
                    values[f] = (f"SUM({letter}2:{letter}{r - 1})", sums[f])
        else:
            values["clients"] = (f"COUNTIF({span('live_category')},{cat})", int(mask.sum()))
            values["revenue"] = (f"SUMIF({span('live_category')},{cat},{span('revenue')})",
                                 float(np.nansum(revenue[mask])))
            values["profit"] = (f"SUMIF({span('live_category')},{cat},{span('profit')})",
                                float(np.nansum(profit[mask])))
        if profit_col and "share" in where:
            values["share"] = (f"IF(${profit_col}${total_row}=0,0,${profit_col}{r}/${profit_col}${total_row})",
                               float(np.nansum(profit[mask]) / total_profit) if total_profit else 0.0)
        cells = []
        for f, col in sorted(where.items(), key=lambda kv: kv[1]):
            formula, value = values.get(f, (None, None))
            ref = f"{get_column_letter(col)}{r}"
            s = style.get(col, {}).get("s", "")
            s = f' s="{s}"' if s else ""
            if formula is None:
                cells.append(_text_cell(ref, s, str(value)) if value not in (None, "") else "")
            else:
                v = f"<v>{_num(float(value))}</v>" if cached and value is not None else ""
                cells.append(f'<c r="{ref}"{s}><f>{_escape(formula)}</f>{v}</c>')
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    head = _with_dimension(head, f"A1:{get_column_letter(max(where.values()))}{total_row}")
    body = head + "<sheetData>" + _kept_rows(kept, 1) + "".join(out) + "</sheetData>" + tail
    return body.encode(), len(codes)


def _fit_chart(xml: str, rows: int) -> str:
    """Series over ``Summary!$X$2:$X$k`` span the category rows written; caches are dropped
    (every engine rebuilds them from the cells)."""
    pattern = r"(<(?:\w+:)?f>'?Summary'?!\$[A-Z]+\$2:\$[A-Z]+\$)\d+(</(?:\w+:)?f>)"
    fitted, count = re.subn(pattern, lambda m: f"{m.group(1)}{rows + 1}{m.group(2)}", xml)
    if not count:
        return xml
    return re.sub(r"<(\w+:)?(numCache|strCache)>.*?</\1?\2>", "", fitted, flags=re.S)


# ============================================================================ from a config

EXPORT_STEPS = 3  # reading the CRM, reading the sheet, writing the workbook


def export_current(config_path: Path | None, out: Path, *, template: Path | None = None,
                   pareto: str = "auto", progress: Any = None) -> ExportResult:
    """``sheets-sync export``: the client table as a sync would see it
    (:func:`sheets_sync.sync.current`), exported to ``out``; nothing is written anywhere else:
    not the sheet, the CRM or the state. ``progress`` is an optional tqdm-like bar of
    :data:`EXPORT_STEPS` steps."""
    from .outputs import refuse_own_files
    from .session import open_session
    from .sync import _step, current

    out = Path(out)
    refuse_own_files(out, config_path)
    if out.suffix.lower() != ".xlsx":
        raise InputError(f"{out}: the export is an Excel workbook; give a name ending in .xlsx.")
    if template is not None and Path(template).resolve() == out.resolve():
        raise InputError(f"{out} is the template itself; write the export to another file.")
    if not out.resolve().parent.is_dir():
        raise InputError(f"{out}: the folder {out.resolve().parent} does not exist.")
    with open_session(config_path) as ctx:
        done, _plan = current(ctx, progress=progress)
        options = ExportOptions(template=template, pareto=pareto, headers=dict(ctx.config.sheet.headers))
        _step(ctx, "writing the workbook")
        return export_table(done.outcome, ctx.rules, out, as_of=ctx.now.date(), problems=done.table.problems,
                            options=options)
