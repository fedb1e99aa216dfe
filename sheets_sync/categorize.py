"""Assign every client a category: derived metrics, stage, rules (first match), manual override.

:func:`categorize` is the one entry point; it takes the parsed client table and a rule set
and returns the table with the computed columns added:

``profit roi_pct margin_pct profit_share_cum tenure_months recency_days stage`` and the
rule file's own metrics, then ``rule_category`` (what the rules say), ``category`` (the
owner's valid manual category, else the rule category), ``reason``, ``problems`` and
``qualified``. A client with a value that could not be read, or with a required value
missing, is ``unqualified``: it is never quietly put into a category.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from .i18n import _
from .metrics import add_metrics
from .rules.evaluate import Evaluator, blank_values, concat_objects, pieces
from .rules.expr import Const, Type
from .rules.loader import RuleSet
from .rules.words import words_for
from .table import ClientTable, Problem, blank_column

UNQUALIFIED = "unqualified"


@dataclass(frozen=True)
class Outcome:
    """The categorized table."""

    frame: pd.DataFrame


def categorize(table: ClientTable, rules: RuleSet, as_of: date, *,
               with_reasons: bool = True) -> Outcome:
    """Categorize every client of ``table`` by ``rules`` as of the day ``as_of``."""
    frame = table.frame
    missing = [c for c in rules.columns if c not in frame.columns]
    if missing:  # a column the rules declare (or a deals' metric they use) the table lacks: blank
        frame = frame.assign(**{c: blank_column(rules.columns[c], frame.index) for c in missing})
    problems = {k: list(v) for k, v in table.problems.items()}
    for label, problem in future_dates(frame, as_of):
        problems.setdefault(label, []).append(problem)
    n = len(frame)
    readable = np.ones(n, dtype=bool)
    blocked = [label for label, items in problems.items() if any(p.blocking for p in items)]
    if blocked:
        readable[frame.index.get_indexer(blocked)] = False
    for column in rules.required:
        blank = blank_values(frame[column])
        for label in frame.index[blank & readable]:
            problems.setdefault(label, []).append(Problem(column, None, "empty (required)"))
        readable &= ~blank
    qualified = pd.Series(readable, index=frame.index)
    out = add_metrics(frame, as_of, counted=qualified)
    ev = Evaluator(out)
    out["stage"] = _first_match(ev, rules.stages, n, default="")
    for metric in rules.metrics:
        value = ev(metric.node)
        out[metric.name] = value if isinstance(value, pd.Series) else \
            pd.Series([value] * n, index=out.index)
    ev = Evaluator(out, {m.name: m.node for m in rules.metrics if m.type is Type.BOOL}, words_for(rules))
    matched = np.full(n, -1)
    for i, cat in enumerate(rules.categories):
        free = (matched < 0) & readable
        if not free.any():
            break
        matched[free & ev.truth(cat.node)] = i
    codes = np.array([c.code for c in rules.categories] + [UNQUALIFIED], dtype=object)
    rule_category = codes[np.where(matched >= 0, matched, len(rules.categories))]
    for label in frame.index[(matched < 0) & readable]:
        problems.setdefault(label, []).append(
            Problem("category", None, "no rule matched (add a catch-all category last, "
                                      "with when = 'true')"))
    manual, manual_problems = _manual(frame["manual_category"], rules.codes)
    for label, problem in manual_problems.items():
        problems.setdefault(label, []).append(problem)
    final = np.where(manual.notna().to_numpy(), manual.to_numpy(dtype=object), rule_category)
    out["rule_category"] = pd.array(rule_category, dtype="string")
    out["category"] = pd.array(final, dtype="string")
    out["qualified"] = qualified.to_numpy()
    problem_text = pd.Series("", index=out.index, dtype=object)
    for label, items in problems.items():
        problem_text.at[label] = "; ".join(str(p) for p in items)
    out["problems"] = problem_text.astype("string")
    if with_reasons:
        out["reason"] = _reasons(ev, rules, matched, manual, problem_text)
    return Outcome(out)


def future_dates(frame: pd.DataFrame, as_of: date) -> list[tuple[object, Problem]]:
    """Order dates after the day of the sync: a typo (or a wrong date order), never a fact."""
    out: list[tuple[object, Problem]] = []
    limit = pd.Timestamp(as_of)
    for column in ("first_order", "last_order"):
        if column not in frame.columns:
            continue
        values = pd.to_datetime(frame[column], errors="coerce")
        for label in frame.index[(values > limit).fillna(False).to_numpy(dtype=bool)]:
            out.append((label, Problem(column, values.at[label].date().isoformat(),
                                       f"is after the day of the sync ({as_of.isoformat()}); "
                                       "an order cannot be in the future")))
    return out


def _first_match(ev: Evaluator, classes: list, n: int, default: str) -> pd.Series:
    result = np.full(n, default, dtype=object)
    free = np.ones(n, dtype=bool)
    for item in classes:
        hit = free & ev.truth(item.node)
        result[hit] = item.code
        free &= ~hit
    return pd.Series(pd.array(result, dtype="string"), index=ev.frame.index)


#: Cyrillic letters that look like Latin ones: a code typed on a Russian keyboard layout
LOOKALIKES = str.maketrans("АВСЕНКМОРТХ", "ABCEHKMOPTX")


def manual_code(raw: object, codes: list[str]) -> str | None:
    """The category code an owner meant by ``raw``: trimmed, case-folded, Cyrillic look-alikes
    (А В С Е Н К М О Р Т Х, in either case) read as their Latin twins; ``None`` when it is
    no code."""
    text = str(raw).strip().upper().translate(LOOKALIKES).casefold()
    return {c.casefold(): c for c in codes}.get(text)


def _manual(values: pd.Series, codes: list[str]) -> tuple[pd.Series, dict[int, Problem]]:
    """Valid manual categories (see :func:`manual_code`), and a problem for each invalid."""
    result = pd.Series(pd.array([None] * len(values), dtype="string"), index=values.index)
    problems: dict[int, Problem] = {}
    present = values.dropna()
    present = present[present.str.strip() != ""]
    for label, raw in present.items():
        code = manual_code(raw, codes)
        if code is None:
            problems[label] = Problem(
                "manual_category", raw, _("is not a category code (use one of {codes}); ignored, "
                                          "the rules decide").format(codes=", ".join(codes)))
        else:
            result.at[label] = code
    return result, problems


def _reasons(ev: Evaluator, rules: RuleSet, matched: np.ndarray, manual: pd.Series,
             problem_text: pd.Series) -> pd.Series:
    n = len(matched)
    reasons = np.empty(n, dtype=object)  # pandas keeps its texts as python strings
    for i, cat in enumerate(rules.categories):
        rows = np.flatnonzero(matched == i)
        if not len(rows):
            continue
        if cat.node == Const(True):  # the fall-through category says so
            reasons[rows] = f"{cat.code}: {ev.words.rest}"
        else:
            reasons[rows] = concat_objects([f"{cat.code}: ", *pieces(cat.node, ev, rows)], len(rows))
    unq = np.flatnonzero(matched < 0)
    if len(unq):
        reasons[unq] = [f"{UNQUALIFIED}: {text}" for text in problem_text.to_numpy(dtype=object)[unq]]
    out = pd.Series(reasons, index=ev.frame.index)
    has_manual = manual.notna()
    if has_manual.any():
        rules_said = out[has_manual]
        head, tail = _("manual {code} set by the owner (rules: {reason})"
                       ).split("{code}")
        middle, end = tail.split("{reason}")
        out[has_manual] = head + manual[has_manual].astype(object) + middle + rules_said + end
    return out.astype("string")
