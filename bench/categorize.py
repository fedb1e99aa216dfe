"""Benchmark: categorize N synthetic clients with the default rules.

    python bench/categorize.py [--clients 1000000] [--sample 20000]

Prints seconds and peak memory (max RSS of a fresh process doing only that step) for the
vectorized evaluator, categories only (the floor: the reasons can cost no less) and with the
reason texts in English and in Russian, the ratio of each to the floor, and the ratio against
evaluating the same rules row by row in Python (the reference evaluator, timed on a sample and
extrapolated, as it says). Each vectorized figure is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
TODAY = date(2026, 11, 23)


def synthetic(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    revenue = rng.lognormal(12, 1.2, n).round(2)
    costs = (revenue / rng.uniform(0.8, 3.0, n)).round(2)
    first = pd.Timestamp(TODAY) - pd.to_timedelta(rng.integers(30, 3000, n), unit="D")
    last = pd.Timestamp(TODAY) - pd.to_timedelta(rng.integers(1, 400, n), unit="D")
    frame = pd.DataFrame({
        "id": pd.array(np.arange(n).astype(str), dtype="string"),
        "name": pd.array(np.char.add("client ", np.arange(n).astype(str)), dtype="string"),
        "revenue": pd.array(revenue, dtype="Float64"),
        "costs": pd.array(costs, dtype="Float64"),
        "orders_12m": pd.array(rng.integers(0, 20, n).astype(float), dtype="Float64"),
        "first_order": first.to_numpy(), "last_order": last.to_numpy(),
        "overdue_days": pd.array(rng.choice([0, 0, 0, 10, 45, 100, 200], n).astype(float), dtype="Float64"),
        "referrals": pd.array(rng.integers(0, 4, n).astype(float), dtype="Float64"),
        "potential": pd.array((revenue * rng.uniform(0.2, 5, n)).round(-2), dtype="Float64"),
        "nps": pd.array(np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 11, n)), dtype="Float64"),
        "blacklisted": pd.array(rng.random(n) < 0.01, dtype="boolean"),
        "manual_category": pd.array([None] * n, dtype="string"),
        "notes": pd.array([None] * n, dtype="string"),
    })
    return frame


def _vectorized(n: int, reasons: bool, lang: str, repeat: int, queue: mp.Queue) -> None:
    from sheets_sync.categorize import categorize
    from sheets_sync.i18n import set_language
    from sheets_sync.rules import load_rules
    from sheets_sync.table import ClientTable

    set_language(lang)
    rules = load_rules(ROOT / "rules.py")
    table = ClientTable(synthetic(n), {}, {})
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = categorize(table, rules, TODAY, with_reasons=reasons).frame
        seconds = min(seconds, time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((seconds, peak / 1024, (peak - base) / 1024, out["category"].value_counts().to_dict()))


def _in_process(target, *args):  # type: ignore[no-untyped-def]
    queue: mp.Queue = mp.Queue()
    proc = mp.get_context("fork").Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _row_by_row(n: int, sample: int) -> tuple[float, dict]:
    from sheets_sync.categorize import categorize
    from sheets_sync.rules import load_rules
    sys.path.insert(0, str(ROOT / "tests"))  # the row-by-row oracle lives with the tests
    from rowwise import evaluate_row

    from sheets_sync.table import ClientTable

    rules = load_rules(ROOT / "rules.py")
    # metrics come precomputed, so the naive side only evaluates the rules: generous to it
    prepared = categorize(ClientTable(synthetic(sample), {}, {}), rules, TODAY, with_reasons=False).frame
    records = prepared.astype(object).where(prepared.notna(), None).to_dict("records")
    start = time.perf_counter()
    counts: dict[str, int] = {}
    for row in records:
        row = dict(row)
        for stage in rules.stages:
            if evaluate_row(stage.node, row) is True:
                row["stage"] = stage.code
                break
        for metric in rules.metrics:
            row[metric.name] = evaluate_row(metric.node, row)
        code = next((c.code for c in rules.categories if evaluate_row(c.node, row) is True), "unqualified")
        counts[code] = counts.get(code, 0) + 1
    per_row = (time.perf_counter() - start) / sample
    return per_row * n, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.clients
    print(f"categorize {n:,} synthetic clients with the default rules.py")
    plain = _in_process(_vectorized, n, False, "en", args.repeat)
    full = _in_process(_vectorized, n, True, "en", args.repeat)
    russian = _in_process(_vectorized, n, True, "ru", args.repeat)
    naive_seconds, _ = _row_by_row(n, min(args.sample, n))
    print(f"  vectorized, categories only (floor): {plain[0]:6.2f} s   peak RSS {plain[1]:7.0f} MB")
    for label, result in (("with reasons, English", full), ("with reasons, Russian", russian)):
        print(f"  vectorized, {label:23s}: {result[0]:6.2f} s   peak RSS {result[1]:7.0f} MB   "
              f"{result[0] / plain[0]:.2f}x the floor")
    print(f"  row by row (Python)                 : {naive_seconds:6.2f} s   (timed on {min(args.sample, n):,} "
          "rows, extrapolated)")
    print(f"  ratio row-by-row / vectorized: {naive_seconds / plain[0]:.0f}x (categories only), "
          f"{naive_seconds / full[0]:.0f}x (with reasons)")
    print(f"  categories: {dict(sorted(full[3].items()))}")


if __name__ == "__main__":
    main()
