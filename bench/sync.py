"""Benchmark: syncs of N clients into the local workbook (the embedded default), against a floor.

    python bench/sync.py [--clients 10000 100000] [--changed 0.01] [--repeat 3] [--profile DIR]

For each size: a demo CRM of N clients (``sheets_sync.demo``, no sync yet) and the workbook
backend, then, each in a fresh process (spawned, so that its peak memory is its own):

* the **first** sync (an empty workbook: every tab, the layout and the rows written; once);
* a **steady** sync after raising the revenue of ``--changed`` of the clients in the CRM
  (a new sample each repetition);
* a **no-op** sync (nothing changed).

Each sync goes through the real code path (config -> CRM -> categorize -> workbook backend ->
CRM) and prints its seconds (wall, end to end inside the process, imports excluded), the part
spent in the workbook backend's read and write, which write path it took (``patch`` or
``openpyxl``; ``-`` when nothing was written), and the **peak RSS of the whole process**
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, taken right after the sync, so it includes the
interpreter, pandas and numpy, about 150 MB; ``tracemalloc`` is not used: it slows every
allocation and would distort the times).

**The floor**, measured in the same process right after the sync: the time python-calamine
(a Rust reader; ``pip install python-calamine``, a benchmark-only dependency) takes to read
the values of the four tabs the sync reads. The ratio printed is sync / floor. Steady and
no-op syncs are repeated ``--repeat`` times; the minimum is printed (the machine is shared).

``--profile DIR`` writes a cProfile of one no-op and one steady sync per size (top functions
by cumulative time), to see where the time outside the workbook goes.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from google_sheets import change_crm  # the same 1 % change as the Google benchmark (bench/ is on the path)

TODAY = date(2026, 11, 23)
NOW = "2026-11-23T10:00:00"
TABS = ["Clients", "History", "Legend", "Summary"]


def floor_seconds(workbook: Path) -> float:
    """python-calamine reading the values of the tabs a sync reads."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        raise SystemExit("the floor is python-calamine's read: pip install python-calamine") from None
    start = time.perf_counter()
    book = CalamineWorkbook.from_path(str(workbook))
    for tab in TABS:
        if tab in book.sheet_names:
            book.get_sheet_by_name(tab).to_python(skip_empty_area=False)
    book.close()
    return time.perf_counter() - start


def _timed(fn: Any, name: str, spent: dict[str, float]) -> Any:
    def timed(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - t
    return timed


def _child(config_path: str, profile: str | None, queue: Any) -> None:
    os.environ["SHEETS_SYNC_NOW"] = NOW
    from sheets_sync.config import load_config
    from sheets_sync.sync import locked, open_context, run_sync

    workbook = Path(config_path).parent / "clients.xlsx"
    stamp = workbook.stat().st_mtime_ns if workbook.exists() else None
    spent = {"read": 0.0, "write": 0.0}
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    config = load_config(Path(config_path))
    with locked(config):
        ctx = open_context(config)
        sheet = ctx.sheet
        for name in ("read", "write"):
            setattr(sheet, name, _timed(getattr(sheet, name), name, spent))
        summary = run_sync(ctx)
    seconds = time.perf_counter() - start
    if profiler is not None and profile:
        import pstats

        profiler.disable()
        with open(profile, "w") as out:
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rewritten = workbook.stat().st_mtime_ns != stamp
    floor = floor_seconds(workbook)
    queue.put({"seconds": seconds, "read": spent["read"], "write": spent["write"], "peak": peak,
               "floor": floor, "path": getattr(sheet, "path_taken", "") if rewritten else "-",
               "cells": summary.cells_updated, "rows": summary.rows_added})


def run(config: Path, profile: Path | None = None) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(str(config), str(profile) if profile else None, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(min(runs, key=lambda r: r["seconds"]))
    out["floor"] = min(r["floor"] for r in runs)
    out["peak"] = max(r["peak"] for r in runs)
    out["n"] = len(runs)
    return out


def line(label: str, r: dict[str, Any]) -> str:
    return (f"| {label} | {r['seconds']:.2f} | {r['read']:.2f} | {r['write']:.2f} | {r['path']} | "
            f"{r['peak']:,.0f} MB | {r['floor']:.2f} | {r['seconds'] / r['floor']:.1f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args()
    from sheets_sync.demo import create_demo

    print("| clients, sync | seconds | sheet read | sheet write | write path | peak RSS | floor (calamine) "
          "| ratio |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for n in args.clients:
        with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
            paths = create_demo(Path(tmp) / "demo", clients=n, today=TODAY)
            config = paths["config"]
            print(line(f"{n:,}: first", best([run(config)])), flush=True)
            steady_runs, noop_runs = [], []
            changed = 0
            for i in range(args.repeat):
                changed = change_crm(paths["crm"], args.changed, seed=i)
                prof = args.profile / f"steady-{n}.txt" if args.profile and i == 0 else None
                steady_runs.append(run(config, prof))
                prof = args.profile / f"noop-{n}.txt" if args.profile and i == 0 else None
                noop_runs.append(run(config, prof))
            steady, noop = best(steady_runs), best(noop_runs)
            print(line(f"{n:,}: steady ({changed:,} clients, {steady['cells']:,} cells)", steady), flush=True)
            print(line(f"{n:,}: no-op", noop), flush=True)
            print(f"|  | steady / no-op = {steady['seconds'] / noop['seconds']:.2f}x | | | | | | |", flush=True)


if __name__ == "__main__":
    if "--profile" in sys.argv:
        Path(sys.argv[sys.argv.index("--profile") + 1]).mkdir(parents=True, exist_ok=True)
    main()
