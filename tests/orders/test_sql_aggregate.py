"""The SQL source sums the deals in the database: the same metrics as reading every row, on
SQLite and on PostgreSQL; one aggregate query; the row read (naming each unreadable deal)
whenever a value is one the aggregate could not read."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sql.conftest import PASSWORD_ENV, Db

from sheets_sync.config import OrdersSettings
from sheets_sync.orders.merge import _future, deal_metrics
from sheets_sync.orders.sql import read_sql
from sheets_sync.table import ParseOptions

AS_OF = date(2026, 11, 23)
CLIENTS = ["a", "b", "c", "12", "d"]
COLUMNS = {"client_id": "company", "amount": "amount", "date": "closed_at", "cost": "cost",
           "status": "status"}


def orders_settings(db: Db, **extra: object) -> OrdersSettings:
    return OrdersSettings(source="sql", url=db.url.render_as_string(hide_password=False),
                          password_env=PASSWORD_ENV if db.password else None, table="deals",
                          columns=dict(COLUMNS), won=("won",), **extra)  # type: ignore[arg-type]


def create(db: Db, rows: list[dict], *, amount_type: sa.types.TypeEngine | None = None,
           client_type: sa.types.TypeEngine | None = None) -> None:
    table = sa.Table("deals", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("company", client_type or sa.Text), sa.Column("amount", amount_type or sa.Float),
                     sa.Column("closed_at", sa.Date), sa.Column("cost", sa.Float),
                     sa.Column("status", sa.Text))
    with db.engine.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
        if rows:
            conn.execute(table.insert(), [{"id": i + 1, **r} for i, r in enumerate(rows)])


def both(db: Db, **extra: object) -> tuple:
    opts = ParseOptions()
    summed = read_sql(orders_settings(db, **extra), opts, AS_OF)
    rows = read_sql(orders_settings(db, **extra), opts)
    return summed, rows


deal = st.fixed_dictionaries({
    # " a " and "a" are one client; "x" is not a client; blank ids are left out
    "company": st.sampled_from(["a", "b", " a ", "c", "12", "x", "", None]),
    "amount": st.integers(-4, 4_000).map(lambda n: n / 4),  # quarters: exact sums in any order
    "closed_at": st.one_of(st.sampled_from([0, 1, 2, -22, -23, -364, -365, -387, -388]),
                           st.integers(-900, 40)).map(lambda n: AS_OF + timedelta(days=n)),
    "cost": st.one_of(st.none(), st.integers(0, 800).map(lambda n: n / 2)),
    "status": st.sampled_from(["won", "Won ", "WON", "lost", None]),
})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # shrinking a database is slow
@given(rows=st.lists(deal, max_size=40))
def test_the_database_sums_give_the_metrics_of_the_rows(db: Db, rows: list[dict]) -> None:
    create(db, rows)
    summed, read = both(db)
    assert summed.summed is not None and read.summed is None
    got, want = deal_metrics(summed, AS_OF, CLIENTS), deal_metrics(read, AS_OF, CLIENTS)
    pd.testing.assert_frame_equal(got.frame, want.frame)
    assert (got.deals_used, got.unknown_clients, got.future) == \
        (want.deals_used, want.unknown_clients, want.future)
    assert summed.without_client == read.without_client and summed.has_cost == read.has_cost
    assert _future(summed, AS_OF) == _future(read, AS_OF)
    assert read.problems == {}


def test_one_aggregate_query_and_no_rows_read(db: Db) -> None:
    create(db, [{"company": c, "amount": 10.0 * i, "closed_at": AS_OF - timedelta(days=i),
                 "cost": None, "status": "won"} for i, c in enumerate(["a", "b", "c"] * 50)])
    statements: list[str] = []
    engine = sa.create_engine(db.url.set(password=db.password))

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()).upper())

    sa.event.listen(sa.Engine, "before_cursor_execute", seen)
    try:
        deals = read_sql(orders_settings(db), ParseOptions(), AS_OF)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", seen)
        engine.dispose()
    assert deals.summed is not None and len(deals.summed.ids) == 3
    on_deals = [s for s in statements if "FROM DEALS" in s]
    assert len([s for s in on_deals if "GROUP BY" in s]) == 1
    # besides it only the distinct statuses (the unreadable values are counted in the aggregate)
    assert all("GROUP BY" in s or "DISTINCT" in s for s in on_deals), on_deals


def test_an_unreadable_value_is_read_row_by_row_and_named(tmp_path: Path) -> None:
    """SQLite keeps any value in any column: a text amount makes the row read, whose message
    names the deal; a clean table is summed in the database again."""
    path = tmp_path / "crm.sqlite"
    sqlite = Db("sqlite", sa.engine.URL.create("sqlite", database=str(path)))
    good = {"company": "a", "amount": 100.0, "closed_at": date(2026, 10, 1), "cost": 1.0, "status": "won"}
    with sqlite.engine.begin() as conn:  # columns without a type: any value as it is
        conn.execute(sa.text("CREATE TABLE deals (id INTEGER PRIMARY KEY, company, amount, "
                             "closed_at, cost, status)"))
        for i, row in enumerate([good, {**good, "amount": "12,3,4"}]):
            conn.execute(sa.text("INSERT INTO deals VALUES (:id, :company, :amount, :closed_at, "
                                 ":cost, :status)"), {"id": i + 1, **row})
    deals = read_sql(orders_settings(sqlite), ParseOptions(), AS_OF)
    assert deals.summed is None
    assert [(w, v) for w, v, _ in deals.problems["a"]] == [("table 'deals', id 2, amount", "12,3,4")]
    for bad in ({"closed_at": "31.02.2026"}, {"closed_at": "2026-02-31"}, {"closed_at": None},
                {"amount": None}, {"amount": float("inf")}, {"cost": "n/a"}):
        with sqlite.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM deals WHERE id = 2"))
            conn.execute(sa.text("INSERT INTO deals VALUES (2, 'a', :amount, :closed_at, :cost, 'won')"),
                         {**good, **bad})
        assert read_sql(orders_settings(sqlite), ParseOptions(), AS_OF).summed is None, bad
    with sqlite.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM deals WHERE id = 2"))
    assert read_sql(orders_settings(sqlite), ParseOptions(), AS_OF).summed is not None
    sqlite.dispose()


def test_a_text_amount_column_is_read_row_by_row(db: Db) -> None:
    good = {"company": "a", "amount": "100,50", "closed_at": date(2026, 10, 1), "cost": None, "status": "won"}
    create(db, [good], amount_type=sa.Text())
    deals = read_sql(orders_settings(db), ParseOptions(), AS_OF)
    if db.kind == "postgresql":  # a text column: not summed by the database
        assert deals.summed is None
    assert deal_metrics(deals, AS_OF, ["a"]).frame.at["a", "revenue_12m"] == 100.5


def test_integer_client_ids_and_a_deal_after_the_sync_date(db: Db) -> None:
    rows = [{"company": 12, "amount": 5.0, "closed_at": AS_OF, "cost": None, "status": "won"},
            {"company": 12, "amount": 7.0, "closed_at": AS_OF + timedelta(days=3), "cost": None,
             "status": "won"}]
    create(db, rows, client_type=sa.Integer())
    deals = read_sql(orders_settings(db), ParseOptions(), AS_OF)
    assert deals.summed is not None
    result = deal_metrics(deals, AS_OF, ["12"])
    assert (result.frame.at["12", "revenue_12m"], result.future) == (5.0, 1)
    assert _future(deals, AS_OF) == {"12": AS_OF + timedelta(days=3)}
