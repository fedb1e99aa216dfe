"""Benchmark: the deals' metrics for N deals over M clients.

    python bench/orders.py [--deals 1000000] [--clients 100000]

Each way runs in a fresh process that first builds the same synthetic deals (a fixed seed;
three years of won and lost deals, some with a cost), then times only the aggregation:

* vectorized: :func:`sheets_sync.orders.metrics.order_metrics` (numpy/pandas group sums) on
  the deals as the readers give them (client ids dictionary-encoded, a pandas Categorical);
* vectorized, text ids: the same on client ids as plain Python strings (hashed once inside);
* row by row: ``tests/orders_rowwise.py``, the plain-Python oracle of the tests, over the same
  deals as a list of dicts (all of them: nothing is extrapolated);
* SQL: the same deals in a SQLite file (typed columns, ISO dates, written once before the
  runs): ``[orders] source = "sql"`` summing in the database (one aggregate query, then the
  metrics from one row per client) against reading every row and summing in pandas (the way
  the source falls back to when a value cannot be read); each timed from the query to the
  metrics frame.

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
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 23)
WAYS = ["vectorized", "text-ids", "rowwise", "sql-aggregate", "sql-rows"]


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


def write_sqlite(path: Path, deals: int, clients: int) -> None:
    import sqlite3

    frame = synthetic(deals, clients)
    frame = frame[frame["won"]]  # no status column: every row is a won deal
    rows = zip(frame["client_id"], frame["amount"].tolist(),
               pd.DatetimeIndex(frame["date"]).strftime("%Y-%m-%d"),
               frame["cost"].astype(object).where(frame["cost"].notna(), None).tolist(), strict=True)
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, client_id TEXT, amount REAL, "
                   "closed_at DATE, cost REAL)")
        db.executemany("INSERT INTO orders (client_id, amount, closed_at, cost) VALUES (?, ?, ?, ?)", rows)


def run_sql(way: str, path: Path, clients: int) -> dict[str, float]:
    from sheets_sync.config import OrdersSettings
    from sheets_sync.orders.merge import deal_metrics
    from sheets_sync.orders.sql import read_sql
    from sheets_sync.table import ParseOptions

    settings = OrdersSettings(source="sql", path=path, table="orders",
                              columns={"client_id": "client_id", "amount": "amount",
                                       "date": "closed_at", "cost": "cost"})
    ids = [f"c{i}" for i in range(clients)]
    before = _rss_mb()
    start = time.perf_counter()
    deals = read_sql(settings, ParseOptions(), TODAY if way == "sql-aggregate" else None)
    assert (deals.summed is not None) == (way == "sql-aggregate")
    rows = len(deal_metrics(deals, TODAY, ids).frame)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": _rss_mb(), "before_mb": before, "clients": rows}


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
    parser.add_argument("--no-sql", action="store_true", help="skip the SQLite runs")
    parser.add_argument("--way", choices=WAYS, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:
        result = run_sql(args.way, args.db, args.clients) if args.way.startswith("sql") \
            else run(args.way, args.deals, args.clients)
        print(json.dumps(result))
        return
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "orders.sqlite"
        if not args.no_sql:
            write_sqlite(db, args.deals, args.clients)
        for way in WAYS[:3] if args.no_sql else WAYS:
            out = subprocess.run([sys.executable, __file__, "--way", way, "--deals", str(args.deals),
                                  "--clients", str(args.clients), "--db", str(db)],
                                 capture_output=True, text=True, check=True)
            results[way] = json.loads(out.stdout)
    print(f"{args.deals:,} deals over {args.clients:,} clients, as of {TODAY}")
    print(f"{'':<14}{'seconds':>10}{'peak RSS':>12}{'of it before':>14}")
    for way, r in results.items():
        print(f"{way:<14}{r['seconds']:>10.2f}{r['peak_mb']:>9,.0f} MB{r['before_mb']:>11,.0f} MB")
    for way in ("vectorized", "text-ids"):
        ratio = results["rowwise"]["seconds"] / results[way]["seconds"]
        print(f"row by row / {way}: {ratio:.0f}x (target: at least 50x, under 3 s and 1 GB)")
    if "sql-rows" in results:
        ratio = results["sql-rows"]["seconds"] / results["sql-aggregate"]["seconds"]
        print(f"SQLite, {args.deals:,} deals (the won ones stored): reading the rows / summing in "
              f"the database: {ratio:.1f}x")


if __name__ == "__main__":
    main()
