"""Vectorized evaluation of conditions over a DataFrame, and the reasons that explain them.

Numbers are pandas ``Float64`` and truth values ``boolean`` (both nullable), which gives the
SQL three-valued logic documented in :mod:`.expr` for free: a blank compared is unknown, and
``&``/``|``/``~`` follow Kleene's rules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.dtypes import StringDType

from ..i18n import localise_numbers
from .expr import (
    ARITH_OPS,
    And,
    Arith,
    Cmp,
    Col,
    Const,
    Func,
    In,
    Neg,
    Node,
    Not,
    Or,
    Param,
)
from .words import SYMBOL as _SYMBOL
from .words import Words, words_for

Value = pd.Series | float | str | bool

_CMP_FN = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


class Evaluator:
    """Evaluates nodes over ``frame``; results are cached per node for the reasons."""

    def __init__(self, frame: pd.DataFrame, expand: dict[str, Node] | None = None,
                 words: Words | None = None) -> None:
        self.frame = frame
        self.cache: dict[Node, Value] = {}  # nodes are frozen: equal nodes, equal values
        #: boolean metrics shown by their definition in reasons ("vip" -> ROI 120% ≥ 50% ...)
        self.expand = expand or {}
        #: labels, units and connectives of the reasons (the language in force)
        self.words = words or words_for(None)

    def __call__(self, node: Node) -> Value:
        if node not in self.cache:
            self.cache[node] = self._eval(node)
        return self.cache[node]

    def truth(self, node: Node) -> np.ndarray:
        """Where ``node`` is true (unknown counts as false), as a numpy bool array."""
        value = self(node)
        if isinstance(value, pd.Series):
            return value.to_numpy(dtype=bool, na_value=False)
        return np.full(len(self.frame), value is not pd.NA and bool(value))

    def _eval(self, node: Node) -> Value:
        match node:
            case Const(value=v) | Param(value=v):
                return v
            case Col(name=name):
                return self.frame[name]
            case Cmp(ops=ops, operands=operands):
                values = [self(o) for o in operands]
                result: Value | None = None
                for op, left, right in zip(ops, values, values[1:], strict=False):
                    part = _as_bool(_CMP_FN[op](left, right), self.frame.index)
                    result = part if result is None else result & part
                return result
            case In(operand=operand, options=options, negate=negate):
                value = self(operand)
                wanted = [o.value for o in options]
                if isinstance(value, pd.Series):
                    hit = value.isin(wanted).astype("boolean").mask(value.isna())
                else:
                    hit = value in wanted
                return ~hit if negate else hit
            case And(items=items):
                return _fold(lambda a, b: a & b, [self._bool(i) for i in items])
            case Or(items=items):
                return _fold(lambda a, b: a | b, [self._bool(i) for i in items])
            case Not(item=item):
                return ~self._bool(item)
            case Arith(op=op, left=left, right=right):
                a, b = self(left), self(right)
                if op in ARITH_OPS:
                    return ARITH_OPS[op](a, b)
                return _divide(a, b, self.frame.index)
            case Neg(item=item):
                return -self(item)
            case Func(name="isblank", args=(arg,)):
                value = self(arg)
                if isinstance(value, pd.Series):
                    blank = value.isna()
                    if pd.api.types.is_string_dtype(value.dtype):
                        blank = blank | (value.fillna("").str.strip() == "")
                    return blank.astype("boolean")
                return value is None
            case Func(name="abs", args=(arg,)):
                return abs(self(arg))
            case Func(name=("min" | "max") as name, args=(a, b)):
                return _minmax(name, self(a), self(b), self.frame.index)
        raise TypeError(f"cannot evaluate {node!r}")  # pragma: no cover

    def _bool(self, node: Node) -> pd.Series:
        return _as_bool(self(node), self.frame.index)


def _as_bool(value: Value, index: pd.Index) -> pd.Series:
    if isinstance(value, pd.Series):
        return value if value.dtype == "boolean" else value.astype("boolean")
    scalar = pd.NA if value is pd.NA else bool(value)  # a blank constant result stays unknown
    return pd.Series(pd.array([scalar] * len(index), dtype="boolean"), index=index)


def _fold(fn, values: list[pd.Series]) -> pd.Series:  # type: ignore[no-untyped-def]
    result = values[0]
    for v in values[1:]:
        result = fn(result, v)
    return result


def _series(value: Value, index: pd.Index) -> pd.Series:
    if isinstance(value, pd.Series):
        return value.astype("Float64")
    return pd.Series(pd.array([value] * len(index), dtype="Float64"), index=index)


def _divide(a: Value, b: Value, index: pd.Index) -> Value:
    if not isinstance(a, pd.Series) and not isinstance(b, pd.Series):
        if a is pd.NA or b is pd.NA or b == 0:
            return pd.NA  # blank, as for a column: division by zero gives a blank
        return a / b  # type: ignore[operator]
    a, b = _series(a, index), _series(b, index)
    return (a / b).mask(b == 0)


def _minmax(name: str, a: Value, b: Value, index: pd.Index) -> pd.Series:
    a, b = _series(a, index), _series(b, index)
    pick_a = (a <= b) if name == "min" else (a >= b)
    pick_a = pick_a.fillna(False) | b.isna()
    return a.where(pick_a, b)


# ----------------------------------------------------------------------------- reasons

def render(node: Node, ev: Evaluator, rows: np.ndarray, unit: str = "") -> np.ndarray:
    """Text of ``node`` with the row's values, for the rows at positions ``rows``, in the words
    of ``ev.words`` (labels, units, the language's numbers).

    ``roi_pct >= roi_a`` reads ``ROI 120% ≥ 50%``; of an ``or``, only the first branch that
    holds is shown; ``and`` lists every part. ``unit`` is the unit a constant is shown in (that
    of the column it is compared with).
    """
    w = ev.words
    match node:
        case Const(value=v) | Param(value=v):
            return _const_text(v, len(rows), w, unit)
        case Col(name=name) if name in ev.expand:
            return _wrap(ev.expand[name], Or, ev, rows)
        case Col(name=name):
            value = ev(node)
            label = w.label(name)
            if isinstance(value, pd.Series) and value.dtype == "boolean":
                truth = value.to_numpy(dtype=bool, na_value=False)[rows]
                return np.where(truth, label, w.not_ + label).astype(StringDType())
            return np.strings.add(label + " ", _values_text(value, rows, w, w.unit(name)))
        case Cmp(ops=ops, operands=operands):
            unit = next((w.unit(o.name) for o in operands if isinstance(o, Col) and w.unit(o.name)), "")
            out = render(operands[0], ev, rows, unit)
            for op, o in zip(ops, operands[1:], strict=True):
                out = _join(out, f" {_SYMBOL[op]} ", render(o, ev, rows, unit))
            return out
        case In(operand=operand, options=options, negate=negate):
            listed = ", ".join(w.number(o.value) if isinstance(o.value, float) else w.text_value(str(o.value))
                               for o in options)
            word = w.none_of if negate else w.one_of
            return np.strings.add(render(operand, ev, rows), word + "(" + listed + ")")
        case And(items=items):
            out = render(items[0], ev, rows)
            for item in items[1:]:
                out = _join(out, w.and_, _wrap(item, Or, ev, rows))
            return out
        case Or(items=items):
            # each row shows the first branch that holds; only that branch is rendered for it
            chosen = np.full(len(rows), -1)
            for i, item in enumerate(items):
                chosen[(chosen < 0) & ev.truth(item)[rows]] = i
            out = np.empty(len(rows), dtype=StringDType())
            for i, item in enumerate(items):
                where = np.flatnonzero(chosen == i)
                if len(where):
                    out[where] = render(item, ev, rows[where])
            none = np.flatnonzero(chosen < 0)  # inside a not: no branch holds, show them all
            if len(none):
                out[none] = _join_all([_wrap(item, And, ev, rows[none]) for item in items], w.or_)
            return out
        case Not(item=item):
            return np.strings.add(np.strings.add(w.not_ + "(", render(item, ev, rows)), ")")
        case Arith(op=op, left=left, right=right):
            return _join(_wrap(left, Arith, ev, rows), f" {_SYMBOL[op]} ",
                         _wrap(right, Arith, ev, rows))
        case Neg(item=item):
            return np.strings.add("−", _wrap(item, Arith, ev, rows))
        case Func(name="isblank", args=(arg,)):
            value = ev(node)
            truth = value.to_numpy(dtype=bool, na_value=False)[rows] \
                if isinstance(value, pd.Series) else np.full(len(rows), bool(value))
            name = w.label(arg.name) if isinstance(arg, Col) else "value"
            return np.where(truth, name + w.is_blank, name + w.not_blank).astype(StringDType())
        case Func(name=name, args=args):
            parts = [render(a, ev, rows) for a in args]
            out = np.strings.add(name + "(", parts[0])
            for p in parts[1:]:
                out = _join(out, ", ", p)
            return np.strings.add(out, ")")
    raise TypeError(f"cannot render {node!r}")  # pragma: no cover


def _wrap(node: Node, kind: type, ev: Evaluator, rows: np.ndarray) -> np.ndarray:
    text = render(node, ev, rows)
    if isinstance(node, kind) and not isinstance(node, Or):  # of an or, one branch is shown
        return np.strings.add(np.strings.add("(", text), ")")
    return text


def _join_all(parts: list[np.ndarray], sep: str) -> np.ndarray:
    out = parts[0]
    for part in parts[1:]:
        out = _join(out, sep, part)
    return out


def _join(a: np.ndarray, sep: str, b: np.ndarray) -> np.ndarray:
    return np.strings.add(np.strings.add(a, sep), b)


def _const_text(value: object, n: int, w: Words, unit: str = "") -> np.ndarray:
    if isinstance(value, bool):
        text = w.yes if value else w.no
    elif isinstance(value, float | int):
        text = w.number(float(value), unit)
    else:
        text = w.text_value(str(value))
    return np.full(n, text, dtype=StringDType())


def _values_text(value: Value, rows: np.ndarray, w: Words, unit: str = "") -> np.ndarray:
    if not isinstance(value, pd.Series):
        return _const_text(value, len(rows), w, unit)
    sub = value.iloc[rows]
    if pd.api.types.is_numeric_dtype(sub.dtype) and not pd.api.types.is_bool_dtype(sub.dtype):
        numbers = sub.to_numpy(dtype="float64", na_value=np.nan)
        if unit == "share":
            numbers = numbers * 100
        text = localise_numbers(numbers_text(numbers, w.blank))
        suffix = w.suffix(unit)
        if suffix:
            text = np.where(np.isnan(numbers), text, np.strings.add(text, suffix)).astype(StringDType())
        return text
    if pd.api.types.is_datetime64_any_dtype(sub.dtype):
        text = sub.dt.strftime("%d.%m.%Y" if w.lang == "ru" else "%Y-%m-%d").fillna(w.blank)
        return text.to_numpy(dtype=object).astype(StringDType())
    if value.name == "stage":
        sub = sub.map(w.text_value, na_action="ignore")
    return sub.astype(object).where(sub.notna(), w.blank).astype(str).to_numpy().astype(
        StringDType())


def numbers_text(values: np.ndarray, blank_text: str = "blank") -> np.ndarray:
    """Vectorized :func:`format_number`: whole numbers without ``.0``, else two decimals at
    most without trailing zeros, ``blank`` for NaN."""
    rounded = np.round(values, 2)
    blank = np.isnan(rounded)
    safe = np.where(blank, 0.0, rounded)
    whole = safe == np.trunc(safe)
    out = np.empty(len(values), dtype=StringDType())
    if whole.any():
        out[whole] = safe[whole].astype(np.int64).astype(StringDType())
    frac = ~whole
    if frac.any():
        out[frac] = safe[frac].astype(StringDType())
    out[blank] = blank_text
    return out
