"""The rules compiled to SQL give the categories pandas gives, on SQLite and PostgreSQL.

Hypothesis generates client tables (blanks, zero and negative money, tied profits, negative
counts, invalid dates, text in number columns on SQLite, manual categories); both paths read
the same table: pandas through the SQL adapter's fetch, SQL through one SELECT.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sheets_sync.categorize import categorize
from sheets_sync.crm.base import CrmSettings
from sheets_sync.crm.sql import SqlCrm
from sheets_sync.demo import default_rules_text
from sheets_sync.rules import parse_rules
from sheets_sync.rules.sql import compile_rules
from sheets_sync.table import ParseOptions, build_table, resolve_mapping

from .conftest import PASSWORD_ENV, Db

TODAY = date(2026, 11, 23)
MAPPING = {"id": "id", "name": "company", "revenue": "revenue_rub", "costs": "costs_rub",
           "orders_12m": "orders_12m", "first_order": "first_order", "last_order": "last_order",
           "overdue_days": "overdue_days", "referrals": "referrals", "potential": "potential_rub",
           "nps": "nps", "blacklisted": "blacklisted", "manual_category": "manual_category"}

EXTRA_RULES = '''
THRESHOLDS = {"m": 20, "r": 50, "cap": 3, "share": 0.5}
REQUIRED = ["revenue"]
METRICS = {
    "ratio": "revenue / costs",
    "score": "min(orders_12m, cap) * 2 - abs(nps - 5) + max(referrals, 1)",
}
STAGES = [
    {"code": "fresh", "when": "tenure_months < 6"},
    {"code": "old", "when": "recency_days > 365 or isblank(last_order)"},
]
CATEGORIES = [
    {"code": "X", "when": "not (margin_pct >= m) and -profit > 1000"},
    {"code": "Y", "when": "0 < ratio <= 1.5 and stage != 'old'"},
    {"code": "Z", "when": "score >= 6 or profit_share_cum < share"},
    {"code": "W", "when": "blacklisted == false and nps not in (0, 10)"},
    {"code": "V", "when": "isblank(stage) or roi_pct > r or potential / (costs - revenue) > 2"},
]
'''
RULES = {"default": parse_rules(default_rules_text(), "default"),
         "extra": parse_rules(EXTRA_RULES, "extra")}

money = st.one_of(st.none(), st.sampled_from([0, 100, 1000, 5000, 250_000, -300]),
                  st.integers(-2_000_000, 20_000_000).map(lambda c: c / 100))
count = st.one_of(st.none(), st.integers(-1, 30))
day = st.dates(date(2016, 1, 1), TODAY)
manual = st.one_of(st.none(), st.sampled_from(["", "a", " B ", "AAA", "zz", "eee", "x", "D"]))


def rows_strategy(sqlite: bool) -> st.SearchStrategy[list[dict]]:
    if sqlite:  # any storage class in any column: dates as text, text in number columns
        text_money = st.sampled_from(["abc", "н/д", "", " 12.5 ", "-7", "1e3", "1.2.3", ".5"])
        money_any = st.one_of(money, text_money)
        count_any = st.one_of(count, st.sampled_from(["3", "x", "-"]))
        when = st.one_of(st.none(), day.map(date.isoformat),
                         st.sampled_from(["31.02.2026", "15.03.2021", "soon", "2025-13-01",
                                          "2024-02-29", "2023-02-29 10:00", "45000", ""]))
        flag = st.one_of(st.none(), st.sampled_from([0, 1, 2, "да", "no", "maybe", "-"]))
    else:
        money_any, count_any, when = money, count, st.one_of(st.none(), day)
        flag = st.one_of(st.none(), st.booleans())
    row = st.fixed_dictionaries({
        "company": st.sampled_from(["ООО «Ромашка»", "Acme", None, "  "]),
        "revenue_rub": money_any, "costs_rub": money_any, "potential_rub": money_any,
        "orders_12m": count_any, "overdue_days": count_any, "referrals": count_any,
        "first_order": when, "last_order": when,
        "nps": st.one_of(st.none(), st.integers(0, 10), st.sampled_from([7.5])),
        "blacklisted": flag, "manual_category": manual,
    })
    return st.lists(row, min_size=1, max_size=25)


def table_for(db: Db) -> sa.Table:
    sqlite = db.kind == "sqlite"
    any_type = sa.types.NullType if sqlite else None
    number = any_type or sa.Float
    whole = any_type or sa.Integer
    when = any_type or sa.Date
    flag = any_type or sa.Boolean
    return sa.Table(
        "clients", sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("company", sa.Text), sa.Column("revenue_rub", number()),
        sa.Column("costs_rub", number()), sa.Column("potential_rub", number()),
        sa.Column("orders_12m", whole()), sa.Column("overdue_days", whole()),
        sa.Column("referrals", whole()), sa.Column("first_order", when()),
        sa.Column("last_order", when()), sa.Column("nps", number()),
        sa.Column("blacklisted", flag()), sa.Column("manual_category", sa.Text),
        sa.Column("category", sa.Text))


def create_table(db: Db) -> sa.Table:
    table = table_for(db)
    with db.engine.begin() as conn:
        if db.kind == "sqlite":  # no declared types: every value keeps its storage class
            names = ", ".join(c.name if c.name != "id" else "id INTEGER PRIMARY KEY"
                              for c in table.c)
            conn.execute(sa.text(f"CREATE TABLE clients ({names})"))
        else:
            table.create(conn)
    return table


def crm_for(db: Db, tmp_path: Path) -> SqlCrm:
    options: dict[str, object] = {"url": db.url.render_as_string(hide_password=False),
                                  "table": "clients", "chunk_size": 7}
    if db.password:
        options["password_env"] = PASSWORD_ENV
    return SqlCrm(CrmSettings("sql", options, tmp_path, "id", "category", tuple(MAPPING.values())))


def both_ways(crm: SqlCrm, rules_name: str) -> tuple[dict, dict]:
    rules = RULES[rules_name]
    raw = crm.fetch()
    table = build_table(raw, MAPPING, ParseOptions(), extra=rules.columns)
    frame = categorize(table, rules, TODAY, with_reasons=False).frame
    pandas_side = {str(i): (c, rc, s, bool(q)) for i, c, rc, s, q in zip(
        frame["id"], frame["category"], frame["rule_category"], frame["stage"],
        frame["qualified"], strict=True)}
    src = crm.source().order_by(None).subquery("src")
    mapping = resolve_mapping(src.c.keys(), MAPPING, extra=rules.columns)
    select = compile_rules(rules, src, mapping, "id", TODAY, crm.engine.dialect.name)
    with crm.engine.connect() as conn:
        sql_side = {str(r.id): (r.category, r.rule_category, r.stage, bool(r.qualified))
                    for r in conn.execute(select)}
    return pandas_side, sql_side


@pytest.mark.parametrize("rules_name", ["default", "extra"])
def test_sql_categories_equal_pandas(db: Db, tmp_path: Path, rules_name: str) -> None:
    table = create_table(db)
    crm = crm_for(db, tmp_path)

    @settings(max_examples=int(os.environ.get("PUSHDOWN_EXAMPLES", "35")), deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(rows=rows_strategy(db.kind == "sqlite"), order=st.randoms(use_true_random=False))
    def check(rows: list[dict], order: object) -> None:
        for i, row in enumerate(rows, start=1):
            row["id"] = i
        order.shuffle(rows)  # type: ignore[attr-defined]
        with db.engine.begin() as conn:
            conn.execute(table.delete())
            conn.execute(table.insert(), rows)
        pandas_side, sql_side = both_ways(crm, rules_name)
        assert sql_side == pandas_side

    try:
        check()
    finally:
        crm.close()


def test_messy_text_is_unqualified_in_the_database_not_misread(db_factory, tmp_path: Path) -> None:
    """Text money that only pandas can read ('1 234,5 ₽') makes a client unqualified in SQL,
    with the reason; it is never read as another number."""
    db = db_factory("sqlite")
    table = create_table(db)
    with db.engine.begin() as conn:
        conn.execute(table.insert(), [
            {"id": 1, "revenue_rub": "1 234,5 ₽", "costs_rub": 100, "orders_12m": 1},
            {"id": 2, "revenue_rub": 1000, "costs_rub": 100, "orders_12m": 1}])
    crm = crm_for(db, tmp_path)
    try:
        src = crm.source().order_by(None).subquery("src")
        rules = RULES["default"]
        select = compile_rules(rules, src, resolve_mapping(src.c.keys(), MAPPING), "id", TODAY,
                               "sqlite")
        with crm.engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(select)}
    finally:
        crm.close()
    assert rows[1].category == "unqualified"
    assert rows[1].reason == "unqualified: revenue: not readable in the database"
    assert rows[2].category != "unqualified" and rows[2].reason.startswith(f"{rows[2].category}: ")


@pytest.mark.parametrize(("revenue", "costs", "roi"), [(3.30, 2.20, 50.0), (0.3, 0.1, 200.0),
                                                       (1.15, 1.0, 15.0)])
def test_ratios_at_a_threshold_agree_exactly(db: Db, tmp_path: Path, revenue: float, costs: float,
                                             roi: float) -> None:
    """Float noise never decides a threshold: 3.30 on 2.20 is ROI 50 exactly (not
    49.99999999999998) in pandas and in the database, so `roi_pct >= 50` holds in both."""
    rules = parse_rules(f'CATEGORIES = [{{"code": "A", "when": "roi_pct >= {roi} and '
                        f'roi_pct <= {roi}"}}, {{"code": "D", "when": "true"}}]', "ratio")
    table = create_table(db)
    with db.engine.begin() as conn:
        conn.execute(table.insert(), [{"id": 1, "revenue_rub": revenue, "costs_rub": costs}])
    crm = crm_for(db, tmp_path)
    try:
        pandas_side, sql_side = both_ways_with(crm, rules)
    finally:
        crm.close()
    assert pandas_side["1"][0] == "A"
    assert sql_side == pandas_side


def both_ways_with(crm: SqlCrm, rules: object) -> tuple[dict, dict]:
    RULES["_ratio"] = rules
    try:
        return both_ways(crm, "_ratio")
    finally:
        del RULES["_ratio"]


BAD_VALUES = {  # column -> values pandas refuses; the database must refuse them too
    "sqlite": [("revenue_rub", "1" + "9" * 400), ("revenue_rub", 1e300), ("revenue_rub", float("inf")),
               ("orders_12m", 2.5), ("orders_12m", "2.5"), ("first_order", "31.12.9999"),
               ("last_order", "1200-01-01"), ("last_order", "2026-11-01 garbage"),
               ("last_order", "2027-01-05"), ("first_order", "2026-11-24 10:00")],
    "postgresql": [("revenue_rub", 1e300), ("last_order", date(2201, 1, 1)),
                   ("last_order", date(2027, 1, 5)), ("first_order", date(1850, 1, 1))],
}


@pytest.mark.parametrize("case", range(10))
def test_values_pandas_refuses_are_unqualified_in_the_database_too(db: Db, tmp_path: Path,
                                                                    case: int) -> None:
    cases = BAD_VALUES[db.kind]
    if case >= len(cases):
        return
    column, value = cases[case]
    table = create_table(db)
    good = {"revenue_rub": 200_000, "costs_rub": 100_000, "orders_12m": 5,
            "first_order": date(2020, 1, 1) if db.kind != "sqlite" else "2020-01-01",
            "last_order": date(2026, 11, 1) if db.kind != "sqlite" else "2026-11-01"}
    with db.engine.begin() as conn:
        conn.execute(table.insert(), [{"id": 1, **good, column: value}, {"id": 2, **good}])
    crm = crm_for(db, tmp_path)
    try:
        pandas_side, sql_side = both_ways(crm, "default")
    finally:
        crm.close()
    assert pandas_side["1"][0] == "unqualified" and pandas_side["2"][0] != "unqualified"
    assert sql_side == pandas_side
