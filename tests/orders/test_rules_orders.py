"""The default rules and the capacity report with the deals' stability."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from sheets_sync.categorize import categorize
from sheets_sync.reports import capacity
from sheets_sync.rules import load_rules
from sheets_sync.table import build_table

RULES = Path(__file__).resolve().parents[2] / "rules.py"
TODAY = date(2026, 11, 23)


def client(cid: str, **values: object) -> dict:
    base = {"id": cid, "name": f"client {cid}", "revenue": 300_000, "costs": 270_000,
            "orders_12m": 12, "first_order": "2025-01-10", "last_order": "2026-11-01",
            "overdue_days": 0, "referrals": 0, "potential": 100_000, "nps": 7, "blacklisted": False}
    return {**base, **values}


def outcome(rows: list[dict]) -> pd.DataFrame:
    rules = load_rules(RULES)
    table = build_table(pd.DataFrame(rows), extra=rules.columns)
    return categorize(table, rules, TODAY).frame.set_index("id")


def test_b_buys_steadily_not_only_often() -> None:
    out = outcome([client("x", xyz="X"), client("y", xyz="Y"), client("z", xyz="Z"),
                   client("blank")])
    assert out["category"].to_dict() == {"x": "B", "y": "B", "z": "D", "blank": "B"}
    assert out.at["z", "stage"] == "regular"  # as often as the others: the stability differs
    assert "xyz" in out.at["x", "reason"]


def test_aaa_and_aa_still_reward_loyalty_whatever_the_stability() -> None:
    vip = dict(revenue=400_000, costs=100_000, orders_12m=12, first_order="2022-01-10", nps=10,
               xyz="Z")
    out = outcome([client("aaa", referrals=3, **vip), client("aa", referrals=1, **vip)])
    assert out["category"].to_dict() == {"aaa": "AAA", "aa": "AA"}


def test_the_legend_explains_stability() -> None:
    rules = load_rules(RULES)
    b = rules.category("B")
    assert b is not None and "steady" in b.text and "X or Y" in b.strategy
    assert "xyz" in [m.text for m in rules.metrics if m.name == "steady"][0]


@pytest.mark.parametrize("with_deals", [True, False])
def test_capacity_weighs_stability_after_profitability(with_deals: bool) -> None:
    rules = load_rules(RULES)
    frame = pd.DataFrame({
        "id": ["lumpy", "steady", "richer", "blank"], "name": list("abcd"),
        "category": ["D"] * 4, "revenue": [200.0, 200.0, 200.0, 200.0],
        "profit": [100.0, 90.0, 110.0, 100.0], "roi_pct": [100.2, 99.8, 80.0, 100.0],
        "cv_12m": [0.9, 0.05, 0.01, None], "xyz": ["Z", "X", "X", None]})
    if not with_deals:
        frame = frame.drop(columns=["cv_12m", "xyz"])
    kept = capacity(frame, rules, 3).keep["id"].tolist()
    # ROI 100 % (whole percent) for three of them: the steadiest first, then profit; ROI 80 % last
    assert kept == (["steady", "lumpy", "blank"] if with_deals else ["lumpy", "blank", "steady"])


def test_every_deal_metric_is_defined_in_the_readme_and_the_rules_file() -> None:
    from sheets_sync.orders.columns import DEFINITIONS, FROM_DEALS, ORDER_COLUMNS

    readme = (RULES.parent / "README.md").read_text(encoding="utf-8")
    rules_text = RULES.read_text(encoding="utf-8")
    for name in [*ORDER_COLUMNS, *FROM_DEALS.values()]:
        assert name in DEFINITIONS, name
        assert f"`{name}`" in readme, name
        assert name in rules_text.split('"""')[1], name  # the rules file's docstring
