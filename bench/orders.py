"""Benchmark: the deals' metrics for N deals over M clients.

    python bench/orders.py [--deals 1000000] [--clients 100000]

Each way runs in a fresh process that first builds the same synthetic deals (a fixed seed;
three years of won and lost deals, some with a cost), then times only the aggregation:

* vectorized: :func:`sheets_sync.orders.metrics.order_metrics` (numpy/pandas group sums) on
  the deals as the readers give them (client ids dictionary-encoded, a pandas Categorical);
* vectorized, text ids: the same on client ids as plain Python strings (hashed once inside);
* row by row: ``tests/orders_rowwise.py``, the plain-Python oracle of the tests, over the same
  deals as a list of dicts (all of them: nothing is extrapolated).

Prints seconds, the process's peak RSS (whole process: interpreter, pandas and the deals
included) and the RSS the deals alone took before the aggregation, and the ratio of the two
times, measured in the same run. Targets (issue 17): at least 50x, under 3 s and 1 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 23)


def synthetic(deals: int, clients: int, seed: int = 17) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # a few big clients buy a lot, most buy now and then (a Zipf-like skew)
    who = np.minimum(rng.zipf(1.3, deals) - 1, clients - 1)
    who = (who * 7919 + rng.integers(0, clients, deals) * (rng.random(deals) < 0.5)) % clients
    days = rng.integers(0, 3 * 365, deals)
    amount = rng.lognormal(10, 1.0, deals).round(2)
    cost = np.where(rng.random(deals) < 0.7, (amount * rng.uniform(0.4, 0.95, deals)).round(2), np.nan)
    return pd.DataFrame({
        "client_id": np.char.add("c", who.astype(str)).astype(object),
        "amount": amount,
        "date": (pd.Timestamp(TODAY) - pd.to_timedelta(days, unit="D")).to_numpy(),
        "cost": cost,
        "won": rng.random(deals) < 0.8,
    })


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(way: str, deals: int, clients: int) -> dict[str, float]:
    frame = synthetic(deals, clients)
    ids = [f"c{i}" for i in range(clients)]
    if way in ("vectorized", "text-ids"):
        from sheets_sync.orders.metrics import order_metrics

        if way == "vectorized":  # as the readers give it
            frame["client_id"] = pd.Categorical(frame["client_id"])

        before = _rss_mb()
        start = time.perf_counter()
        result = order_metrics(frame, TODAY, ids)
        seconds = time.perf_counter() - start
        rows = len(result.frame)
    else:
        sys.path.insert(0, str(ROOT))
        from tests.orders_rowwise import rowwise_metrics

        records = [{"client_id": c, "amount": a, "date": d, "cost": None if k != k else k, "won": w}
                   for c, a, d, k, w in zip(frame["client_id"], frame["amount"],
                                            pd.DatetimeIndex(frame["date"]).date, frame["cost"],
                                            frame["won"], strict=True)]
        del frame
        before = _rss_mb()
        start = time.perf_counter()
        rows = len(rowwise_metrics(records, TODAY, ids))
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": _rss_mb(), "before_mb": before, "clients": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--way", choices=["vectorized", "text-ids", "rowwise"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:
        print(json.dumps(run(args.way, args.deals, args.clients)))
        return
    results = {}
    for way in ("vectorized", "text-ids", "rowwise"):
        out = subprocess.run([sys.executable, __file__, "--way", way, "--deals", str(args.deals),
                              "--clients", str(args.clients)], capture_output=True, text=True, check=True)
        results[way] = json.loads(out.stdout)
    print(f"{args.deals:,} deals over {args.clients:,} clients, as of {TODAY}")
    print(f"{'':<12}{'seconds':>10}{'peak RSS':>12}{'of it before':>14}")
    for way, r in results.items():
        print(f"{way:<12}{r['seconds']:>10.2f}{r['peak_mb']:>9,.0f} MB{r['before_mb']:>11,.0f} MB")
    for way in ("vectorized", "text-ids"):
        ratio = results["rowwise"]["seconds"] / results[way]["seconds"]
        print(f"row by row / {way}: {ratio:.0f}x (target: at least 50x, under 3 s and 1 GB)")


if __name__ == "__main__":
    main()
