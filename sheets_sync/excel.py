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

import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
from openpyxl.utils import column_index_from_string, get_column_letter

from .categorize import UNQUALIFIED
from .errors import InputError
from .rules.expr import Type, to_text
from .rules.formula import (
    AS_OF_NAME,
    CompiledRules,
    Pareto,
    SheetRefs,
    compile_rules,
    defined_names,
    formula_columns,
)
from .rules.loader import RuleSet
from .table import ALIASES, COLUMNS, Kind, Problem, header_key

HEADER_NAME = "ClientsHeader"
LIVE_PARETO_LIMIT = 10_000  # auto: a live Pareto share up to this many clients
CHUNK = 4096
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_NS = {"m": MAIN, "r": REL, "p": PKG_REL}
EPOCH = np.datetime64("1899-12-30")

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
        lines = [f"Exported {self.clients} clients ({counts}) to {self.path}."]
        if self.pareto is Pareto.FIXED:
            lines.append("profit_share_cum is a value as of the export (over "
                         f"{LIVE_PARETO_LIMIT:,} clients a live share would recalculate slowly);"
                         " every other computed column is a live formula.")
        if self.added_columns:
            lines.append(f"Added after the template's columns: {', '.join(self.added_columns)}.")
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
    parts["xl/workbook.xml"] = book.workbook_xml(defined, clients, layout, last).encode()
    parts["xl/styles.xml"] = styles.xml().encode()
    if summary_rows:
        for chart in book.charts():
            parts[chart] = _fit_chart(book.read(chart), summary_rows).encode()
    book.write(out, parts)
    counts = outcome["category"].value_counts()
    order = rules.codes + [UNQUALIFIED]
    added = [c.name for c in layout if c.added]
    return ExportResult(out, n, {c: int(counts[c]) for c in order if c in counts.index}, pareto, added)


# ============================================================================ the template

@dataclass
class _Sheet:
    name: str
    path: str  # zip member
    header_row: int = 1
    first_col: int = 1
    last_col: int = 1


