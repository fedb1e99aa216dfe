"""Metrics per client from the deals, vectorized: one pass of numpy group sums on encoded ids.

Two steps: the deals are summed per client (:class:`Sums`: counts, first and last day, the
365-day window's sums, the 12 monthly sums) and the metrics are computed from those sums
(:func:`metrics_from_sums`: cv/xyz, ABC, RFM quintiles). The SQL source has the database do
the first step (one ``GROUP BY`` query, ``orders/sql.py``) and hands its rows to
:func:`order_metrics_from_groups`.

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
from ..parsing import id_text
from .columns import DEFAULT_THRESHOLDS

_NAT = np.iinfo(np.int64).min
_NONE_FIRST = np.iinfo(np.int64).max
_NONE_LAST = np.iinfo(np.int64).min
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


@dataclass
class Sums:
    """The won deals up to the sync date, summed per client (days: int64 days since 1970)."""

    count_all: np.ndarray  # deals, all time
    first: np.ndarray  # first day (int64 max without deals)
    last: np.ndarray  # last day (int64 min without deals)
    revenue: np.ndarray  # the 365 days up to the sync date
    orders: np.ndarray
    costs: np.ndarray
    cost_count: np.ndarray  # deals of the window that carry a cost
    months: np.ndarray  # (clients, 12) sums of the last 12 full calendar months
    month_counts: np.ndarray  # (clients, 12) deals in them


@dataclass
class GroupSums:
    """What a database's ``GROUP BY`` of the client column returned: the groups' raw ids and
    their :class:`Sums`, the day of each client's last won deal after the sync date, and how
    many such deals there are."""

    ids: list[object]
    sums: Sums
    future_last: dict[str, date]
    future: int


def _texts(values: np.ndarray) -> np.ndarray:
    """Ids as text, an object array (kept as they are when they already are text)."""
    values = np.asarray(values, dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return values
    return values.astype(str).astype(object)


def day_number(day: date) -> int:
    """Days since 1970-01-01."""
    return (day - date(1970, 1, 1)).days


def month_bounds(as_of: date) -> list[date]:
    """The first days of the last 12 full calendar months, and of the sync date's month."""
    first_month = (as_of.year * 12 + as_of.month - 1) - 12
    return [date((first_month + i) // 12, (first_month + i) % 12 + 1, 1) for i in range(13)]


def _limits(thresholds: Mapping[str, float | str] | None) -> dict[str, float]:
    return {**DEFAULT_THRESHOLDS, **{k: float(v) for k, v in (thresholds or {}).items()
                                     if k in DEFAULT_THRESHOLDS}}


def order_metrics(deals: pd.DataFrame, as_of: date, clients: Iterable[str] | None = None, *,
                  thresholds: Mapping[str, float | str] | None = None,
                  has_cost: bool = True) -> MetricsResult:
    """Metrics of every client (``clients``, or every client with a deal) as of ``as_of``.

    ``deals`` has :data:`~sheets_sync.orders.columns.DEAL_COLUMNS`; ``has_cost`` says whether
    the source has a cost at all (if not, ``costs_12m`` is blank for everyone)."""
    column = deals["client_id"]
    if isinstance(column.dtype, pd.CategoricalDtype):  # as the readers give them: encoded once
        fcodes = column.cat.codes.to_numpy()
        distinct = column.cat.categories.to_numpy(dtype=object)
    else:  # hash the ids once, then map the distinct ones (far fewer) onto the universe
        fcodes, distinct = pd.factorize(column.to_numpy(dtype=object))
    won = deals["won"].to_numpy(dtype=bool)
    if clients is None:
        seen = np.zeros(len(distinct), dtype=bool)
        seen[fcodes[won & (fcodes >= 0)]] = True
        asked = _texts(distinct[seen])
    else:
        asked = _texts(np.asarray(list(clients), dtype=object))
    # one hash pass over the clients asked for, then the distinct ids of the deals: the
    # clients come first, so the first codes are the universe in the order asked
    both, uniques = pd.factorize(np.concatenate([asked, _texts(distinct)]))
    n = int(both[:len(asked)].max()) + 1 if len(asked) else 0
    universe = pd.Index(uniques[:n], dtype=object)
    # distinct id -> client (-1: not a client asked for); one more slot for a missing id
    mapped = np.full(len(distinct) + 1, -1, dtype=np.int64)
    found = both[len(asked):]
    mapped[:-1] = np.where(found < n, found, -1)
    codes = mapped[fcodes]  # a missing id (-1) takes the last slot

    as_day = day_number(as_of)
    days = deals["date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").view(np.int64)
    amount = deals["amount"].to_numpy(dtype="float64", na_value=np.nan)
    valid = won & (days != _NAT) & (amount == amount)
    in_time = days <= as_day
    future = int(np.count_nonzero(valid & ~in_time))
    valid &= in_time
    known = codes >= 0
    unknown = int(np.count_nonzero(valid & ~known))
    use = valid & known
    c, d, a = codes[use], days[use], amount[use]
    cost = deals["cost"].to_numpy(dtype="float64", na_value=np.nan)[use]
    sums = _sum_deals(n, c, d, a, cost, as_of)
    frame = metrics_from_sums(universe, sums, thresholds=thresholds, has_cost=has_cost)
    return MetricsResult(frame, len(c), unknown, future)


def _sum_deals(n: int, c: np.ndarray, d: np.ndarray, a: np.ndarray, cost: np.ndarray,
               as_of: date) -> Sums:
    """Sums per client of deals already filtered to the usable ones (client code, day, amount,
    cost)."""
    as_day = day_number(as_of)
    count_all = np.bincount(c, minlength=n)
    first = np.full(n, _NONE_FIRST, dtype=np.int64)
    last = np.full(n, _NONE_LAST, dtype=np.int64)
    np.minimum.at(first, c, d)
    np.maximum.at(last, c, d)

    # the 365 days up to and including the sync date
    w = d >= as_day - 364
    cw = c[w]
    revenue = np.bincount(cw, a[w], minlength=n)
    orders = np.bincount(cw, minlength=n)
    cost_w = cost[w]
    with_cost = cost_w == cost_w
    costs = np.bincount(cw[with_cost], cost_w[with_cost], minlength=n)
    cost_count = np.bincount(cw[with_cost], minlength=n)

    # the last 12 full calendar months: a table day -> month over the ~365 days they span
    bounds = np.array([day_number(b) for b in month_bounds(as_of)], dtype=np.int64)
    inside = (d >= bounds[0]) & (d < bounds[12])
    month_of_day = np.repeat(np.arange(12), np.diff(bounds))
    slots = c[inside] * 12 + month_of_day[d[inside] - bounds[0]]
    months = np.bincount(slots, a[inside], minlength=n * 12).reshape(n, 12)
    month_counts = np.bincount(slots, minlength=n * 12).reshape(n, 12)
    return Sums(count_all, first, last, revenue, orders, costs, cost_count, months, month_counts)


def order_metrics_from_groups(groups: GroupSums, clients: Iterable[str], *,
                              thresholds: Mapping[str, float | str] | None = None,
                              has_cost: bool = True) -> MetricsResult:
    """The metrics from sums per group of deals (a database's ``GROUP BY`` of the client
    column): groups whose ids read as the same text (``12`` and ``"12"``) are added up."""
    ids, sums = groups.ids, groups.sums
    universe = pd.Index(pd.unique(_texts(np.asarray(list(clients), dtype=object))), dtype=object)
    n = len(universe)
    texts = pd.Index([id_text(v) for v in ids], dtype=object)
    codes = universe.get_indexer(texts) if len(texts) else np.zeros(0, dtype=np.int64)
    known = codes >= 0
    unknown = int(sums.count_all[~known].sum())
    k = codes[known]

    def add(values: np.ndarray) -> np.ndarray:
        return np.bincount(k, values[known], minlength=n)

    first = np.full(n, _NONE_FIRST, dtype=np.int64)
    last = np.full(n, _NONE_LAST, dtype=np.int64)
    np.minimum.at(first, k, sums.first[known])
    np.maximum.at(last, k, sums.last[known])
    months = np.zeros((n, 12))
    month_counts = np.zeros((n, 12), dtype=np.int64)
    np.add.at(months, k, sums.months[known])
    np.add.at(month_counts, k, sums.month_counts[known])
    total = Sums(add(sums.count_all).astype(np.int64), first, last, add(sums.revenue),
                 add(sums.orders).astype(np.int64), add(sums.costs),
                 add(sums.cost_count).astype(np.int64), months, month_counts)
    frame = metrics_from_sums(universe, total, thresholds=thresholds, has_cost=has_cost)
    return MetricsResult(frame, int(total.count_all.sum()), unknown, groups.future)


def metrics_from_sums(universe: pd.Index, sums: Sums, *,
                      thresholds: Mapping[str, float | str] | None = None,
                      has_cost: bool = True) -> pd.DataFrame:
    """The metrics frame (index: ``universe``) from the sums of its clients."""
    limits = _limits(thresholds)
    n = len(universe)
    revenue, orders, last = sums.revenue, sums.orders, sums.last
    any_deal = sums.count_all > 0
    costs_blank = np.full(n, True) if not has_cost else (orders > 0) & (sums.cost_count == 0)
    active = (sums.month_counts > 0).sum(axis=1)
    mean = sums.months.mean(axis=1) if n else np.zeros(0)
    std = sums.months.std(axis=1) if n else np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = _round(np.where(mean > 0, std / np.where(mean > 0, mean, 1.0), np.nan))
    xyz = np.where(np.isnan(cv), None,
                   np.where(cv <= limits["xyz_x"], "X", np.where(cv <= limits["xyz_y"], "Y", "Z")))

    # ABC by cumulative share of revenue_12m (ties by client id)
    abc = np.full(n, None, dtype=object)
    positive = np.flatnonzero(revenue > 0)
    if len(positive):
        order = positive[np.argsort(-revenue[positive], kind="stable")]
        ranked_revenue = revenue[order]
        tied = np.flatnonzero(ranked_revenue[1:] == ranked_revenue[:-1])
        if len(tied):  # equal revenue: by client id, among the tied ones only
            spots = np.union1d(tied, tied + 1)
            keys = universe.to_numpy(dtype=object)[order[spots]].astype(str)
            order[spots] = order[spots][np.lexsort((keys, -ranked_revenue[spots]))]
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
            if v.dtype.kind == "i" and v.max() - v.min() < 4 * m:  # days, counts: a histogram
                low = v - v.min()
                at_most = np.cumsum(np.bincount(low))[low]
            else:
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
        out[any_deal] = values[any_deal].astype("datetime64[D]").astype("datetime64[ns]")
        return out

    with np.errstate(invalid="ignore", divide="ignore"):
        avg = np.where(orders > 0, revenue / np.where(orders > 0, orders, 1), np.nan)
    return pd.DataFrame({
        "revenue_12m": pd.array(revenue, dtype="Float64"),
        "orders_12m": pd.array(orders.astype("float64"), dtype="Float64"),
        "first_order": day_column(sums.first),
        "last_order": day_column(last),
        "avg_order": pd.array(avg, dtype="Float64"),
        "costs_12m": pd.array(np.where(costs_blank, np.nan, sums.costs), dtype="Float64"),
        "months_active_12m": pd.array(active.astype("float64"), dtype="Float64"),
        "cv_12m": pd.array(cv, dtype="Float64"),
        "xyz": pd.array(xyz, dtype="string"),
        "abc": pd.array(abc, dtype="string"),
        "r_score": pd.array(scores["r_score"], dtype="Float64"),
        "f_score": pd.array(scores["f_score"], dtype="Float64"),
        "m_score": pd.array(scores["m_score"], dtype="Float64"),
        "rfm": pd.array(rfm, dtype="string"),
    }, index=universe)
