"""Conditional formats applied to ``effectiveFormat``: the first boolean rule of the sheet whose
ranges hold the cell and whose condition is true gives its format (merged over the cell's own).

Conditions evaluated: NUMBER_* (greater, less, equal, between...), TEXT_EQ / TEXT_NOT_EQ /
TEXT_CONTAINS / TEXT_NOT_CONTAINS / TEXT_STARTS_WITH / TEXT_ENDS_WITH (ignoring case, as
Sheets does), BLANK, NOT_BLANK, ONE_OF_LIST and CUSTOM_FORMULA (relative references move with
the cell, from the top-left of the rule's first range). A condition value that starts with
``=`` is a formula. Other condition types and gradient rules never apply.
"""

from __future__ import annotations

from typing import Any

from . import formulas
from .formulas import Err, compare, to_number, to_text
from .state import Sheet

_NUMBER = {
    "NUMBER_GREATER": lambda o: o > 0, "NUMBER_GREATER_THAN_EQ": lambda o: o >= 0,
    "NUMBER_LESS": lambda o: o < 0, "NUMBER_LESS_THAN_EQ": lambda o: o <= 0,
    "NUMBER_EQ": lambda o: o == 0, "NUMBER_NOT_EQ": lambda o: o != 0,
}
_TEXT = {
    "TEXT_EQ": lambda v, x: v == x, "TEXT_NOT_EQ": lambda v, x: v != x,
    "TEXT_CONTAINS": lambda v, x: x in v, "TEXT_NOT_CONTAINS": lambda v, x: x not in v,
    "TEXT_STARTS_WITH": lambda v, x: v.startswith(x), "TEXT_ENDS_WITH": lambda v, x: v.endswith(x),
}


def _inside(rng: dict[str, Any], sheet: Sheet, r: int, c: int) -> bool:
    return (rng.get("sheetId", 0) == sheet.id
            and rng.get("startRowIndex", 0) <= r < rng.get("endRowIndex", sheet.row_count)
            and rng.get("startColumnIndex", 0) <= c < rng.get("endColumnIndex", sheet.col_count))


def _operand(raw: Any, sheet: Sheet, r: int, c: int, origin: tuple[int, int]) -> Any:
    text = str(raw if raw is not None else "")
    if text.startswith("="):
        return formulas.run(formulas.shift(text, r - origin[0], c - origin[1]), sheet, r, c)
    return text


def holds(condition: dict[str, Any], sheet: Sheet, r: int, c: int, origin: tuple[int, int]) -> bool:
    """Whether a BooleanCondition holds for cell (r, c)."""
    kind = condition.get("type")
    raw = [v.get("userEnteredValue") for v in condition.get("values") or []]
    value = formulas.cell_value(sheet, r, c)
    if kind == "CUSTOM_FORMULA":
        result = formulas.to_bool(_operand(raw[0] if raw else "", sheet, r, c, origin))
        return result is True
    if isinstance(value, Err):
        return False
    if kind == "BLANK":
        return value is None or value == ""
    if kind == "NOT_BLANK":
        return not (value is None or value == "")
    operands = [_operand(x, sheet, r, c, origin) for x in raw]
    if kind in _NUMBER or kind in ("NUMBER_BETWEEN", "NUMBER_NOT_BETWEEN"):
        if not isinstance(value, float) or not operands:
            return False
        numbers = [to_number(x) for x in operands]
        if any(isinstance(n, Err) for n in numbers):
            return False
        if kind in _NUMBER:
            order = compare(value, numbers[0])
            return not isinstance(order, Err) and _NUMBER[kind](order)
        low, high = sorted(numbers[:2]) if len(numbers) > 1 else (numbers[0], numbers[0])
        inside = low <= value <= high
        return inside if kind == "NUMBER_BETWEEN" else not inside
    if kind in _TEXT and operands:
        text, wanted = to_text(value), to_text(operands[0])
        if isinstance(text, Err) or isinstance(wanted, Err):
            return False
        return _TEXT[kind](text.lower(), wanted.lower())
    if kind == "ONE_OF_LIST":
        text = to_text(value)
        return not isinstance(text, Err) and any(
            not isinstance(t := to_text(x), Err) and t.lower() == text.lower() for x in operands)
    return False


def conditional_format(sheet: Sheet, r: int, c: int) -> dict[str, Any] | None:
    """The format the sheet's conditional formats give cell (r, c), if any."""
    for rule in sheet.conditional_formats:
        boolean = rule.get("booleanRule")
        ranges = rule.get("ranges") or []
        if not boolean or not any(_inside(rng, sheet, r, c) for rng in ranges):
            continue
        first = ranges[0]
        origin = (first.get("startRowIndex", 0), first.get("startColumnIndex", 0))
        if holds(boolean.get("condition") or {}, sheet, r, c, origin):
            return boolean.get("format") or {}
    return None
