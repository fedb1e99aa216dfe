"""The rule language: parsing under a whitelist, rules files, evaluation, reasons."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rowwise import evaluate_row

from sheets_sync.categorize import UNQUALIFIED, categorize
from sheets_sync.errors import RulesError
from sheets_sync.rules import ExprError, Type, load_rules, parse, parse_rules, to_text
from sheets_sync.rules.evaluate import Evaluator
from sheets_sync.table import build_table

NAMES = {"a": Type.NUMBER, "b": Type.NUMBER, "c": Type.NUMBER, "s": Type.TEXT,
         "d": Type.DATE, "flag": Type.BOOL}
ROOT = Path(__file__).resolve().parent.parent


def test_parse_and_print_round_trip() -> None:
    node = parse("0 < a <= 10 and (s in ('x', 'y') or not isblank(b)) and max(a, b) / 2 > -c",
                 NAMES, {"limit": 5})
    assert to_text(node) == "0 < a ≤ 10 and (s in ('x', 'y') or not (isblank(b))) and max(a, b) ÷ 2 > −c"


@pytest.mark.parametrize(("text", "message"), [
    ("__import__('os').system('x')", "not allowed"),
    ("a.real > 1", "attribute access"),
    ("a[0] > 1", "indexing"),
    ("(lambda: 1)() > 0", "not allowed"),
    ("a ** 2 > 1", "'**'"),
    ("a % 2 == 0", "'%'"),
    ("open('f') == 1", "function 'open' is not allowed"),
    ("revnue > 1", "did you mean"),
    ("s > 5", "cannot compare a text with a number"),
    ("s < 'x'", "only be compared with == or !="),
    ("a + 1", "a number, but a bool is needed"),
    ("a > ", "bad syntax"),
    ("d > 5", "cannot compare a date"),
    ("a and b", "'and'/'or' needs a bool"),
    ("isblank(a, b)", "takes 1 argument"),
    ("a if b else c", "not allowed"),
    ("a is None", "'is'"),
    ("a & b", "use 'and'"),
])
def test_rejected_expressions(text: str, message: str) -> None:
    names = {**NAMES, "revenue": Type.NUMBER}
    with pytest.raises(ExprError, match=re.escape(message)):
        parse(text, names, {})


GOOD = '''
THRESHOLDS = {"roi_a": 50}
CATEGORIES = [
    {"code": "A", "title": "VIP", "when": "roi_pct >= roi_a", "colour": "#C6EFCE"},
    {"code": "D", "title": "Filler", "when": "true"},
]
'''


@pytest.mark.parametrize(("source", "line", "code", "message"), [
    (GOOD.replace("roi_pct >= roi_a", "roi >= roi_a"), 4, "A", "unknown column or threshold 'roi'"),
    (GOOD.replace('"code": "D"', '"code": "A"'), 5, "A", "duplicate code 'A'"),
    (GOOD.replace("roi_pct >= roi_a", "roi_pct >= "), 4, "A", "bad syntax"),
    (GOOD.replace("roi_pct >= roi_a", "__import__('os')"), 4, "A", "not allowed"),
    ("import os\n" + GOOD, 1, None, "only assignments of literal values"),
    (GOOD + "CATEGORIES2 = []\n", 7, None, "unknown setting 'CATEGORIES2'"),
    (GOOD.replace('{"roi_a": 50}', 'dict(roi_a=50)'), 2, None, "only literal values"),
    (GOOD.replace("#C6EFCE", "green"), 4, "A", "colour 'green'"),
    (GOOD.replace("CATEGORIES = [", "CATEGORIES = [\n").replace("pct >= roi_a", "pct >= nothing"), 5, "A",
     "unknown column or threshold 'nothing'"),
    ("THRESHOLDS = {\n", 1, None, "bad Python syntax"),
    ("CATEGORIES = []", None, None, "CATEGORIES is missing or empty"),
    (GOOD.replace('"title": "Filler", ', '"titel": "x", '), 5, "D", "unknown key 'titel'"),
])
def test_broken_rules_files_name_line_code_and_problem(source: str, line: int | None, code: str | None,
                                                        message: str) -> None:
    with pytest.raises(RulesError) as err:
        parse_rules(source, "rules.py")
    text = str(err.value)
    assert message in text
    assert err.value.line == line
    if line:
        assert text.startswith(f"rules.py:{line}")
    if code:
        assert f"category {code}" in text


def test_missing_rules_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="does not exist"):
        load_rules(tmp_path / "nope.py")


def test_default_rules_load_and_the_packaged_copy_is_identical() -> None:
    rules = load_rules(ROOT / "rules.py")
    assert rules.codes == ["EEE", "EE", "E", "AAA", "AA", "A", "B", "C", "D"]
    assert (ROOT / "rules.py").read_text() == (ROOT / "sheets_sync" / "default_rules.py").read_text()


# -- evaluation: vectorized equals the row-by-row reference, including blanks

def _frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in ("a", "b", "c"):
        frame[col] = pd.array(frame[col].tolist(), dtype="Float64")
    frame["s"] = pd.array(frame["s"].tolist(), dtype="string")
    frame["flag"] = pd.array(frame["flag"].tolist(), dtype="boolean")
    return frame


numbers = st.one_of(st.none(), st.sampled_from([0.0, 1.0, -1.0, 2.5, 50.0]),
                    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda x: round(x, 2)))
rows = st.fixed_dictionaries({"a": numbers, "b": numbers, "c": numbers,
                              "s": st.one_of(st.none(), st.sampled_from(["x", "y", " ", ""])),
                              "flag": st.one_of(st.none(), st.booleans())})

num_leaf = st.one_of(st.sampled_from(["a", "b", "c"]),
                     st.sampled_from(["0", "1", "2.5", "50", "-1"]))


def num_expr() -> st.SearchStrategy[str]:
    return st.recursive(num_leaf, lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda x: f"-{x}"),
        inner.map(lambda x: f"abs({x})"),
        st.tuples(st.sampled_from(["min", "max"]), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
    ), max_leaves=4)


bool_leaf = st.one_of(
    st.tuples(num_expr(), st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), num_expr())
    .map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
    st.tuples(num_expr(), num_expr(), num_expr()).map(lambda t: f"{t[0]} < {t[1]} <= {t[2]}"),
    st.sampled_from(["s == 'x'", "s != 'y'", "s in ('x', 'y')", "s not in ('x',)", "isblank(s)",
                     "isblank(a)", "flag", "true", "false"]),
)
bool_expr = st.recursive(bool_leaf, lambda inner: st.one_of(
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(" + " and ".join(xs) + ")"),
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(" + " or ".join(xs) + ")"),
    inner.map(lambda x: f"not ({x})"),
), max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(rows, min_size=1, max_size=8), bool_expr)
def test_vectorized_matches_row_by_row(table: list[dict], text: str) -> None:
    node = parse(text, NAMES, {})
    frame = _frame(table)
    vector = Evaluator(frame).truth(node)
    for i, row in enumerate(table):
        expected = evaluate_row(node, row) is True
        assert vector[i] == expected, (text, row)


@settings(max_examples=200, deadline=None)
@given(st.lists(rows, min_size=1, max_size=8), num_expr())
def test_arithmetic_matches_row_by_row(table: list[dict], text: str) -> None:
    node = parse(text, NAMES, {}, want=None)
    frame = _frame(table)
    value = Evaluator(frame)(node)
    for i, row in enumerate(table):
        expected = evaluate_row(node, row)
        got = value.iloc[i] if isinstance(value, pd.Series) else value
        if expected is None:
            assert got is pd.NA or got is None or (isinstance(got, float) and np.isnan(got)), (text, row, got)
        else:
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-9), (text, row)


def test_blank_semantics_are_sqls() -> None:
    frame = _frame([{"a": None, "b": 1.0, "c": 0.0, "s": None, "flag": None}])
    ev = Evaluator(frame)
    truth = lambda text: bool(ev.truth(parse(text, NAMES, {}))[0])  # noqa: E731
    assert not truth("a > 5") and not truth("not (a > 5)")
    assert truth("a > 5 or b == 1") and not truth("a > 5 and b == 1")
    assert truth("isblank(a)") and truth("isblank(s)")
    assert not truth("b / c > 0")  # division by zero gives a blank
    assert truth("max(a, b) == 1")


# -- categorize: metrics, reasons, manual override, unqualified

def _clients(**columns) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    n = len(next(iter(columns.values())))
    base = {"id": [str(i + 1) for i in range(n)], "name": [f"c{i}" for i in range(n)],
            "orders_12m": [1] * n}
    base.update(columns)
    return pd.DataFrame(base)


def test_domain_roi_example_ratio_beats_contract_sums() -> None:
    rules = parse_rules(GOOD)
    raw = _clients(revenue=[200_000, 1_000_000], costs=[100_000, 900_000])
    out = categorize(build_table(raw), rules, date(2026, 11, 23)).frame
    assert list(out["profit"]) == [100_000, 100_000]
    assert out["roi_pct"].tolist() == pytest.approx([100.0, 11.111111])
    assert list(out["category"]) == ["A", "D"]
    assert out["reason"][0] == "A: ROI 100% ≥ 50%"


def test_reason_expands_named_conditions() -> None:
    rules = load_rules(ROOT / "rules.py")
    raw = _clients(revenue=[300_000, 100_000, 50_000], costs=[100_000, 90_000, 45_000],
                   orders_12m=[2, 1, 1], overdue_days=[0, 0, 0])
    out = categorize(build_table(raw), rules, date(2026, 11, 23)).frame
    assert out["category"][0] == "A"
    assert out["reason"][0] == "A: ROI 200% ≥ 50% and profit share of the clients above 0% < 80%"
    assert out["profit_share_cum"].tolist() == pytest.approx([0, 200 / 215, 210 / 215])


def test_zero_or_missing_costs_do_not_crash() -> None:
    rules = parse_rules(GOOD)
    raw = _clients(revenue=[100, 100, None], costs=[0, None, 5])
    out = categorize(build_table(raw), rules, date(2026, 11, 23)).frame
    assert out["roi_pct"].isna().all()
    assert list(out["category"]) == ["D", "D", "D"]  # GOOD requires nothing


def test_required_missing_is_unqualified_never_d() -> None:
    rules = load_rules(ROOT / "rules.py")
    raw = _clients(revenue=["н/д", "12,3,4", "100"], costs=[1, 1, 1])
    out = categorize(build_table(raw), rules, date(2026, 11, 23)).frame
    assert list(out["category"][:2]) == [UNQUALIFIED, UNQUALIFIED]
    assert out["problems"][0] == "revenue: empty (required)"
    assert out["problems"][1] == "revenue '12,3,4': is not a number (misplaced ',')"
    assert out["reason"][1].startswith("unqualified: revenue '12,3,4'")
    assert out["category"][2] != UNQUALIFIED


def test_manual_category_wins_and_invalid_is_reported() -> None:
    rules = parse_rules(GOOD)
    raw = _clients(revenue=[200, 200, 200], costs=[100, 100, 100], manual_category=["d", "Z", None])
    out = categorize(build_table(raw), rules, date(2026, 11, 23)).frame
    assert list(out["rule_category"]) == ["A", "A", "A"]
    assert list(out["category"]) == ["D", "A", "A"]
    assert out["reason"][0] == "manual D set by the owner (rules: A: ROI 100% ≥ 50%)"
    assert "manual_category 'Z': is not a category code" in out["problems"][1]


def test_pareto_share_and_stage() -> None:
    rules = load_rules(ROOT / "rules.py")
    raw = _clients(revenue=[700, 200, 100, 50], costs=[0, 0, 0, 100],
                   orders_12m=[5, 0, 1, 5], first_order=["2020-01-01", None, "2026-10-01", "2026-01-01"],
                   referrals=[1, 0, 0, 0])
    out = categorize(build_table(raw), rules, date(2026, 11, 23)).frame
    assert out["profit_share_cum"].tolist()[:3] == pytest.approx([0.0, 0.7, 0.9])
    assert pd.isna(out["profit_share_cum"][3])
    assert list(out["stage"]) == ["adherent", "potential", "first_purchase", "regular"]
    assert out["tenure_months"][0] == 82


def test_reasons_show_the_branch_that_held() -> None:
    source = GOOD.replace('"when": "roi_pct >= roi_a"', '"when": "revenue > 500 or (costs < 10 and orders_12m >= 1)"')
    source = source.replace('"when": "true"', '"when": "not (revenue > 100 or costs > 100)"')
    rules = parse_rules(source)
    raw = _clients(revenue=[1000, 50, 50], costs=[500, 5, 20], orders_12m=[1, 2, 1])
    out = categorize(build_table(raw), rules, date(2026, 11, 23)).frame
    assert list(out["reason"]) == [
        "A: revenue 1000 > 500",
        "A: costs 5 < 10 and orders in 12 months 2 ≥ 1",
        "D: not (revenue 50 > 100 or costs 20 > 100)",
    ]
