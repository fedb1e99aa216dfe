"""Client tables for the SQL tests: the demo's clients, cleaned to typed values."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa

from sheets_sync.demo import CONFIG_TEXT, default_rules_text, demo_rows

TODAY = date(2026, 11, 23)

FIELDS = CONFIG_TEXT[CONFIG_TEXT.index("[fields]"):].rstrip("\n") + "\n"  # the demo's mapping

NUMBER_COLUMNS = ("revenue_rub", "costs_rub", "potential_rub", "nps")
COUNT_COLUMNS = ("orders_12m", "overdue_days", "referrals")


def companies(name: str = "companies", *, category: bool = True,
              manual: bool = False) -> sa.Table:
    columns = [sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
               sa.Column("company", sa.Text)]
    columns += [sa.Column(c, sa.Float) for c in ("revenue_rub", "costs_rub")]
    columns += [sa.Column("orders_12m", sa.Integer), sa.Column("first_order", sa.Date),
                sa.Column("last_order", sa.Date), sa.Column("overdue_days", sa.Integer),
                sa.Column("referrals", sa.Integer), sa.Column("potential_rub", sa.Float),
                sa.Column("nps", sa.Float), sa.Column("blacklisted", sa.Boolean)]
    if manual:
        columns.append(sa.Column("manual_category", sa.Text))
    if category:
        columns.append(sa.Column("category", sa.String(32)))
    return sa.Table(name, sa.MetaData(), *columns)


def clean_rows(n: int, seed: int = 20261123) -> list[dict]:
    """The demo's ``n`` clients with messy values replaced by NULL (typed columns hold none)."""
    keys = ["id", "company", "revenue_rub", "costs_rub", "orders_12m", "first_order",
            "last_order", "overdue_days", "referrals", "potential_rub", "nps", "blacklisted"]
    out = []
    for row in demo_rows(n, TODAY, seed):
        item = dict(zip(keys, row[:12], strict=True))
        for key in (*NUMBER_COLUMNS, *COUNT_COLUMNS):
            if not isinstance(item[key], int | float):
                item[key] = None
        for key in ("first_order", "last_order"):
            try:
                item[key] = date.fromisoformat(item[key]) if item[key] else None
            except ValueError:
                item[key] = None
        item["blacklisted"] = bool(item["blacklisted"])
        out.append(item)
    return out


def load(engine: sa.Engine, rows: list[dict], table: sa.Table | None = None) -> sa.Table:
    table = table if table is not None else companies()
    with engine.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
        if rows:
            conn.execute(table.insert(), rows)
    return table


def write_config(folder: Path, crm_toml: str, fields: str = FIELDS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rules.py").write_text(default_rules_text(), encoding="utf-8")
    path = folder / "sheets-sync.toml"
    path.write_text('rules = "rules.py"\nstate = "state.sqlite"\n\n' + crm_toml
                    + '\n[sheet]\nworkbook = "clients.xlsx"\n\n' + fields, encoding="utf-8")
    return path