class _Template:
    def __init__(self, path: Path, zf: zipfile.ZipFile) -> None:
        self.path, self.zf = path, zf
        self.names = set(zf.namelist())
        self.workbook = self.read("xl/workbook.xml")
        root = ET.fromstring(self.workbook)
        rels = ET.fromstring(self.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target", "") for r in rels.findall("p:Relationship", _NS)}
        self.sheets: dict[str, str] = {}
        self.order: list[str] = []
        for s in root.findall("m:sheets/m:sheet", _NS):
            target = targets.get(s.get(f"{{{REL}}}id"), "")
            target = target.lstrip("/") if target.startswith("/") else "xl/" + target
            self.sheets[s.get("name", "")] = target
            self.order.append(s.get("name", ""))
        self.defined = {d.get("name"): (d.text or "") for d in root.findall("m:definedNames/m:definedName", _NS)
                        if d.get("localSheetId") is None}
        self.shared = self._shared_strings()

    @classmethod
    def open(cls, path: Path) -> _Template:
        try:
            zf = zipfile.ZipFile(path)
            return cls(path, zf)
        except FileNotFoundError:
            raise InputError(f"Template {path} does not exist.") from None
        except (zipfile.BadZipFile, KeyError, ET.ParseError, OSError) as exc:
            raise InputError(f"Template {path} cannot be read as an .xlsx workbook ({exc}); save "
                             "it from Excel as .xlsx.") from exc

    def read(self, member: str) -> str:
        return self.zf.read(member).decode("utf-8")

    def _shared_strings(self) -> list[str]:
        if "xl/sharedStrings.xml" not in self.names:
            return []
        root = ET.fromstring(self.read("xl/sharedStrings.xml"))
        return ["".join(t.text or "" for t in si.iter(f"{{{MAIN}}}t")) for si in root.findall("m:si", _NS)]

    def sheet(self, name: str, why: str) -> _Sheet:
        if name not in self.sheets:
            raise InputError(f"Template {self.path.name} has no sheet {name!r}. Add an empty sheet "
                             f"named {name}: {why}.")
        return _Sheet(name, self.sheets[name])

    def clients_sheet(self) -> _Sheet:
        text = self.defined.get(HEADER_NAME)
        if not text:
            raise InputError(
                f"Template {self.path.name} does not say where the clients go. Define the name "
                f"{HEADER_NAME} over the header row of the sheet that should hold them (Excel: "
                f"Formulas > Name Manager > New, e.g. {HEADER_NAME} = Clients!$A$1:$AA$1).")
        m = re.fullmatch(r"'?(.+?)'?!\$?([A-Z]+)\$?(\d+)(?::\$?([A-Z]+)\$?(\d+))?", text.strip())
        if not m or (m.group(5) and m.group(5) != m.group(3)):
            raise InputError(f"Template {self.path.name}: the name {HEADER_NAME} is {text!r}; make it "
                             "one header row, e.g. Clients!$A$1:$AA$1.")
        name = m.group(1).replace("''", "'")
        sheet = self.sheet(name, f"{HEADER_NAME} points to it")
        sheet.header_row = int(m.group(3))
        sheet.first_col = column_index_from_string(m.group(2))
        sheet.last_col = column_index_from_string(m.group(4) or m.group(2))
        return sheet

    def charts(self) -> list[str]:
        return sorted(n for n in self.names if re.fullmatch(r"xl/charts/chart\d+\.xml", n))

    def row_cells(self, xml: str, row: int) -> dict[int, dict[str, str]]:
        """Cells of one row: column -> {"s": style, "v": text value, "f": formula}."""
        m = re.search(rf'<row\b[^>]*\br="{row}"[^>]*?(?:/>|>(.*?)</row>)', xml, re.S)
        out: dict[int, dict[str, str]] = {}
        if not m or not m.group(1):
            return out
        for c in re.finditer(r"<c\b([^>]*?)(?:/>|>(.*?)</c>)", m.group(1), re.S):
            attrs = dict(re.findall(r'(\w+)="([^"]*)"', c.group(1)))
            ref = re.match(r"([A-Z]+)", attrs.get("r", ""))
            if not ref:
                continue
            body = c.group(2) or ""
            cell = {"s": attrs.get("s", "")}
            f = re.search(r"<f\b[^>]*>(.*?)</f>", body, re.S)
            if f:
                cell["f"] = _unescape(f.group(1))
            if attrs.get("t") == "s":
                v = re.search(r"<v>(.*?)</v>", body)
                cell["v"] = self.shared[int(v.group(1))] if v else ""
            elif attrs.get("t") == "inlineStr":
                cell["v"] = _unescape("".join(re.findall(r"<t\b[^>]*>(.*?)</t>", body, re.S)))
            else:
                v = re.search(r"<v>(.*?)</v>", body)
                cell["v"] = _unescape(v.group(1)) if v else ""
            out[column_index_from_string(ref.group(1))] = cell
        return out

    def workbook_xml(self, names: Mapping[str, str], clients: _Sheet, layout: list[_Col],
                     last_row: int) -> str:
        xml = self.workbook
        for name in names:
            xml = re.sub(rf'<definedName\b[^>]*\bname="{re.escape(name)}"[^>]*>.*?</definedName>', "", xml,
                         flags=re.S | re.I)
        entries = "".join(f'<definedName name="{n}">{_escape(ref)}</definedName>' for n, ref in names.items())
        if "</definedNames>" in xml:
            xml = xml.replace("</definedNames>", entries + "</definedNames>", 1)
        elif "<definedNames/>" in xml:
            xml = xml.replace("<definedNames/>", f"<definedNames>{entries}</definedNames>", 1)
        else:
            xml = xml.replace("</sheets>", f"</sheets><definedNames>{entries}</definedNames>", 1)
        index = self.order.index(clients.name)
        last_col = get_column_letter(max(c.index for c in layout))
        first_col = get_column_letter(clients.first_col)
        span = f"'{_quote(clients.name)}'!${first_col}${clients.header_row}:${last_col}${last_row}"

        def fit_filter(m: re.Match[str]) -> str:
            attrs = m.group(1)
            if 'name="_xlnm._FilterDatabase"' in attrs and f'localSheetId="{index}"' in attrs:
                return f"<definedName{attrs}>{_escape(span)}</definedName>"
            return m.group(0)

        xml = re.sub(r"<definedName\b([^>]*)>(.*?)</definedName>", fit_filter, xml, flags=re.S)
        if re.search(r"<calcPr\b", xml):
            xml = re.sub(r"<calcPr\b([^>]*?)\s*(/?)>", lambda m: "<calcPr" + re.sub(
                r'\s*fullCalcOnLoad="[^"]*"', "", m.group(1)) + f' fullCalcOnLoad="1"{m.group(2)}>', xml, count=1)
        else:
            xml = xml.replace("</definedNames>", '</definedNames><calcPr fullCalcOnLoad="1"/>', 1)
        return xml

    def write(self, out: Path, parts: Mapping[str, bytes | Iterator[bytes]]) -> None:
        """Copy the template to ``out`` with ``parts`` replaced; the calculation chain is
        dropped (Excel rebuilds it), everything else is copied byte for byte."""
        out = Path(out)
        tmp = out.with_name(f".~{out.name}")
        drop = {"xl/calcChain.xml"}
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
                for info in self.zf.infolist():
                    if info.filename in drop:
                        continue
                    body = parts.get(info.filename)
                    if body is None:
                        data = self.zf.read(info.filename)
                        if info.filename == "[Content_Types].xml":
                            data = re.sub(rb'<Override\b[^>]*calcChain[^>]*/>', b"", data)
                        elif info.filename == "xl/_rels/workbook.xml.rels":
                            data = re.sub(rb'<Relationship\b[^>]*calcChain[^>]*/>', b"", data)
                        dst.writestr(info, data, compress_type=info.compress_type)
                    elif isinstance(body, bytes):
                        dst.writestr(info.filename, body)
                    else:
                        with dst.open(info.filename, "w", force_zip64=True) as stream:
                            for chunk in body:
                                stream.write(chunk)
            tmp.replace(out)
        except OSError as exc:
            raise InputError(f"{out}: cannot write: {exc.strerror or exc}") from exc
        finally:
            if tmp.exists():
                tmp.unlink()


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

_ESCAPE = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;",
           **{c: None for c in [*range(0, 9), 11, 12, *range(14, 32)]}}


