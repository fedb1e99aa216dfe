"""Benchmark: a SQL CRM of N clients in PostgreSQL and SQLite.

    python bench/sql.py [--clients 1000000] [--engines postgresql,sqlite] [--pg-url URL]

For each engine, on one table of N clients (typed columns) whose stored categories are 10 %
out of date:

* end to end: read every client (chunked server-side cursor), categorize in pandas with
  reasons, write back the changed 10 % (temporary table + one UPDATE per batch);
* the same changes written row by row (one UPDATE statement per client), for the ratio;
* categorize in-database: the rules compiled to one UPDATE statement.

Prints seconds and peak memory (max RSS of a fresh process doing only that step). PostgreSQL:
``--pg-url``, else ``SHEETS_SYNC_TEST_PG_URL``, else a throw-away server from the local
binaries (tests/sql/pgtemp.py). Targets (issue 6): end to end <= 30 s on PostgreSQL, >= 20x
faster than row by row, peak memory <= 2 GB, in-database <= 10 s.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TODAY = date(2026, 11, 23)
FIELDS = {"id": "id", "name": "company", "revenue": "revenue_rub", "costs": "costs_rub",
          "orders_12m": "orders_12m", "first_order": "first_order", "last_order": "last_order",
          "overdue_days": "overdue_days", "referrals": "referrals", "potential": "potential_rub",
          "nps": "nps", "blacklisted": "blacklisted"}
COLUMNS = ["id", "company", "revenue_rub", "costs_rub", "orders_12m", "first_order",
           "last_order", "overdue_days", "referrals", "potential_rub", "nps", "blacklisted",
           "category"]


def settings(url: str):  # type: ignore[no-untyped-def]
    from sqlalchemy.engine import make_url

    from sheets_sync.crm.base import CrmSettings

    options: dict[str, object] = {"url": url, "table": "companies"}
    parsed = make_url(url)
    if parsed.password:  # the adapter takes passwords from the environment only
        os.environ["BENCH_SQL_PASSWORD"] = str(parsed.password)
        options = {"url": parsed._replace(password=None).render_as_string(),
                   "table": "companies", "password_env": "BENCH_SQL_PASSWORD"}
    return CrmSettings("sql", options, ROOT, "id", "category", tuple(FIELDS.values()))


def create(url: str, n: int) -> None:
    """The table, N synthetic clients (bench/categorize.py's generator), no categories."""
    import numpy as np
    import sqlalchemy as sa

    sys.path.insert(0, str(ROOT / "bench"))
    from categorize import synthetic

    frame = synthetic(n)
    data = {"id": np.arange(1, n + 1), "company": frame["name"].astype(object),
            "revenue_rub": frame["revenue"].to_numpy("float64"),
            "costs_rub": frame["costs"].to_numpy("float64"),
            "orders_12m": frame["orders_12m"].to_numpy("float64").astype(int),
            "first_order": frame["first_order"].dt.date, "last_order": frame["last_order"].dt.date,
            "overdue_days": frame["overdue_days"].to_numpy("float64").astype(int),
            "referrals": frame["referrals"].to_numpy("float64").astype(int),
            "potential_rub": frame["potential"].to_numpy("float64"),
            "nps": frame["nps"].to_numpy("float64", na_value=np.nan),
            "blacklisted": frame["blacklisted"].to_numpy(bool)}
    import pandas as pd

    table = pd.DataFrame(data)
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    sa.Table("companies", meta, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("company", sa.Text), sa.Column("revenue_rub", sa.Float),
             sa.Column("costs_rub", sa.Float), sa.Column("orders_12m", sa.Integer),
             sa.Column("first_order", sa.Date), sa.Column("last_order", sa.Date),
             sa.Column("overdue_days", sa.Integer), sa.Column("referrals", sa.Integer),
             sa.Column("potential_rub", sa.Float), sa.Column("nps", sa.Float),
             sa.Column("blacklisted", sa.Boolean), sa.Column("category", sa.String(32)))
    with engine.begin() as conn:
        meta.drop_all(conn)
        meta.create_all(conn)
    if engine.dialect.name == "postgresql":
        buffer = io.StringIO()
        table.to_csv(buffer, index=False, header=False, na_rep="")
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur, cur.copy(
                    f"COPY companies ({', '.join(COLUMNS[:-1])}) FROM STDIN WITH (FORMAT csv)"
            ) as copy:
                copy.write(buffer.getvalue())
            raw.commit()
        finally:
            raw.close()
    else:
        rows = table.astype(object).where(table.notna(), None)
        rows["first_order"] = rows["first_order"].map(lambda d: d.isoformat())
        rows["last_order"] = rows["last_order"].map(lambda d: d.isoformat())
        rows["blacklisted"] = rows["blacklisted"].astype(int)
        raw = engine.raw_connection()
        try:
            raw.cursor().executemany(
                f"INSERT INTO companies ({', '.join(COLUMNS[:-1])}) VALUES "
                f"({', '.join('?' * 12)})", rows.itertuples(index=False, name=None))
            raw.commit()
        finally:
            raw.close()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE companies"))
    engine.dispose()


def outdate(url: str, share: float = 0.1) -> None:
    """Make ``share`` of the stored categories wrong (a code no rule gives)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    every = round(1 / share)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE companies SET category = 'X' WHERE id % {every} = 0"))
    engine.dispose()


def _measure(fn, queue: mp.Queue, *args: object) -> None:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    extra = fn(*args)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB
    queue.put((seconds, peak, extra))


def measured(fn, *args: object) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    queue: mp.Queue = mp.get_context("fork").Queue()
    proc = mp.get_context("fork").Process(target=_measure, args=(fn, queue, *args))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def end_to_end(url: str) -> dict[str, float]:
    """What `sheets-sync sync` does with the CRM: fetch, categorize, write changes."""
    from sheets_sync.categorize import categorize
    from sheets_sync.crm.sql import SqlCrm
    from sheets_sync.rules import load_rules
    from sheets_sync.table import build_table

    rules = load_rules(ROOT / "rules.py")
    crm = SqlCrm(settings(url))
    t0 = time.perf_counter()
    raw = crm.fetch()
    t1 = time.perf_counter()
    table = build_table(raw, FIELDS, extra=rules.columns)
    outcome = categorize(table, rules, TODAY).frame
    t2 = time.perf_counter()
    current = raw["category"].where(raw["category"].notna(), "").astype(str).to_numpy()
    wanted = outcome["category"].astype(str).to_numpy()
    codes = set(rules.codes)
    changes = {cid: code for cid, have, code in zip(raw["id"], current, wanted, strict=True)
               if code != have and code in codes}
    result = crm.write_categories(changes)
    t3 = time.perf_counter()
    crm.close()
    return {"fetch": t1 - t0, "categorize": t2 - t1, "write": t3 - t2,
            "changes": float(len(result.written))}


def changes_for(url: str) -> dict[str, str]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM companies WHERE category = 'X'"))]
    engine.dispose()
    return {str(i): "D" for i in ids}


def bulk_write(url: str, changes: dict[str, str]) -> float:
    from sheets_sync.crm.sql import SqlCrm

    crm = SqlCrm(settings(url))
    crm.table()  # reflected before the clock starts, as row_by_row needs no reflection
    start = time.perf_counter()
    crm.write_categories(changes)
    seconds = time.perf_counter() - start
    crm.close()
    return seconds


def row_by_row(url: str, changes: dict[str, str]) -> float:
    """The naive way: one UPDATE statement per client (in one transaction)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    stmt = sa.text("UPDATE companies SET category = :c WHERE id = :i")
    with engine.connect() as conn:
        conn.execute(sa.select(1))
    start = time.perf_counter()
    with engine.begin() as conn:
        for cid, code in changes.items():
            conn.execute(stmt, {"c": code, "i": int(cid)})
    seconds = time.perf_counter() - start
    engine.dispose()
    return seconds


def in_database(url: str) -> str:
    from sheets_sync.crm.sql import SqlCrm, categorize_in_database
    from sheets_sync.rules import load_rules

    crm = SqlCrm(settings(url))
    try:
        result = categorize_in_database(crm, load_rules(ROOT / "rules.py"), FIELDS, TODAY,
                                        counts=False)  # the one UPDATE statement alone
        return f"{result.written:,} categories changed in {result.target}"
    finally:
        crm.close()


def run(engine_name: str, url: str, n: int) -> None:
    print(f"\n== {engine_name}: {n:,} clients")
    t = time.perf_counter()
    create(url, n)
    print(f"  load (not timed in the targets)           {time.perf_counter() - t:7.1f} s")
    seconds, peak, text = measured(in_database, url)
    print(f"  in-database, first run (writes all)       {seconds:7.1f} s  {peak:7.0f} MiB")
    outdate(url)
    seconds, peak, parts = measured(end_to_end, url)
    print(f"  end to end: read, categorize, write 10 %  {seconds:7.1f} s  {peak:7.0f} MiB  "
          f"(fetch {parts['fetch']:.1f} s, categorize {parts['categorize']:.1f} s, "
          f"write {parts['write']:.1f} s, {int(parts['changes']):,} changed)")
    outdate(url)
    changes = changes_for(url)
    _, _, bulk = measured(bulk_write, url, changes)
    outdate(url)
    _, _, naive = measured(row_by_row, url, changes)
    print(f"  write {len(changes):,} changes: bulk {bulk:.2f} s, row by row {naive:.2f} s: "
          f"{naive / bulk:.0f}x faster")
    outdate(url)
    seconds, peak, text = measured(in_database, url)
    print(f"  in-database, 10 % changed                 {seconds:7.1f} s  {peak:7.0f} MiB")
    print(f"    {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("SHEETS_SYNC_TEST_PG_URL"))
    args = parser.parse_args()
    for name in args.engines.split(","):
        if name == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                run("SQLite", f"sqlite:///{folder}/crm.sqlite", args.clients)
        elif name == "postgresql":
            server = None
            url = args.pg_url
            if not url:
                from tests.sql.pgtemp import start_server

                server = start_server()
                url = server.url
            try:
                run("PostgreSQL", url, args.clients)
            finally:
                if server is not None:
                    server.stop()


if __name__ == "__main__":
    main()
