"""Vectorized evaluation of conditions over a DataFrame, and the reasons that explain them.

Numbers are pandas ``Float64`` and truth values ``boolean`` (both nullable), which gives the
SQL three-valued logic documented in :mod:`.expr` for free: a blank compared is unknown, and
``&``/``|``/``~`` follow Kleene's rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.dtypes import StringDType

from ..i18n import NBSP, localise_number
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
                    hit = _isin(value, wanted)
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
                    return pd.Series(pd.array(blank_values(value), dtype="boolean"), index=value.index)
                return value is None
            case Func(name="abs", args=(arg,)):
                return abs(self(arg))
            case Func(name=("min" | "max") as name, args=(a, b)):
                return _minmax(name, self(a), self(b), self.frame.index)
        raise TypeError(f"cannot evaluate {node!r}")  # pragma: no cover

    def _bool(self, node: Node) -> pd.Series:
        return _as_bool(self(node), self.frame.index)


def _isin(value: pd.Series, wanted: list) -> pd.Series:
    """``value in wanted`` per row, unknown where blank; a text column is looked up by its
    distinct values (pandas' isin of python strings is slow)."""
    if pd.api.types.is_string_dtype(value.dtype) or value.dtype == object:
        codes, uniques = pd.factorize(value, use_na_sentinel=True)
        found = np.array([u in wanted for u in uniques] + [False], dtype=bool)[codes]
        hit = pd.array(found, dtype="boolean")
        hit[codes < 0] = pd.NA
        return pd.Series(hit, index=value.index)
    return value.isin(wanted).astype("boolean").mask(value.isna())


def blank_values(values: pd.Series) -> np.ndarray:
    """Where ``values`` are blank: missing, or (texts) only spaces; only the present texts are
    stripped."""
    blank = values.isna().to_numpy(dtype=bool, copy=True)
    if pd.api.types.is_string_dtype(values.dtype) and not blank.all():
        present = np.flatnonzero(~blank)
        blank[present] = values.iloc[present].str.strip().eq("").to_numpy(dtype=bool)
    return blank


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

    The text is built as a list of pieces (:func:`pieces`): the words and constants are one
    text for all rows, only the values are arrays, and they are joined once at the end.
    """
    return concat(pieces(node, ev, rows, unit), len(rows))


@dataclass(frozen=True)
class Coded:
    """Texts of rows told once per distinct value: row ``i`` reads ``texts[codes[i]]``."""

    codes: np.ndarray
    texts: np.ndarray

    def spread(self) -> np.ndarray:
        return self.texts[self.codes]


Piece = str | np.ndarray | Coded


def _merge(parts: list[Piece]) -> list[Piece]:
    merged: list[Piece] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


def concat(parts: list[Piece], n: int) -> np.ndarray:
    """Join ``parts`` (texts shared by every row, and arrays of one text per row) row by row."""
    merged = [p.spread() if isinstance(p, Coded) else p for p in _merge(parts)]
    if not merged:
        return np.full(n, "", dtype=StringDType())
    if len(merged) == 1:
        only = merged[0]
        return np.full(n, only, dtype=StringDType()) if isinstance(only, str) else only
    out = np.strings.add(merged[0], merged[1])  # a text and an array: no array of copies made
    for part in merged[2:]:
        out = np.strings.add(out, part)
    return out


def concat_objects(parts: list[Piece], n: int) -> np.ndarray:
    """:func:`concat` as python strings (an object array), each distinct text built once: when
    every value is told by code, the rows are keyed by the combination of their codes, the
    text of each distinct key is joined once and spread to its rows."""
    merged = _merge(parts)
    if any(isinstance(p, np.ndarray) for p in merged):
        return concat(merged, n).astype(object)
    key: np.ndarray | None = None
    for part in merged:
        if isinstance(part, Coded):
            key = part.codes if key is None else \
                pd.factorize(key.astype(np.int64) * len(part.texts) + part.codes)[0]
    if key is None:
        out = np.empty(n, dtype=object)
        out[:] = "".join(merged)  # type: ignore[arg-type]
        return out
    if len(merged) == 1 and key is merged[0].codes:  # type: ignore[union-attr]
        return merged[0].texts.astype(object)[key]  # type: ignore[union-attr]
    count = int(key.max()) + 1 if len(key) else 0
    rep = np.empty(count, dtype=np.int64)
    rep[key] = np.arange(len(key))  # a row of each key (any: they read the same)
    once = [p if isinstance(p, str) else Coded(p.codes[rep], p.texts) for p in merged]
    return concat(once, count).astype(object)[key]


def pieces(node: Node, ev: Evaluator, rows: np.ndarray, unit: str = "") -> list[Piece]:
    """:func:`render` as pieces: texts the same for every row, and arrays of one per row."""
    w = ev.words
    match node:
        case Const(value=v) | Param(value=v):
            return [_const_text(v, w, unit)]
        case Col(name=name) if name in ev.expand:
            return _wrap(ev.expand[name], Or, ev, rows)
        case Col(name=name):
            value = ev(node)
            label = w.label(name)
            if isinstance(value, pd.Series) and value.dtype == "boolean":
                truth = value.to_numpy(dtype=bool, na_value=False)[rows]
                return [_choose(truth, label, w.not_ + label)]
            return [label + " ", _values_text(value, rows, w, w.unit(name))]
        case Cmp(ops=ops, operands=operands):
            unit = next((w.unit(o.name) for o in operands if isinstance(o, Col) and w.unit(o.name)), "")
            out = pieces(operands[0], ev, rows, unit)
            for op, o in zip(ops, operands[1:], strict=True):
                out += [f" {_SYMBOL[op]} ", *pieces(o, ev, rows, unit)]
            return out
        case In(operand=operand, options=options, negate=negate):
            listed = ", ".join(w.number(o.value) if isinstance(o.value, float) else w.text_value(str(o.value))
                               for o in options)
            word = w.none_of if negate else w.one_of
            return [*pieces(operand, ev, rows), word + "(" + listed + ")"]
        case And(items=items):
            out = pieces(items[0], ev, rows)
            for item in items[1:]:
                out += [w.and_, *_wrap(item, Or, ev, rows)]
            return out
        case Or(items=items):
            # each row shows the first branch that holds; only that branch is rendered for it
            chosen = np.full(len(rows), -1)
            for i, item in enumerate(items):
                chosen[(chosen < 0) & ev.truth(item)[rows]] = i
            if len(rows) and (chosen == chosen[0]).all():  # one branch for all: stays in pieces
                if chosen[0] >= 0:
                    return pieces(items[chosen[0]], ev, rows)
                return _join_all([_wrap(item, And, ev, rows) for item in items], w.or_)
            out = np.empty(len(rows), dtype=StringDType())
            for i, item in enumerate(items):
                where = np.flatnonzero(chosen == i)
                if len(where):
                    out[where] = concat(pieces(item, ev, rows[where]), len(where))
            none = np.flatnonzero(chosen < 0)  # inside a not: no branch holds, show them all
            if len(none):
                out[none] = concat(_join_all([_wrap(item, And, ev, rows[none]) for item in items], w.or_),
                                   len(none))
            return [out]
        case Not(item=item):
            return [w.not_ + "(", *pieces(item, ev, rows), ")"]
        case Arith(op=op, left=left, right=right):
            return [*_wrap(left, Arith, ev, rows), f" {_SYMBOL[op]} ", *_wrap(right, Arith, ev, rows)]
        case Neg(item=item):
            return ["−", *_wrap(item, Arith, ev, rows)]
        case Func(name="isblank", args=(arg,)):
            value = ev(node)
            truth = value.to_numpy(dtype=bool, na_value=False)[rows] \
                if isinstance(value, pd.Series) else np.full(len(rows), bool(value))
            name = w.label(arg.name) if isinstance(arg, Col) else "value"
            return [_choose(truth, name + w.is_blank, name + w.not_blank)]
        case Func(name=name, args=args):
            out = [name + "(", *pieces(args[0], ev, rows)]
            for a in args[1:]:
                out += [", ", *pieces(a, ev, rows)]
            return [*out, ")"]
    raise TypeError(f"cannot render {node!r}")  # pragma: no cover


def _choose(truth: np.ndarray, yes: str, no: str) -> Piece:
    if truth.all():
        return yes
    if not truth.any():
        return no
    return Coded(truth.astype(np.int64), np.array([no, yes], dtype=StringDType()))


def _wrap(node: Node, kind: type, ev: Evaluator, rows: np.ndarray) -> list[Piece]:
    text = pieces(node, ev, rows)
    if isinstance(node, kind) and not isinstance(node, Or):  # of an or, one branch is shown
        return ["(", *text, ")"]
    return text


def _join_all(parts: list[list[Piece]], sep: str) -> list[Piece]:
    out = list(parts[0])
    for part in parts[1:]:
        out += [sep, *part]
    return out


def _const_text(value: object, w: Words, unit: str = "") -> str:
    if isinstance(value, bool):
        return w.yes if value else w.no
    if isinstance(value, float | int):
        return w.number(float(value), unit)
    return w.text_value(str(value))


def _values_text(value: Value, rows: np.ndarray, w: Words, unit: str = "") -> Piece:
    if not isinstance(value, pd.Series):
        return _const_text(value, w, unit)
    sub = value.iloc[rows]
    if pd.api.types.is_numeric_dtype(sub.dtype) and not pd.api.types.is_bool_dtype(sub.dtype):
        numbers = sub.to_numpy(dtype="float64", na_value=np.nan)
        if unit == "share":
            numbers = numbers * 100
        return _numbers_coded(numbers, w, w.suffix(unit))
    # texts, stages and dates: few distinct values; each is told once, then spread
    codes, uniques = pd.factorize(sub, use_na_sentinel=True)
    if pd.api.types.is_datetime64_any_dtype(sub.dtype):
        told = pd.Series(uniques).dt.strftime("%d.%m.%Y" if w.lang == "ru" else "%Y-%m-%d")
        shown = [str(t) for t in told]
    elif value.name == "stage":
        shown = [w.text_value(u) for u in uniques]
    else:
        shown = [str(u) for u in uniques]
    table = np.array([*shown, w.blank], dtype=StringDType())  # code -1 (blank) takes the last
    return Coded(np.where(codes < 0, len(shown), codes), table)


def _numbers_coded(numbers: np.ndarray, w: Words, suffix: str) -> Piece:
    """Numbers as told, each distinct shown value (whole cents) told once."""
    rounded = np.round(numbers, 2)
    if np.nanmax(np.abs(rounded), initial=0.0) >= _FAST_LIMIT:
        return numbers_shown(numbers, w, suffix)
    cents = np.rint(rounded * 100)
    cents = np.where(np.isnan(cents), np.iinfo(np.int64).min, cents).astype(np.int64)
    cents[cents == 0] = 0  # −0 reads 0
    codes, uniques = pd.factorize(cents)
    shown = np.where(uniques == np.iinfo(np.int64).min, np.nan, uniques / 100)
    return Coded(codes, numbers_shown(shown, w, suffix))


#: the decimals of a number of cents, as shown: "", ".5", ".05", ... (index: cents % 100)
_DECIMALS = ["" if c == 0 else f".{c:02d}".rstrip("0") for c in range(100)]
#: below this (in absolute value) numbers are told by integer arithmetic, exactly as before
_FAST_LIMIT = 1e13


def numbers_shown(numbers: np.ndarray, w: Words, suffix: str = "") -> np.ndarray:
    """Numbers as :meth:`Words.number` tells them (two decimals at most, no trailing zeros, the
    language's decimal mark, minus and thousands groups, ``suffix`` after each), ``w.blank``
    for NaN; vectorized on whole cents, which is much cheaper than formatting floats."""
    rounded = np.round(numbers, 2)
    blank = np.isnan(rounded)
    safe = np.where(blank, 0.0, rounded)
    slow = np.flatnonzero(np.abs(safe) >= _FAST_LIMIT)  # rare: told one by one, as before
    if len(slow):
        safe[slow] = 0.0
    cents = np.rint(np.abs(safe) * 100).astype(np.int64)
    whole, decimals = np.divmod(cents, 100)
    ru = w.lang == "ru"
    text = _grouped(whole) if ru else whole.astype(StringDType())
    tails = np.array([(d.replace(".", ",") if ru else d) + suffix for d in _DECIMALS], dtype=StringDType())
    if decimals.any():
        text = np.strings.add(text, tails[decimals])
    elif suffix:
        text = np.strings.add(text, suffix)
    negative = (safe < 0) & (cents > 0)
    if negative.any():
        text[negative] = np.strings.add("−" if ru else "-", text[negative])
    if blank.any():
        text[blank] = w.blank
    for i in slow:
        text[i] = localise_number(str(numbers_text(numbers[i:i + 1])[0])) + suffix
    return text


def _grouped(whole: np.ndarray) -> np.ndarray:
    """Whole numbers (not negative) with the Russian thousands groups (a no-break space) from
    five digits on, as :func:`localise_number` writes them: ``9999``, ``10 000``."""
    text = whole.astype(StringDType())
    big = np.flatnonzero(whole >= 10_000)
    if not len(big):
        return text
    rest = whole[big]
    out = np.strings.zfill((rest % 1000).astype(StringDType()), 3)
    rest = rest // 1000
    while (rest > 0).any():
        more = rest > 0
        middle = rest[more] >= 1000
        group = (rest[more] % 1000).astype(StringDType())
        group = np.where(middle, np.strings.zfill(group, 3), group).astype(StringDType())
        out[more] = np.strings.add(np.strings.add(group, NBSP), out[more])
        rest = rest // 1000
    text[big] = out
    return text


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