def _escape(text: str) -> str:
    return text.translate(_ESCAPE)


def _unescape(text: str) -> str:
    return (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))


def _quote(name: str) -> str:
    return name.replace("'", "''")


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
        days = (series.to_numpy(dtype="datetime64[ns]") - EPOCH) / np.timedelta64(1, "D")
        return [None if d != d else float(d) for d in days.tolist()]
    if pd.api.types.is_bool_dtype(series.dtype):
        return [None if v is pd.NA else bool(v) for v in series.astype(object).tolist()]
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan).tolist()
        return [None if v != v else v for v in values]
    return [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) or v == "" else v
            for v in series.astype(object).tolist()]


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

def _split(xml: str, what: str) -> tuple[str, str, str]:
    """``(head, rows, tail)`` around the sheet's ``sheetData``."""
    m = re.search(r"<sheetData\s*/>|<sheetData>(.*?)</sheetData>", xml, re.S)
    if not m:
        raise InputError(f"{what}: the sheet XML has no sheetData; save the template from Excel "
                         "or LibreOffice as .xlsx.")
    return xml[:m.start()], m.group(1) or "", xml[m.end():]


def _kept_rows(rows: str, upto: int, extra_header: str = "") -> str:
    """The template's rows up to ``upto`` (the header), with ``extra_header`` cells appended
    to the header row."""
    kept = []
    for m in re.finditer(r"<row\b([^>]*?)(/>|>(.*?)</row>)", rows, re.S):
        r = int(re.search(r'\br="(\d+)"', m.group(1)).group(1))  # type: ignore[union-attr]
        if r > upto:
            break
        if r == upto and extra_header:
            attrs = re.sub(r'\s*spans="[^"]*"', "", m.group(1))
            kept.append(f"<row{attrs}>{m.group(3) or ''}{extra_header}</row>")
        else:
            kept.append(m.group(0))
    if extra_header and not any(re.search(rf'\br="{upto}"', k[:60]) for k in kept):
        kept.append(f'<row r="{upto}">{extra_header}</row>')
    return "".join(kept)


