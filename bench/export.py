"""Benchmark: the Excel export of N synthetic clients against pandas' ``to_excel``.

    python bench/export.py [--clients 10000 100000]

For each size, the table is categorized first (not timed); then, each in a fresh process, the
export into the default template (``--pareto auto``: a live Pareto share up to 10,000 clients,
a fixed one above) and pandas' ``DataFrame.to_excel`` (openpyxl engine, no template) of the
same columns. Prints seconds, peak memory (max RSS of the step above the process's RSS before
it) and the ratio export / to_excel.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from categorize import TODAY, synthetic  # noqa: E402


def _outcome(n: int):  # type: ignore[no-untyped-def]
    from sheets_sync.categorize import categorize
    from sheets_sync.rules import load_rules
    from sheets_sync.table import ClientTable

    rules = load_rules(ROOT / "rules.py")
    return rules, categorize(ClientTable(synthetic(n), {}, {}), rules, TODAY).frame


def _step(kind: str, n: int, pareto: str, folder: str, queue: mp.Queue) -> None:
    rules, outcome = _outcome(n)
    from sheets_sync.excel import ExportOptions, export_table

    out = Path(folder) / f"{kind}-{n}.xlsx"
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    if kind == "export":
        export_table(outcome, rules, out, as_of=TODAY, options=ExportOptions(pareto=pareto))
    else:
        columns = ["id", "name", "category", "manual_category", "rule_category", "stage", "reason", "notes",
                   "revenue", "costs", "orders_12m", "first_order", "last_order", "overdue_days", "referrals",
                   "potential", "nps", "blacklisted", "profit", "roi_pct", "margin_pct", "profit_share_cum",
                   "tenure_months", "recency_days", *(m.name for m in rules.metrics), "qualified", "problems"]
        outcome[columns].to_excel(out, sheet_name="Clients", index=False, engine="openpyxl")
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    queue.put((seconds, peak / 1024, out.stat().st_size / 1e6))


def run(kind: str, n: int, pareto: str, folder: str) -> tuple[float, float, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_step, args=(kind, n, pareto, folder, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--pareto", choices=["auto", "live", "fixed"], default="auto")
    args = parser.parse_args()
    print(f"{'clients':>8}  {'step':<28} {'seconds':>8} {'peak MiB':>9} {'file MB':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for n in args.clients:
            pareto = args.pareto if args.pareto != "auto" else ("live" if n <= 10_000 else "fixed")
            ours = run("export", n, pareto, folder)
            naive = run("to_excel", n, pareto, folder)
            print(f"{n:>8}  {'export (template, ' + pareto + ' Pareto)':<28} {ours[0]:>8.2f} {ours[1]:>9.0f} "
                  f"{ours[2]:>8.1f}")
            print(f"{n:>8}  {'pandas to_excel (openpyxl)':<28} {naive[0]:>8.2f} {naive[1]:>9.0f} "
                  f"{naive[2]:>8.1f}")
            print(f"{n:>8}  ratio export / to_excel: {ours[0] / naive[0]:.2f}× time, "
                  f"{ours[1] / max(naive[1], 1):.2f}× peak memory")


if __name__ == "__main__":
    main()
