"""The reasons as they were rendered before issue 15 made them cheap: every client's reason
built in full, column by column. Kept as the oracle that the faster rendering must equal,
text for text (tests/test_reasons_cheap.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.dtypes import StringDType

from sheets_sync.categorize import UNQUALIFIED
from sheets_sync.i18n import _
from sheets_sync.rules.evaluate import Evaluator, Value
from sheets_sync.rules.expr import And, Arith, Cmp, Col, Const, Func, In, Neg, Node, Not, Or, Param
from sheets_sync.rules.loader import RuleSet
from sheets_sync.rules.words import SYMBOL as _SYMBOL
from sheets_sync.rules.words import Words


def localise_numbers(texts: np.ndarray) -> np.ndarray:
    from sheets_sync.i18n import language, localise_number
    if language() != "ru" or not len(texts):
        return texts
    out = np.strings.replace(texts, ".", ",")
    dot = np.strings.find(texts, ".")
    whole = np.where(dot >= 0, dot, np.strings.str_len(texts))
    # the one deliberate change: a short negative number ("-290.6") had kept its hyphen while a
    # long one got the minus sign ("−96 454,01"), as localise_number writes every number
    for i in np.flatnonzero((whole > 4) | np.strings.startswith(texts, "-")):
        out[i] = localise_number(str(texts[i]))
    return out


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


def reasons(ev: Evaluator, rules: RuleSet, matched: np.ndarray, manual: pd.Series,
             problem_text: pd.Series) -> pd.Series:
    n = len(matched)
    reasons = np.full(n, "", dtype=StringDType())
    for i, cat in enumerate(rules.categories):
        rows = np.flatnonzero(matched == i)
        if not len(rows):
            continue
        if cat.node == Const(True):  # the fall-through category says so
            reasons[rows] = f"{cat.code}: {ev.words.rest}"
        else:
            reasons[rows] = np.strings.add(f"{cat.code}: ", render(cat.node, ev, rows))
    unq = np.flatnonzero(matched < 0)
    if len(unq):
        texts = problem_text.to_numpy(dtype=object)[unq].astype(str).astype(StringDType())
        reasons[unq] = np.strings.add(f"{UNQUALIFIED}: ", texts)
    out = pd.Series(reasons.astype(object), index=ev.frame.index)
    has_manual = manual.notna()
    if has_manual.any():
        rules_said = out[has_manual]
        head, tail = _("manual {code} set by the owner (rules: {reason})"
                       ).split("{code}")
        middle, end = tail.split("{reason}")
        out[has_manual] = head + manual[has_manual].astype(object) + middle + rules_said + end
    return out.astype("string")
