"""The row-by-row oracle of :func:`sheets_sync.orders.metrics.order_metrics`: the definitions
of the README written out client by client, deal by deal, in plain Python. The property test
checks the vectorized code against it; ``bench/orders.py`` times it as the naive way."""

from __future__ import annotations

import bisect
import math
from datetime import date, timedelta
from typing import Any


def rowwise_metrics(deals: list[dict[str, Any]], as_of: date, clients: list[str],
                    has_cost: bool = True, xyz: tuple[float, float] = (0.10, 0.25),
                    abc: tuple[float, float] = (0.80, 0.95)) -> dict[str, dict[str, Any]]:
    """``deals``: dicts with client_id, amount, date (a date), cost (float or None), won."""
    by_client: dict[str, list[dict[str, Any]]] = {cid: [] for cid in clients}
    for deal in deals:
        if not deal["won"] or deal["date"] is None or deal["amount"] is None:
            continue
        if deal["amount"] != deal["amount"] or deal["date"] > as_of:
            continue
        if deal["client_id"] in by_client:
            by_client[deal["client_id"]].append(deal)
    window_start = as_of - timedelta(days=364)
    months = []
    y, m = as_of.year, as_of.month
    for _ in range(12):
        m -= 1
        if m == 0:
            y, m = y - 1, 12
        months.append((y, m))
    out: dict[str, dict[str, Any]] = {}
    for cid in clients:
        mine = by_client[cid]
        revenue, orders, costs, cost_seen = 0.0, 0, 0.0, 0
        first = last = None
        monthly = {key: 0.0 for key in months}
        monthly_count = {key: 0 for key in months}
        for deal in mine:
            day = deal["date"]
            first = day if first is None or day < first else first
            last = day if last is None or day > last else last
            if window_start <= day <= as_of:
                revenue += deal["amount"]
                orders += 1
                if deal.get("cost") is not None and deal["cost"] == deal["cost"]:
                    costs += deal["cost"]
                    cost_seen += 1
            key = (day.year, day.month)
            if key in monthly:
                monthly[key] += deal["amount"]
                monthly_count[key] += 1
        sums = list(monthly.values())
        mean = sum(sums) / 12
        if mean > 0:
            variance = sum((s - mean) ** 2 for s in sums) / 12
            cv = round_half_away(math.sqrt(variance) / mean)
            cls = "X" if cv <= xyz[0] else ("Y" if cv <= xyz[1] else "Z")
        else:
            cv, cls = None, None
        if not has_cost or (orders and not cost_seen):
            costs_out = None
        else:
            costs_out = costs
        out[cid] = {
            "revenue_12m": revenue, "orders_12m": orders, "first_order": first,
            "last_order": last, "avg_order": revenue / orders if orders else None,
            "costs_12m": costs_out,
            "months_active_12m": sum(1 for v in monthly_count.values() if v > 0),
            "cv_12m": cv, "xyz": cls, "abc": None,
            "r_score": None, "f_score": None, "m_score": None, "rfm": None,
        }
    ranked = sorted((cid for cid in clients if out[cid]["revenue_12m"] > 0),
                    key=lambda cid: (-out[cid]["revenue_12m"], cid))
    total = sum(out[cid]["revenue_12m"] for cid in ranked)
    before = 0.0
    for cid in ranked:
        share = before / total
        out[cid]["abc"] = "A" if share < abc[0] else ("B" if share < abc[1] else "C")
        before += out[cid]["revenue_12m"]
    buyers = [cid for cid in clients if out[cid]["first_order"] is not None]
    ordered = {key: sorted(out[cid][key] for cid in buyers)
               for key in ("last_order", "orders_12m", "revenue_12m")}
    for cid in buyers:
        scores = []
        for key in ("last_order", "orders_12m", "revenue_12m"):
            at_most = bisect.bisect_right(ordered[key], out[cid][key])  # clients with <= mine
            scores.append(math.ceil(5 * at_most / len(buyers)))
        out[cid]["r_score"], out[cid]["f_score"], out[cid]["m_score"] = scores
        out[cid]["rfm"] = "".join(str(s) for s in scores)
    return out


def round_half_away(value: float, decimals: int = 6) -> float:
    scaled = value * 10 ** decimals
    return math.copysign(math.floor(abs(scaled) + 0.5), scaled) / 10 ** decimals
