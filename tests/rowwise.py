"""A plain row-by-row evaluator of the same tree: the naive way, kept as a reference.

The benchmark compares the vectorized evaluator against it, and property tests check that
both agree on generated tables. ``None`` stands for blank and for "unknown".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sheets_sync.rules.expr import ARITH_OPS, And, Arith, Cmp, Col, Const, Func, In, Neg, Node, Not, Or, Param

_OPS = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def evaluate_row(node: Node, row: Mapping[str, Any]) -> Any:
    """Value of ``node`` for one row (a mapping of column -> value, ``None`` for blank)."""
    match node:
        case Const(value=v) | Param(value=v):
            return v
        case Col(name=name):
            return _blank_to_none(row.get(name))
        case Cmp(ops=ops, operands=operands):
            values = [evaluate_row(o, row) for o in operands]
            result: bool | None = True
            for op, a, b in zip(ops, values, values[1:], strict=False):
                part = None if a is None or b is None else _OPS[op](a, b)
                result = _and(result, part)
            return result
        case In(operand=operand, options=options, negate=negate):
            value = evaluate_row(operand, row)
            if value is None:
                return None
            hit = value in [o.value for o in options]
            return not hit if negate else hit
        case And(items=items):
            result = True
            for item in items:
                result = _and(result, evaluate_row(item, row))
            return result
        case Or(items=items):
            result = False
            for item in items:
                result = _or(result, evaluate_row(item, row))
            return result
        case Not(item=item):
            value = evaluate_row(item, row)
            return None if value is None else not value
        case Arith(op=op, left=left, right=right):
            a, b = evaluate_row(left, row), evaluate_row(right, row)
            if a is None or b is None:
                return None
            if op == "/":
                return None if b == 0 else a / b
            return ARITH_OPS[op](a, b)
        case Neg(item=item):
            value = evaluate_row(item, row)
            return None if value is None else -value
        case Func(name="isblank", args=(arg,)):
            value = evaluate_row(arg, row)
            return value is None or (isinstance(value, str) and not value.strip())
        case Func(name="abs", args=(arg,)):
            value = evaluate_row(arg, row)
            return None if value is None else abs(value)
        case Func(name=name, args=(a, b)):
            x, y = evaluate_row(a, row), evaluate_row(b, row)
            if x is None or y is None:
                return y if x is None else x
            return min(x, y) if name == "min" else max(x, y)
    raise TypeError(f"cannot evaluate {node!r}")  # pragma: no cover


def _blank_to_none(value: Any) -> Any:
    if value is None:
        return None
    try:
        if value != value:  # NaN, NA
            return None
    except TypeError:  # pd.NA refuses to be a bool
        return None
    return value


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False
