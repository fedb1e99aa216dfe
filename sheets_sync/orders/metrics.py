"""Metrics per client from the deals, vectorized: one pass of numpy/pandas group sums.

:func:`order_metrics` is the one entry point; the definitions it implements are
:data:`~sheets_sync.orders.columns.DEFINITIONS` (the README and ``rules.py`` repeat them).
``tests/orders_rowwise.py`` computes the same thing client by client, deal by deal, and the
property test checks the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ..metrics import RATIO_DECIMALS
from .columns import DEFAULT_THRESHOLDS

_DAY = np.int64(86_400_000_000_000)  # nanoseconds
_CODES = np.array([str(i) for i in range(1000)], dtype=object)  # 545 -> "545"


@dataclass(frozen=True)
class MetricsResult:
    """The metrics (one row per client, index: client id as text) and what was left out."""

    frame: pd.DataFrame
    deals_used: int  # won deals up to the sync date of the clients asked for
    unknown_clients: int  # deals whose client is not among the clients asked for
    future: int  # won deals dated after the sync date (left out)


def _round(values: np.ndarray) -> np.ndarray:
    scale = 10.0 ** RATIO_DECIMALS
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = values * scale
        return np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) / scale


def order_metrics(deals: pd.DataFrame, as_of: date, clients: Iterable[str] | None = None, *,
                  thresholds: Mapping[str, float | str] | None = None,
                  has_cost: bool = True) -> MetricsResult:
    """Metrics of every client (``clients``, or every client with a deal) as of ``as_of``.

    ``deals`` has :data:`~sheets_sync.orders.columns.DEAL_COLUMNS`; ``has_cost`` says whether
    the source has a cost at all (if not, ``costs_12m`` is blank for everyone)."""
    limits = {**DEFAULT_THRESHOLDS, **{k: float(v) for k, v in (thresholds or {}).items()
                                       if k in DEFAULT_THRESHOLDS}}
    column = deals["client_id"]
    if isinstance(column.dtype, pd.CategoricalDtype):  # as the readers give them: encoded once
        fcodes = column.cat.codes.to_numpy(dtype=np.int64)
        distinct = column.cat.categories.to_numpy(dtype=object)
    else:  # hash the ids once, then map the distinct ones (far fewer) onto the universe
        fcodes, distinct = pd.factorize(column.to_numpy(dtype=object))
    if clients is None:
        won_codes = np.unique(fcodes[deals["won"].to_numpy(dtype=bool) & (fcodes >= 0)])
        universe = pd.Index(distinct[won_codes], dtype=object).astype(str)
    else:
        universe = pd.Index(pd.unique(np.asarray(list(clients), dtype=object))).astype(str)
    n = len(universe)
    mapped = universe.get_indexer(pd.Index(distinct, dtype=object).astype(str)) \
        if len(distinct) else np.zeros(0, dtype=np.int64)
    codes = np.where(fcodes >= 0, mapped[np.maximum(fcodes, 0)] if len(mapped) else -1, -1)
    day_ns = pd.Timestamp(as_of).value
    dates = deals["date"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    nat = dates == np.iinfo(np.int64).min
    dates = dates - dates % _DAY  # the day
    amount = deals["amount"].to_numpy(dtype="float64", na_value=np.nan)
    won = deals["won"].to_numpy(dtype=bool)
    valid = won & ~nat & ~np.isnan(amount)
    future = int((valid & (dates > day_ns)).sum())
    known = codes >= 0
    unknown = int((valid & ~known).sum())
    use = valid & known & (dates <= day_ns)
    c, d, a = codes[use], dates[use], amount[use]
    cost = deals["cost"].to_numpy(dtype="float64", na_value=np.nan)[use]

    # all time: first and last order, and who has a deal at all
    count_all = np.bincount(c, minlength=n)
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first, c, d)
    np.maximum.at(last, c, d)
    any_deal = count_all > 0

    # the 365 days up to and including the sync date
    w = d > day_ns - 365 * _DAY
    cw = c[w]
    revenue = np.bincount(cw, a[w], minlength=n)
    orders = np.bincount(cw, minlength=n)
    cost_w = cost[w]
    with_cost = ~np.isnan(cost_w)
    costs = np.bincount(cw[with_cost], cost_w[with_cost], minlength=n)
    cost_count = np.bincount(cw[with_cost], minlength=n)
    costs_blank = np.full(n, True) if not has_cost else (orders > 0) & (cost_count == 0)

    # the last 12 full calendar months
    # the month of each deal among them: 13 month boundaries, one binary search per deal
    first_month = (as_of.year * 12 + as_of.month - 1) - 12
    bounds = np.array([pd.Timestamp(year=(first_month + i) // 12, month=(first_month + i) % 12 + 1, day=1).value
                       for i in range(13)], dtype=np.int64)
    k = np.searchsorted(bounds, d, side="right") - 1
    inside = (k >= 0) & (k < 12)
    slots = c[inside] * 12 + k[inside]
    sums = np.bincount(slots, a[inside], minlength=n * 12).reshape(n, 12)
    active = (np.bincount(slots, minlength=n * 12).reshape(n, 12) > 0).sum(axis=1)
    mean = sums.mean(axis=1) if n else np.zeros(0)
    std = sums.std(axis=1) if n else np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = _round(np.where(mean > 0, std / np.where(mean > 0, mean, 1.0), np.nan))
    xyz = np.where(np.isnan(cv), None,
                   np.where(cv <= limits["xyz_x"], "X", np.where(cv <= limits["xyz_y"], "Y", "Z")))

    # ABC by cumulative share of revenue_12m (ties by client id)
    abc = np.full(n, None, dtype=object)
    positive = np.flatnonzero(revenue > 0)
    if len(positive):
        keys = universe.to_numpy(dtype=object)[positive]
        order = positive[np.lexsort((keys.astype(str), -revenue[positive]))]
        running = np.cumsum(revenue[order])
        before = (running - revenue[order]) / running[-1]
        abc[order] = np.where(before < limits["abc_a"], "A",
                              np.where(before < limits["abc_b"], "B", "C"))

    # RFM: quintiles among the clients with a won deal
    scores = {}
    ranked = np.flatnonzero(any_deal)
    m = len(ranked)
    for name, values in (("r_score", last), ("f_score", orders), ("m_score", revenue)):
        out = np.full(n, np.nan)
        if m:
            v = values[ranked]
            at_most = np.searchsorted(np.sort(v), v, side="right")
            out[ranked] = (5 * at_most + m - 1) // m
        scores[name] = out
    rfm = np.full(n, None, dtype=object)
    if m:
        code = (scores["r_score"][ranked] * 100 + scores["f_score"][ranked] * 10
                + scores["m_score"][ranked]).astype(np.int64)
        rfm[ranked] = _CODES[code]

    def day_column(values: np.ndarray) -> np.ndarray:
        out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        out[any_deal] = values[any_deal].astype("datetime64[ns]")
        return out

    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(orders > 0, revenue / np.where(orders > 0, orders, 1), np.nan)
    frame = pd.DataFrame({
        "revenue_12m": pd.array(revenue, dtype="Float64"),
        "orders_12m": pd.array(orders.astype("float64"), dtype="Float64"),
        "first_order": day_column(first),
        "last_order": day_column(last),
        "avg_order": pd.array(avg, dtype="Float64"),
        "costs_12m": pd.array(np.where(costs_blank, np.nan, costs), dtype="Float64"),
        "months_active_12m": pd.array(active.astype("float64"), dtype="Float64"),
        "cv_12m": pd.array(cv, dtype="Float64"),
        "xyz": pd.array(xyz, dtype="string"),
        "abc": pd.array(abc, dtype="string"),
        "r_score": pd.array(scores["r_score"], dtype="Float64"),
        "f_score": pd.array(scores["f_score"], dtype="Float64"),
        "m_score": pd.array(scores["m_score"], dtype="Float64"),
        "rfm": pd.array(rfm, dtype="string"),
    }, index=universe)
    return MetricsResult(frame, int(use.sum()), unknown, future)
