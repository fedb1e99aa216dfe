"""The deals' metrics: hand-computed expectations, and a property test against the row-by-row
oracle in tests/orders_rowwise.py."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from orders_rowwise import rowwise_metrics

from sheets_sync.orders.metrics import order_metrics

AS_OF = date(2026, 11, 23)  # the window: 2025-11-24 .. 2026-11-23; full months 2025-11 .. 2026-10


def frame(rows: list[tuple]) -> pd.DataFrame:
    """(client, amount, 'YYYY-MM-DD', cost or None, won)"""
    return pd.DataFrame({
        "client_id": [r[0] for r in rows],
        "amount": [float(r[1]) for r in rows],
        "date": pd.to_datetime([r[2] for r in rows]),
        "cost": [float("nan") if r[3] is None else float(r[3]) for r in rows],
        "won": [r[4] for r in rows],
    })


def monthly(client: str, day: int, amounts: list[float], cost: float | None = None) -> list[tuple]:
    """One deal a month on ``day``, 2025-11 .. 2026-10."""
    out = []
    for k, amount in enumerate(amounts):
        y, m = divmod(2025 * 12 + 10 + k, 12)
        out.append((client, amount, f"{y}-{m + 1:02d}-{day:02d}", cost, True))
    return out


DEALS = frame(
    monthly("steady", 15, [100] * 12, cost=60)  # 2025-11-15 is before the 365-day window
    + monthly("mid", 20, [80, 120] * 6)
    + [("lumpy", 1200, "2026-06-10", 1000, True),
       ("old", 500, "2024-01-01", None, True),
       ("bee", 300, "2026-09-05", None, True),
       ("small", 100, "2026-11-01", None, True),  # this month: in the window, not a full month
       ("small", 999, "2026-12-01", None, True),  # after the sync date: left out
       ("mid", 5000, "2026-10-01", None, False)])  # lost: left out
CLIENTS = ["steady", "mid", "lumpy", "old", "bee", "small", "none"]


@pytest.fixture(scope="module")
def result() -> pd.DataFrame:
    out = order_metrics(DEALS, AS_OF, CLIENTS)
    assert (out.deals_used, out.future, out.unknown_clients) == (28, 1, 0)
    return out.frame


def value(result: pd.DataFrame, client: str, column: str) -> object:
    v = result.at[client, column]
    if v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    return v


@pytest.mark.parametrize("client, expected", [
    ("steady", dict(revenue_12m=1100, orders_12m=11, first_order="2025-11-15", last_order="2026-10-15",
                    avg_order=100, costs_12m=660, months_active_12m=12, cv_12m=0, xyz="X", abc="A",
                    r_score=4, f_score=5, m_score=4, rfm="454")),
    ("mid", dict(revenue_12m=1120, orders_12m=11, avg_order=1120 / 11, costs_12m=None,
                 months_active_12m=12, cv_12m=0.2, xyz="Y", abc="A", rfm="555")),
    ("lumpy", dict(revenue_12m=1200, orders_12m=1, costs_12m=1000, months_active_12m=1,
                   cv_12m=3.316625, xyz="Z", abc="A", rfm="245")),  # sqrt(11), rounded
    ("bee", dict(revenue_12m=300, abc="B", rfm="343")),  # 3420 of 3820 ranked above: 89.5 %
    ("small", dict(revenue_12m=100, orders_12m=1, months_active_12m=0, cv_12m=None, xyz=None,
                   abc="C", last_order="2026-11-01", rfm="542")),
    ("old", dict(revenue_12m=0, orders_12m=0, first_order="2024-01-01", last_order="2024-01-01",
                 avg_order=None, costs_12m=0, cv_12m=None, xyz=None, abc=None, rfm="111")),
    ("none", dict(revenue_12m=0, orders_12m=0, first_order=None, last_order=None, avg_order=None,
                  costs_12m=0, months_active_12m=0, cv_12m=None, xyz=None, abc=None, r_score=None,
                  f_score=None, m_score=None, rfm=None)),
])
def test_hand_computed(result: pd.DataFrame, client: str, expected: dict) -> None:
    got = {k: value(result, client, k) for k in expected}
    assert got == {k: pytest.approx(v) if isinstance(v, int | float) else v for k, v in expected.items()}


def test_no_cost_in_the_source_is_blank_not_zero() -> None:
    out = order_metrics(DEALS, AS_OF, CLIENTS, has_cost=False).frame
    assert out["costs_12m"].isna().all()


def test_thresholds_come_from_the_rules() -> None:
    out = order_metrics(DEALS, AS_OF, CLIENTS, thresholds={"xyz_x": 0.25, "abc_a": 0.5}).frame
    assert out.at["mid", "xyz"] == "X"
    assert [out.at[c, "abc"] for c in ("lumpy", "mid", "steady")] == ["A", "A", "B"]  # 0 and 31 % ranked above; 61 %


def test_abc_ties_go_by_client_id_whatever_the_order_of_the_clients() -> None:
    deals = frame([(c, 100, "2026-10-01", None, True) for c in ("b", "a", "c")])
    for clients in (["b", "c", "a"], ["c", "b", "a"], ["a", "b", "c"]):
        out = order_metrics(deals, AS_OF, clients, thresholds={"abc_a": 0.3, "abc_b": 0.5}).frame
        assert [out.at[c, "abc"] for c in ("a", "b", "c")] == ["A", "B", "C"], clients


def test_no_deals_at_all() -> None:
    out = order_metrics(frame([]), AS_OF, ["a", "b"]).frame
    assert list(out.index) == ["a", "b"]
    assert out["orders_12m"].tolist() == [0, 0] and out["rfm"].isna().all()


# ---------------------------------------------------------------- property: vs the oracle

deal = st.tuples(
    st.sampled_from(["a", "b", "c", "d", "e", "f", "x"]),  # "x" is not a client of the CRM
    st.integers(-5, 2_000).map(lambda n: n / 4),  # quarters: sums are exact in any order
    # around the edges too: the window's first day (-364), the months' (-22: this month, -387:
    # the first of the 12 full months), the sync date
    st.one_of(st.sampled_from([0, 1, -22, -23, -364, -365, -387, -388]), st.integers(-800, 40))
    .map(lambda n: AS_OF + timedelta(days=n)),
    st.one_of(st.none(), st.integers(0, 800).map(lambda n: n / 2)),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(deal, max_size=60), st.booleans(), st.booleans(),
       st.permutations(["a", "b", "c", "d", "e", "f"]))  # ties in ABC go by id, not by position
def test_agrees_with_the_row_by_row_oracle(deals: list[tuple], has_cost: bool, encoded: bool,
                                           clients: list[str]) -> None:
    df = frame([(c, a, d.isoformat(), cost, won) for c, a, d, cost, won in deals])
    if encoded:  # client ids as the readers give them
        df["client_id"] = pd.Categorical(df["client_id"])
    got = order_metrics(df, AS_OF, clients, has_cost=has_cost).frame
    want = rowwise_metrics([{"client_id": c, "amount": a, "date": d, "cost": cost, "won": won}
                            for c, a, d, cost, won in deals], AS_OF, clients, has_cost=has_cost)
    for cid in clients:
        row = {k: value(got, cid, k) for k in want[cid]}
        expected = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in want[cid].items()}
        for key, v in expected.items():
            if isinstance(v, float):
                assert row[key] == pytest.approx(v, abs=1e-6), (cid, key)
            else:
                assert row[key] == v, (cid, key, row[key], v)
