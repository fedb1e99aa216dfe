"""Live formulas in the sheet (``[sheet] live_formulas = true``).

The rules compiled to spreadsheet formulas (:mod:`sheets_sync.rules.formula`) go into their
own columns at the end of the Clients tab (``live_profit`` ... ``live_category``), written as
formulas (USER_ENTERED in Google Sheets), so the category recomputes the moment an owner edits
a number; a manual category still wins. The thresholds and the day the metrics count to
(``as_of``, the day of the last sync) are named cells on the Legend tab, so an owner can try a
threshold there too. The sync writes the formulas into new rows, and into every row when the
columns are new or the rules changed; it never compares or overwrites their values otherwise.

The Pareto share is live too: a SUMPRODUCT over rows 2..N of its column, N with room to grow
(when the table outgrows it, every row's formulas are written again); it costs O(n²) per
recalculation: fine for thousands of clients, slow beyond tens of thousands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from openpyxl.utils import get_column_letter

from .errors import ConfigError, RulesError
from .rules.expr import Type
from .rules.formula import AS_OF_NAME, ROW, Pareto, SheetRefs, compile_rules, defined_names, formula_columns
from .rules.loader import RuleSet
from .sheets.base import ColumnSpec

PREFIX = "live_"
#: the Legend row of the day the metrics count to (the date is in the cell right of it)
AS_OF_LABEL = "as_of (the metrics count to this day)"
_KINDS = {Type.NUMBER: "number", Type.TEXT: "text", Type.BOOL: "bool", Type.DATE: "date"}


def header_of(name: str) -> str:
    return name if name.startswith(PREFIX) else PREFIX + name


def live_columns(rules: RuleSet) -> list[ColumnSpec]:
    """The formula columns, in dependency order, for the layout."""
    specs = []
    for name in formula_columns(rules, Pareto.LIVE):
        kind = rules.names.get(name, Type.NUMBER)
        if name in ("qualified",):
            kind = Type.BOOL
        elif name == "stage":
            kind = Type.TEXT
        specs.append(ColumnSpec(header_of(name), header_of(name), "formula", _KINDS.get(kind, "number"),
                                "A live formula from rules.py: it recomputes when you edit a number. "
                                "Overwritten when the rules change."))
    return specs


@dataclass
class LiveFormulas:
    templates: dict[int, str]  # 0-based column -> formula with ROW for the 1-based row
    names: dict[str, tuple[int, int]]  # defined name -> (row, col) on the Legend, 0-based
    legend_rows: list[list[Any]]

    def formula(self, col: int, row: int) -> str:
        return "=" + self.templates[col].replace(ROW, str(row))


def pareto_bound(rows: int) -> int:
    """The last sheet row the Pareto share sums over: room to grow, so that new clients do not
    make every formula change (a power of two, at least twice the rows there are)."""
    bound = 1024
    while bound < 2 * (rows + 1):
        bound *= 2
    return bound


def compile_live(rules: RuleSet, positions: dict[str, int], legend_start: int, as_of: date,
                 last_row: int) -> LiveFormulas:
    """Formulas for the Clients tab whose columns sit at ``positions`` (name -> 0-based column),
    summing the Pareto share over rows 2..``last_row``; the Legend gets the named cells from row
    ``legend_start`` (0-based) on."""
    def letter(col: int) -> str:
        return get_column_letter(col + 1)

    # the value columns first; a formula column then takes its plain name (live_profit -> profit)
    letters = {name: letter(col) for name, col in positions.items() if not name.startswith(PREFIX)}
    for name, col in positions.items():
        if name.startswith(PREFIX):
            letters["live_category" if name == "live_category" else name[len(PREFIX):]] = letter(col)
    names = defined_names(rules)
    try:
        compiled = compile_rules(rules, SheetRefs(letters, 2, last_row, names), Pareto.LIVE)
    except RulesError as exc:
        raise ConfigError(f"[sheet] live_formulas: {exc.detail}. Map the missing columns in [fields], "
                          "or turn live_formulas off.") from None
    templates = {}
    for column in compiled.columns:
        template = column.template
        key = "live_category" if column.name == "live_category" else header_of(column.name)
        templates[positions[key]] = template
    rows: list[list[Any]] = [[], ["threshold", "value", "named cell"]]
    cells: dict[str, tuple[int, int]] = {}
    for threshold, value in rules.thresholds.items():
        cells[names[threshold]] = (legend_start + len(rows), 1)
        rows.append([threshold, value, names[threshold]])
    cells[names[AS_OF_NAME]] = (legend_start + len(rows), 1)
    rows.append([AS_OF_LABEL, as_of, names[AS_OF_NAME]])
    return LiveFormulas(templates, cells, rows)


def enabled(options: dict[str, Any] | Any) -> bool:
    value = options.get("live_formulas", False)
    if not isinstance(value, bool):
        raise ConfigError("[sheet] live_formulas must be true or false")
    return value
