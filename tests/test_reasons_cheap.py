"""Reasons built from pieces (issue 15) read exactly as the reasons rendered in full before:
random clients, both languages, blanks, negatives, large numbers, manual categories,
unqualified clients and the fall-through category."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from reasons_oracle import reasons as old_reasons

from sheets_sync import i18n
from sheets_sync.categorize import _manual, categorize
from sheets_sync.rules import load_rules, parse_rules
from sheets_sync.rules.evaluate import Evaluator
from sheets_sync.rules.expr import Type
from sheets_sync.rules.words import words_for
from sheets_sync.table import build_table

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 23)

#: every kind of node a reason tells: not, or, in, isblank, functions, arithmetic, minus, text
ODD = '''
THRESHOLDS = {"big": 1000000, "small": -5.5, "half": 0.5}
CATEGORIES = [
    {"code": "X", "title": "x", "when": "not (revenue > big or costs < small) and isblank(nps)"},
    {"code": "Y", "title": "y", "when": "max(revenue, costs) / 2 > -potential and name in ('c1', 'c2')"},
    {"code": "Z", "title": "z",
     "when": "abs(revenue - costs) >= half * potential or stage in ('regular', 'adherent')"},
    {"code": "V", "title": "v", "when": "min(referrals, nps) != 3 and not isblank(referrals)"},
    {"code": "W", "title": "w", "when": "true"},
]
'''


def _number(rng: np.random.Generator, n: int) -> list[object]:
    kind = rng.integers(0, 8, n)
    small = rng.integers(-50, 50, n).astype(float)
    money = rng.lognormal(10, 2.5, n) * rng.choice([1, 1, 1, -1], n)
    money = np.array([round(m, int(d)) for m, d in zip(money, rng.integers(0, 4, n), strict=True)])
    huge = rng.choice([9_999.0, 10_000.0, 999_999.995, 123_456_789.125, 1.5e13, -2.25e14, 0.004, -0.004], n)
    values: list[object] = []
    for k, s, m, h in zip(kind, small, money, huge, strict=True):
        values.append(None if k == 0 else s if k == 1 else h if k == 2 else "12,3,4" if k == 3 and
                      rng.random() < 0.1 else float(m))
    return values


def _clients(seed: int, n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    manual = rng.choice(np.array([None, None, None, None, "a", "А", "zz", " d ", ""], dtype=object), n)
    first = [None if rng.random() < 0.1 else (pd.Timestamp(TODAY) - pd.Timedelta(days=int(d))).date().isoformat()
             for d in rng.integers(-5, 3000, n)]
    last = [None if rng.random() < 0.1 else (pd.Timestamp(TODAY) - pd.Timedelta(days=int(d))).date().isoformat()
            for d in rng.integers(1, 400, n)]
    return pd.DataFrame({
        "id": [str(i) for i in range(1, n + 1)], "name": [f"c{i % 4}" for i in range(n)],
        "revenue": _number(rng, n), "costs": _number(rng, n), "potential": _number(rng, n),
        "orders_12m": rng.choice([None, 0, 1, 4, 12], n), "overdue_days": rng.choice([None, 0, 45, 100, 200], n),
        "referrals": rng.choice([None, 0, 2, 3], n), "nps": rng.choice([None, 3, 9, 10], n),
        "blacklisted": rng.choice([None, "yes", "no", "no", "no"], n),
        "first_order": first, "last_order": last, "manual_category": manual,
    })


def _old(raw: pd.DataFrame, rules) -> pd.Series:  # type: ignore[no-untyped-def]
    """The reasons as rendered before, from the same categorized table."""
    frame = categorize(build_table(raw), rules, TODAY).frame
    ev = Evaluator(frame, {m.name: m.node for m in rules.metrics if m.type is Type.BOOL}, words_for(rules))
    index = {c.code: i for i, c in enumerate(rules.categories)}
    matched = frame["rule_category"].map(lambda c: index.get(c, -1)).to_numpy(dtype=int, copy=True)
    matched[~frame["qualified"].to_numpy(dtype=bool)] = -1
    manual, _problems = _manual(frame["manual_category"], rules.codes)
    return old_reasons(ev, rules, matched, manual, frame["problems"].astype(object).fillna(""))


@pytest.mark.parametrize("lang", ["en", "ru"])
@pytest.mark.parametrize("source", ["rules.py", "odd"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reasons_equal_the_old_rendering(lang: str, source: str, seed: int) -> None:
    rules = load_rules(ROOT / "rules.py") if source == "rules.py" else parse_rules(ODD)
    raw = _clients(seed)
    with i18n.use_language(lang):
        new = categorize(build_table(raw), rules, TODAY).frame
        old = _old(raw, rules)
    assert new["category"].nunique() >= 3
    assert (new["category"] == "unqualified").any() and new["manual_category"].notna().any()
    texts = new["reason"].astype(str).tolist()
    assert any("\u00a0" in t for t in texts) == (lang == "ru")  # thousands groups / no-break %
    assert any(("−" if lang == "ru" else "-") in t for t in texts)
    mismatched = [(i, a, b) for i, (a, b) in enumerate(zip(texts, old.astype(str), strict=True)) if a != b]
    assert not mismatched, mismatched[:5]
