"""Benchmark: a sync of N clients into a Google spreadsheet, through the loopback emulator.

    python bench/google_sheets.py [--clients 10000 100000] [--changed 0.01] [--sample 200]

For each size: a demo CRM of N clients (``sheets_sync.demo``), a service-account key made for
the run, and the project's emulator (``sheets_sync_emulators.google_sheets``) **in this process,
on a server thread on 127.0.0.1** (it shares the two cores and the GIL with the sync, so its own
work is inside the wall times; nothing leaves 127.0.0.1). Three syncs are run through the real
code path (config -> CRM -> categorize -> Google backend through gspread's HTTP client ->
CRM): the first one on an empty spreadsheet, a steady-state one after changing the revenue of
``--changed`` of the clients in the CRM, and a no-op one. For each: requests and request-body
bytes as the emulator logged them, the cells we wrote, and wall time (end to end, and the part
spent in the sheet backend's read and write).

Then the same updates done the common ways, on a second spreadsheet of the same emulator:
gspread-dataframe's ``set_with_dataframe`` (rewrites the whole table; the frame is given, so
its time is the write alone), and gspread's per-cell ``Worksheet.update_cell`` (one request a
cell, timed on a sample of the changed cells and **extrapolated**, as printed). Neither common
way reads the sheet first, so neither would keep an owner's sorting or edits safe; they are
here for the request and byte counts. ``gspread-dataframe`` is a benchmark-only dependency
(``pip install gspread-dataframe``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sheets_sync_emulators.google_sheets.auth import new_key_pair

TODAY = date(2026, 11, 23)
NOW = "2026-11-23T10:00:00"
SA_EMAIL = "bench@sheets-sync-bench.iam.gserviceaccount.com"


@dataclass
class Run:
    """One measured operation."""

    label: str
    requests: int = 0
    bytes_sent: int = 0
    seconds: float = 0.0
    sheet_seconds: float | None = None
    cells: int = 0
    actions: list[str] = field(default_factory=list)
    extrapolated: bool = False
    history_bytes: int = 0  # of bytes_sent: rows appended to the History tab





def make_folder(folder: Path, n: int, server: Any, private: str, key: str) -> Path:
    """A demo folder of ``n`` clients whose config points at spreadsheet ``key`` on the emulator."""
    from sheets_sync.demo import create_demo

    paths = create_demo(folder, clients=n, today=TODAY)
    creds = folder / "service-account.json"
    creds.write_text(json.dumps({
        "type": "service_account", "project_id": "sheets-sync-bench", "private_key_id": "k1",
        "private_key": private, "client_email": SA_EMAIL, "client_id": "1",
        "token_uri": server.token_uri}))
    creds.chmod(0o600)
    text = paths["config"].read_text()
    line = next(x for x in text.splitlines() if x.startswith("workbook = "))
    text = text.replace(line, f'google = "{key}"\ncredentials = "service-account.json"\n'
                              f'endpoint = "{server.base_url}"')
    paths["config"].write_text(text)
    return paths["config"]


def change_crm(crm: Path, share: float, seed: int) -> int:
    """Raise the revenue of ``share`` of the clients (numeric revenues only); how many changed."""
    with sqlite3.connect(crm) as db:
        ids = [r[0] for r in db.execute("SELECT id FROM companies WHERE typeof(revenue_rub) IN ('real', 'integer')")]
        picked = random.Random(seed).sample(ids, max(1, round(len(ids) * share)))
        db.executemany("UPDATE companies SET revenue_rub = round(revenue_rub * 1.37 + 1000, -2) WHERE id = ?",
                       [(i,) for i in picked])
    return len(picked)


def our_sync(config_path: Path, server: Any, label: str, capture: list | None = None,
             profile: Path | None = None) -> tuple[Run, Any]:
    """One full sync through the project's code; requests and bytes from the emulator's log,
    seconds end to end and in the HTTP requests (the emulator's work plus loopback transfer)."""
    from sheets_sync.config import load_config
    from sheets_sync.sync import locked, open_context, run_sync

    state = server.state
    state.clear_log()
    in_requests = [0.0]
    profiler = None
    if profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        profiler.start()
    start = time.perf_counter()
    config = load_config(config_path)
    with locked(config):
        ctx = open_context(config)
        http = ctx.sheet.http  # type: ignore[attr-defined]
        request = http.request

        def timed_request(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return request(*args, **kwargs)
            finally:
                in_requests[0] += time.perf_counter() - t
        http.request = timed_request
        if capture is not None:
            write = ctx.sheet.write

            def keep(batch: Any) -> None:
                capture.append(batch)
                write(batch)
            ctx.sheet.write = keep  # type: ignore[method-assign]
        summary = run_sync(ctx)
    seconds = time.perf_counter() - start
    if profiler is not None and profile is not None:
        profiler.stop()
        profile.write_text(profiler.output_text(unicode=False, show_all=False))
    entries = [e for e in list(state.request_log) if e.action != "oauth.token"]
    run = Run(label, len(entries), sum(e.bytes_sent for e in entries), seconds, in_requests[0],
              summary.cells_updated, [e.action for e in entries])
    run.history_bytes = sum(e.bytes_sent for e in entries if "History" in unquote(e.path))
    return run, summary


def gspread_worksheet(server: Any, creds_file: Path, rows: int, cols: int) -> tuple[Any, str]:
    """Sheet1 of a second spreadsheet, already sized for the table (as a sheet in use would
    be), opened with gspread through the emulator with the same service account."""
    import gspread
    from google.oauth2.service_account import Credentials

    from sheets_sync_emulators.google_sheets import emulator_session

    creds = Credentials.from_service_account_file(
        str(creds_file), scopes=["https://www.googleapis.com/auth/spreadsheets"])
    client = gspread.Client(auth=creds, session=emulator_session(server.base_url, creds))
    other = server.state.create_spreadsheet("Clients, the common way", owner=SA_EMAIL)
    ws = client.open_by_key(other.id).sheet1
    ws.resize(rows, cols)
    return ws, other.id


def measure(server: Any, label: str, fn: Callable[[], Any]) -> Run:
    server.state.clear_log()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    entries = [e for e in list(server.state.request_log) if e.action != "oauth.token"]
    return Run(label, len(entries), sum(e.bytes_sent for e in entries), seconds, None, 0,
               [e.action for e in entries])


def common_ways(server: Any, key: str, creds_file: Path, changed: list[tuple[int, int, Any]],
                sample: int) -> tuple[Run, Run, int]:
    """set_with_dataframe of the whole Clients table as it stands after the steady-state sync,
    and update_cell of a sample of the cells that sync changed (per-request figures, to be
    extrapolated). Returns both runs and the number of cells of the table."""
    import pandas as pd

    try:
        from gspread_dataframe import set_with_dataframe
    except ImportError:
        raise SystemExit("this benchmark compares with gspread-dataframe: pip install gspread-dataframe") from None

    from sheets_sync.sheets.google import to_cell

    grid = server.state.read_values(key, "'Clients'")
    width = len(grid[0])
    frame = pd.DataFrame([r + [""] * (width - len(r)) for r in grid[1:]], columns=grid[0])
    ws, _ = gspread_worksheet(server, Path(creds_file), len(grid), width)
    whole = measure(server, "set_with_dataframe", lambda: set_with_dataframe(ws, frame))
    whole.cells = frame.size + width
    picked = random.Random(1).sample(changed, min(sample, len(changed)))

    def per_cell() -> None:
        for row, col, value in picked:
            ws.update_cell(row + 1, col + 1, to_cell(value))
    cells = measure(server, "update_cell", per_cell)
    cells.cells = len(picked)
    return whole, cells, frame.size


def extrapolate(run: Run, cells: int) -> Run:
    """A per-cell run (one request a cell) scaled from its sample to ``cells`` cells."""
    k = cells / max(run.cells, 1)
    return Run(run.label, round(run.requests * k), round(run.bytes_sent * k), run.seconds * k, None, cells,
               extrapolated=True)


def fmt_row(label: str, run: Run | None, ours: Run | None = None) -> str:
    if run is None:
        return f"  {label:<34}{'-':>10}{'-':>14}{'-':>10}"
    star = "*" if run.extrapolated else " "
    text = f"  {label:<34}{run.requests:>10,}{run.bytes_sent:>14,}{run.seconds:>9.2f}{star}"
    if ours is not None and run is not ours:
        def ratio(a: float, b: float) -> str:
            if not b:
                return "inf"
            return f"{a / b:,.0f}x" if a / b >= 10 else f"{a / b:.2f}x"
        text += (f"   {ratio(run.requests, ours.requests):>8} req  {ratio(run.bytes_sent, ours.bytes_sent):>8} "
                 f"bytes  {ratio(run.seconds, ours.seconds):>6} s")
    return text


def report(n: int, changed_clients: int, first: Run, steady: Run, noop: Run, whole: Run,
           per_cell: Run, table_cells: int, history_rows: int) -> list[str]:
    """The printed figures of one size."""
    out = [f"\n{n:,} clients (steady state: revenue of {changed_clients:,} clients changed in the CRM, "
           f"{steady.cells:,} cells to update in the sheet)",
           f"  {'':<34}{'requests':>10}{'bytes sent':>14}{'seconds':>10}   ratio common way / ours"]
    all_cells = extrapolate(per_cell, table_cells)
    some_cells = extrapolate(per_cell, steady.cells)
    for title, ours, others in (
            ("first sync (empty spreadsheet)", first, [("set_with_dataframe", whole),
                                                       ("update_cell, every cell", all_cells)]),
            (f"steady state ({steady.cells:,} cells)", steady, [("set_with_dataframe", whole),
                                                                ("update_cell, changed cells", some_cells)]),
            ("no-op", noop, [("set_with_dataframe (cannot tell)", whole), ("update_cell", None)])):
        out.append(f"  {title}")
        out.append(fmt_row("sheets-sync (end to end)", ours))
        for label, run in others:
            out.append(fmt_row(label, run, ours))
        actions = ", ".join(f"{a} x{ours.actions.count(a)}" if ours.actions.count(a) > 1 else a
                            for a in dict.fromkeys(ours.actions))
        client = ours.seconds - (ours.sheet_seconds or 0)
        out.append(f"      ours: {actions}; {ours.sheet_seconds or 0:.2f} s in HTTP requests (emulator work + "
                   f"loopback), {client:.2f} s in our code (CRM, categorize, plan, state)")
        if ours.history_bytes:
            out.append(f"      of our bytes, {ours.history_bytes:,} are History rows (one per category change, "
                       "with its reason), which the common ways do not write")
    out.append(f"  * update_cell: {per_cell.cells} calls made, {per_cell.seconds / max(per_cell.cells, 1) * 1000:.1f} "
               f"ms and {per_cell.bytes_sent / max(per_cell.cells, 1):.0f} bytes each, extrapolated; at Google's "
               f"60 requests/minute per user the {steady.cells:,} changed cells alone need "
               f"{steady.cells / 60:,.0f} minutes")
    out.append(f"  set_with_dataframe: {whole.cells:,} cells in {len(whole.actions)} request(s) "
               f"({', '.join(dict.fromkeys(whole.actions))}); the frame is given, so this is the write alone")
    out.append(f"  targets: steady state {steady.requests} requests (target <= 3; "
               f"{'met' if steady.requests <= 3 else 'NOT met'}: {', '.join(steady.actions)}); "
               f"{steady.bytes_sent / max(steady.cells, 1):.0f} bytes sent per changed cell (History rows "
               f"included: {history_rows}); end to end {first.seconds:.1f} / {steady.seconds:.1f} / "
               f"{noop.seconds:.1f} s (target < 60 s)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--clients", type=int, nargs="+", default=[10_000, 100_000],
                        help="sizes to run (default: 10000 100000)")
    parser.add_argument("--changed", type=float, default=0.01, help="share of clients changed in the CRM (0.01)")
    parser.add_argument("--sample", type=int, default=200, help="update_cell calls actually made (200)")
    parser.add_argument("--profile", metavar="DIR", type=Path,
                        help="write a pyinstrument profile of each of our syncs into DIR")
    args = parser.parse_args()
    os.environ["SHEETS_SYNC_NOW"] = NOW

    from sheets_sync_emulators.google_sheets import EmulatorServer

    def prof(n: int, step: str) -> Path | None:
        if args.profile is None:
            return None
        args.profile.mkdir(parents=True, exist_ok=True)
        return args.profile / f"{step}-{n}.txt"

    print(f"sheets-sync -> Google Sheets through the emulator (in this process, server thread on 127.0.0.1), "
          f"{os.cpu_count()} CPUs")
    print("bytes sent = request bodies; seconds = wall time; * = extrapolated from a sample")
    server = EmulatorServer().start()
    private, public = new_key_pair()
    try:
        for n in args.clients:
            state = server.state
            state.reset()
            state.register_service_account(SA_EMAIL, public)
            sheet = state.create_spreadsheet("Clients", owner=SA_EMAIL)
            with tempfile.TemporaryDirectory(prefix="sheets-sync-bench-") as tmp:
                folder = Path(tmp) / "demo"
                config = make_folder(folder, n, server, private, sheet.id)
                first, _ = our_sync(config, server, "first sync", profile=prof(n, "first"))
                changed_clients = change_crm(folder / "crm.sqlite", args.changed, seed=n)
                batches: list[Any] = []
                steady, _ = our_sync(config, server, "steady state", capture=batches, profile=prof(n, "steady"))
                noop, _ = our_sync(config, server, "no-op", profile=prof(n, "noop"))
                clients_tab = next(t for t in batches[-1].tabs if t.tab == "Clients")
                history_rows = sum(len(t.appends) for t in batches[-1].tabs if t.tab == "History")
                whole, per_cell, table_cells = common_ways(server, sheet.id, folder / "service-account.json",
                                                           clients_tab.updates, args.sample)
            block = report(n, changed_clients, first, steady, noop, whole, per_cell, table_cells, history_rows)
            print("\n".join(block), flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