def _with_dimension(head: str, ref: str) -> str:
    if "<dimension" in head:
        return re.sub(r'<dimension\b[^>]*/>', f'<dimension ref="{ref}"/>', head, count=1)
    return head


_AFTER_CF = ("<dataValidations", "<hyperlinks", "<printOptions", "<pageMargins", "<pageSetup",
             "<headerFooter", "<rowBreaks", "<colBreaks", "<customProperties", "<cellWatches",
             "<ignoredErrors", "<smartTags", "<drawing", "<legacyDrawing", "<picture", "<oleObjects",
             "<controls", "<webPublishItems", "<tableParts", "<extLst", "</worksheet>")


def _insert_before(tail: str, markers: Sequence[str], text: str) -> str:
    positions = [tail.find(m) for m in markers if tail.find(m) >= 0]
    at = min(positions) if positions else len(tail)
    return tail[:at] + text + tail[at:]


def _add_formats(tail: str, cf: str, dv: str) -> str:
    if cf:
        ends = [m.end() for m in re.finditer(r"</conditionalFormatting>", tail)]
        tail = tail[:ends[-1]] + cf + tail[ends[-1]:] if ends else _insert_before(tail, _AFTER_CF, cf)
    if dv:
        m = re.search(r'<dataValidations\b[^>]*count="(\d+)"[^>]*>', tail)
        if m:
            count = int(m.group(1)) + 1
            head = m.group(0).replace(f'count="{m.group(1)}"', f'count="{count}"')
            tail = tail[:m.start()] + head + tail[m.end():]
            tail = tail.replace("</dataValidations>", dv + "</dataValidations>", 1)
        else:
            tail = _insert_before(tail, _AFTER_CF[1:], f'<dataValidations count="1">{dv}</dataValidations>')
    return tail


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


def _max_priority(xml: str) -> int:
    return max((int(p) for p in re.findall(r'<cfRule\b[^>]*priority="(\d+)"', xml)), default=0)


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
                cells.append(f'<c r="{ref}"{date_xf}><v>{(v - date(1899, 12, 30)).days}</v></c>')
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


# ============================================================================ styles

