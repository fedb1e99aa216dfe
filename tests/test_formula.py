"""The rule compiler to spreadsheet formulas: shapes, limits and refusals (no engine needed;
tests/test_export_live.py proves the values in LibreOffice)."""

from __future__ import annotations

import re

import pytest
from openpyxl.utils import get_column_letter

from sheets_sync.demo import default_rules_text
from sheets_sync.errors import RulesError
from sheets_sync.rules import RuleSet, parse_rules
from sheets_sync.rules.formula import (
    FUNCTIONS_USED,
    Pareto,
    SheetRefs,
    compile_rules,
    defined_names,
    formula_columns,
    nesting,
)


def _refs(rules: RuleSet, pareto: Pareto = Pareto.LIVE) -> SheetRefs:
    names = list(dict.fromkeys([*rules.names, *formula_columns(rules, pareto)]))
    return SheetRefs({n: get_column_letter(i + 1) for i, n in enumerate(names)}, 2, 101, defined_names(rules))


def _rules(categories: str, thresholds: str = "{}", metrics: str = "{}") -> RuleSet:
    return parse_rules(f"THRESHOLDS = {thresholds}\nMETRICS = {metrics}\nCATEGORIES = {categories}\n")


def test_default_rules_compile_with_the_documented_functions_only() -> None:
    rules = parse_rules(default_rules_text())
    compiled = compile_rules(rules, _refs(rules))
    used = set()
    for column in compiled.columns:
        used |= set(re.findall(r"([A-Z][A-Z0-9.]*)\(", re.sub(r'"[^"]*"', "", column.template)))
    assert used <= set(FUNCTIONS_USED), used - set(FUNCTIONS_USED)
    live = compiled.formula("live_category", 7)
    assert live.startswith("=IF(OR(EXACT(UPPER(TRIM($") and "7" in live and "\x00" not in live
    assert '"unqualified"' in live and "roi_a" in compiled.formula("vip", 7)


def test_blanks_are_guarded_and_text_is_compared_exactly() -> None:
    rules = _rules('[{"code": "A", "when": "name == \'Acme\' and revenue / costs > 2"},'
                   ' {"code": "B", "when": "not (nps >= 9)"}, {"code": "D", "when": "true"}]')
    refs = _refs(rules)
    compiled = compile_rules(rules, refs)
    live = compiled.by_name["live_category"].template.replace("\x00", "2")
    name, revenue, costs, nps = (refs.letters[c] for c in ("name", "revenue", "costs", "nps"))
    assert f'EXACT(${name}2,"Acme")' in live  # '=' would ignore case
    assert f"IF(IF(AND(ISNUMBER(${revenue}2),ISNUMBER(${costs}2)),${costs}2<>0,FALSE)," in live  # x/0 is blank
    assert f"IF(ISNUMBER(${nps}2),NOT(${nps}2>=9),FALSE)" in live  # not (blank >= 9) is unknown, not true
    assert live.endswith('"B","D")),"unqualified"))')  # the catch-all ends the chain


def test_metrics_are_columns_with_three_values() -> None:
    rules = _rules('[{"code": "A", "when": "big"}, {"code": "D", "when": "true"}]', '{"limit": 10}',
                   '{"big": "orders_12m > limit", "half": "min(revenue, costs) / 2"}')
    compiled = compile_rules(rules, _refs(rules))
    assert compiled.by_name["big"].template.endswith(',TRUE,IF(IF(ISNUMBER($E\x00),NOT($E\x00>limit),FALSE),FALSE,""))')
    assert compiled.by_name["half"].template.startswith("IF(OR(ISNUMBER(")  # blank only when both are


def test_fixed_pareto_reads_the_share_as_a_value() -> None:
    rules = parse_rules(default_rules_text())
    compiled = compile_rules(rules, _refs(rules, Pareto.FIXED), Pareto.FIXED)
    assert "profit_share_cum" not in compiled.by_name and "pareto_weight" not in compiled.by_name
    assert "profit_share_cum" in compiled.inputs


def test_names_that_look_like_cells_get_a_prefix() -> None:
    rules = _rules('[{"code": "D", "when": "revenue > a1 and costs < r and orders_12m < roi_a"}]',
                   '{"a1": 1, "r": 2, "roi_a": 3}')
    assert defined_names(rules) == {"a1": "th_a1", "r": "th_r", "roi_a": "roi_a", "as_of": "as_of"}


def test_a_rule_too_deep_for_a_spreadsheet_is_refused_with_the_reason() -> None:
    categories = ", ".join(f'{{"code": "C{i}", "when": "orders_12m == {i}"}}' for i in range(70))
    rules = _rules(f"[{categories}]")
    with pytest.raises(RulesError, match=r"CATEGORIES: cannot be written as a spreadsheet formula: it nests "
                                         r"\d+ functions, over the 64 that Excel accepts"):
        compile_rules(rules, _refs(rules))


def test_a_rule_too_long_for_a_spreadsheet_is_refused_with_the_reason() -> None:
    condition = " or ".join(f"revenue + costs * {i} > potential - {i}" for i in range(150))
    rules = _rules(f'[{{"code": "A", "when": "{condition}"}}, {{"code": "D", "when": "true"}}]')
    with pytest.raises(RulesError, match=r"characters long, over the 8192 that Excel accepts. Split it into METRICS"):
        compile_rules(rules, _refs(rules))


def test_nesting_ignores_parentheses_in_text() -> None:
    assert nesting('IF(A1="((((",MAX(1,2),0)') == 2
