"""Derived metrics of the client table, computed before any rule runs.

The domain's point is that profit is judged as a ratio: 200,000 of revenue on 100,000 of
costs (ROI 100 %) beats 1,000,000 on 900,000 (ROI 11 %), though the profit is the same.
Definitions are listed in :data:`sheets_sync.rules.loader.BUILTIN_METRICS`.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

#: Derived percentages and ratios are rounded to this many decimals, in pandas, SQL and the
#: formulas alike, so float noise never decides a threshold: 3.30 on costs of 2.20 is ROI
#: 50 % exactly (not 49.99999999999998), and ``roi_pct >= 50`` holds.
RATIO_DECIMALS = 6


def round_ratio(values: pd.Series) -> pd.Series:
    """``values`` rounded to :data:`RATIO_DECIMALS` decimals, half away from zero as SQL's and
    spreadsheets' ROUND do."""
    floats = values.to_numpy(dtype="float64", na_value=np.nan)
    scale = 10.0 ** RATIO_DECIMALS
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = floats * scale
        rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5) / scale
    return pd.Series(pd.array(rounded, dtype="Float64"), index=values.index)


def add_metrics(frame: pd.DataFrame, as_of: date, counted: pd.Series | None = None) -> pd.DataFrame:
    """Return ``frame`` with profit, roi_pct, margin_pct, profit_share_cum, tenure_months and
    recency_days added. ``counted`` masks the clients whose profit counts in the Pareto total
    (qualified ones); by default all."""
    out = frame.copy()
    revenue = out["revenue"].astype("Float64")
    costs = out["costs"].astype("Float64")
    profit = revenue - costs
    out["profit"] = profit
    out["roi_pct"] = round_ratio((profit / costs * 100).where(costs > 0))
    out["margin_pct"] = round_ratio((profit / revenue * 100).where(revenue > 0))
    out["profit_share_cum"] = profit_share_cum(profit, counted)
    today = pd.Timestamp(as_of)
    first = pd.to_datetime(out["first_order"])
    last = pd.to_datetime(out["last_order"])
    out["tenure_months"] = _months_between(first, today)
    out["recency_days"] = pd.array((today - last).dt.days, dtype="Float64")
    return out


def profit_share_cum(profit: pd.Series, counted: pd.Series | None = None) -> pd.Series:
    """Pareto position: the share of the total positive profit made by the clients ranked
    above this one (clients by profit, highest first; the top client has 0).

    ``profit_share_cum < 0.8`` then selects the clients who together make the first 80 % of
    profit, including the one who crosses the line, so a client who alone brings 93 % of the
    profit is in, as ABC analysis wants. Ties are broken by position, so the result is
    deterministic. Clients with no positive profit (or not ``counted``) get a blank.
    """
    values = profit.to_numpy(dtype="float64", na_value=np.nan)
    mask = np.nan_to_num(values, nan=0.0) > 0
    if counted is not None:
        mask &= counted.to_numpy(dtype=bool, na_value=False)
    result = np.full(len(values), np.nan)
    if mask.any():
        positions = np.flatnonzero(mask)
        order = positions[np.argsort(-values[positions], kind="stable")]
        cumulative = np.cumsum(values[order])
        result[order] = (cumulative - values[order]) / cumulative[-1]
    return pd.Series(pd.array(result, dtype="Float64"), index=profit.index).where(mask)


def _months_between(start: pd.Series, end: pd.Timestamp) -> pd.Series:
    months = (end.year - start.dt.year) * 12 + (end.month - start.dt.month)
    months = months - (start.dt.day > end.day).astype("float64")
    return pd.Series(pd.array(months.to_numpy(dtype="float64", na_value=np.nan), dtype="Float64"),
                     index=start.index)