class _Styles:
    """Appends cell formats and conditional-format fills to the template's styles.xml."""

    def __init__(self, xml: str) -> None:
        self.text = xml
        self.xfs: dict[int, int] = {}
        self.dxfs: dict[str, int] = {}
        self.new_xfs: list[str] = []
        self.new_dxfs: list[str] = []
        m = re.search(r'<cellXfs\b[^>]*count="(\d+)"', xml)
        self.xf_count = int(m.group(1)) if m else len(re.findall(r"<xf\b", _section(xml, "cellXfs")))
        m = re.search(r'<dxfs\b[^>]*count="(\d+)"', xml)
        self.dxf_count = int(m.group(1)) if m else 0

    def number_xf(self, fmt: int) -> int:
        if fmt not in self.xfs:
            self.xfs[fmt] = self.xf_count + len(self.new_xfs)
            self.new_xfs.append(f'<xf numFmtId="{fmt}" fontId="0" fillId="0" borderId="0" xfId="0" '
                                'applyNumberFormat="1"/>')
        return self.xfs[fmt]

    def fill_dxf(self, colour: str) -> int:
        if colour not in self.dxfs:
            self.dxfs[colour] = self.dxf_count + len(self.new_dxfs)
            rgb = "FF" + colour.lstrip("#").upper()
            self.new_dxfs.append(f'<dxf><fill><patternFill patternType="solid"><fgColor rgb="{rgb}"/>'
                                 f'<bgColor rgb="{rgb}"/></patternFill></fill></dxf>')
        return self.dxfs[colour]

    def xml(self) -> str:
        xml = self.text
        if self.new_xfs:
            total = self.xf_count + len(self.new_xfs)
            xml = re.sub(r'(<cellXfs\b[^>]*count=")\d+', rf"\g<1>{total}", xml, count=1)
            xml = xml.replace("</cellXfs>", "".join(self.new_xfs) + "</cellXfs>", 1)
        if self.new_dxfs:
            total = self.dxf_count + len(self.new_dxfs)
            items = "".join(self.new_dxfs)
            if re.search(r"<dxfs\b[^>]*/>", xml):
                xml = re.sub(r"<dxfs\b[^>]*/>", f'<dxfs count="{total}">{items}</dxfs>', xml, count=1)
            elif "</dxfs>" in xml:
                xml = re.sub(r'(<dxfs\b[^>]*count=")\d+', rf"\g<1>{total}", xml, count=1)
                xml = xml.replace("</dxfs>", items + "</dxfs>", 1)
            else:
                at = min([p for p in (xml.find("<tableStyles"), xml.find("<colors"), xml.find("<extLst"),
                                      xml.find("</styleSheet>")) if p >= 0])
                xml = xml[:at] + f'<dxfs count="{total}">{items}</dxfs>' + xml[at:]
        return xml


def _section(xml: str, tag: str) -> str:
    m = re.search(rf"<{tag}\b.*?</{tag}>", xml, re.S)
    return m.group(0) if m else ""


def formula_column_names(rules: RuleSet, pareto: Pareto) -> list[str]:
    """The exported columns that hold live formulas."""
    return formula_columns(rules, pareto)


# ============================================================================ from a config

def export_current(config_path: Path | None, out: Path, *, template: Path | None = None,
                   pareto: str = "auto") -> ExportResult:
    """The client table as a sync would see it (the CRM plus the owner columns of the sheet),
    exported to ``out``; nothing is written anywhere else: not the sheet, the CRM or the state."""
    from .categorize import categorize
    from .config import load_config
    from .crm import open_crm
    from .layout import read_clients
    from .rules import load_rules
    from .sheets import open_sheet
    from .sync import _now, merge_owner_columns, sheet_columns
    from .table import build_table

    out = Path(out)
    if out.suffix.lower() != ".xlsx":
        raise InputError(f"{out}: the export is an Excel workbook; give a name ending in .xlsx.")
    if template is not None and Path(template).resolve() == out.resolve():
        raise InputError(f"{out} is the template itself; write the export to another file.")
    if not out.resolve().parent.is_dir():
        raise InputError(f"{out}: the folder {out.resolve().parent} does not exist.")
    config = load_config(config_path)
    rules = load_rules(config.rules_path)
    crm = open_crm(config.crm)
    try:
        raw = crm.fetch()
    finally:
        crm.close()
    table = build_table(raw, dict(config.fields), config.parsing, extra=rules.columns)
    columns = sheet_columns(config, rules, raw)
    tab = config.sheet.clients_tab
    grid = open_sheet(config.sheet).read([tab])[tab]
    merged = merge_owner_columns(table, read_clients(grid, columns))
    today = _now().date()
    outcome = categorize(merged, rules, today).frame
    ids = outcome["id"].fillna("").astype(str)
    outcome = outcome.loc[~ids.duplicated(keep="first") & ids.ne("")]  # as the sync shows them
    options = ExportOptions(template=template, pareto=pareto, headers=dict(config.sheet.headers))
    return export_table(outcome, rules, out, as_of=today, problems=table.problems, options=options)
