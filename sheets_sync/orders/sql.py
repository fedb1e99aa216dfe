"""``[orders] source = "sql"``: an orders table in any database SQLAlchemy reaches.

    [orders]
    source = "sql"
    path = "crm.sqlite"             # a SQLite file, or url = "postgresql+psycopg://user@host/db"
    # password_env = "ORDERS_DB_PASSWORD"
    table = "orders"
    won = ["won"]                   # only with a status column
    [orders.columns]
    client_id = "company_id"
    amount = "amount"
    date = "closed_at"
    cost = "cost"                   # optional
    status = "status"               # optional

The database aggregates (:func:`aggregate`): one ``GROUP BY`` query per sync returns a row
per client id (counts, sums, first and last day, the 365 days' sums and the 12 monthly sums as
``SUM(CASE WHEN ...)`` columns, the sync date's bounds passed as bound parameters), and
:mod:`~sheets_sync.orders.metrics` computes the rest from them (cv/xyz, ABC, RFM). Before it,
one cheap query for the distinct statuses (compared in Python, ignoring case in any alphabet:
SQLite's lower() folds only ASCII). The aggregate also counts, per client, the won deals
with a value it cannot read (an empty or text amount, a date that is not a date). If there is one,
or the columns are not of number and date types (any database but SQLite, whose columns hold
any value and are checked value by value), the rows are read instead: only the mapped columns
(and the table's key, to name a deal in a message), every value parsed as in a file, and each
unreadable value is a problem naming its deal.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from ..config import OrdersSettings
from ..errors import ConfigError, CrmError, InputError
from ..parsing import id_text
from ..table import ParseOptions
from .columns import DEAL_COLUMNS
from .metrics import GroupSums, Sums, day_number, month_bounds
from .read import Deals, deals_from_raw, resolve

_FIRST_DAY, _LAST_DAY = date(1678, 1, 1), date(2261, 12, 31)  # what pandas' dates hold
_FINITE = 1.7976931348623157e308


def _url(settings: OrdersSettings) -> URL:
    if settings.path is not None:
        return URL.create("sqlite", database=str(settings.path))
    try:
        url = make_url(str(settings.url))
    except sa.exc.ArgumentError:
        raise ConfigError(f"[orders] url {settings.url!r} is not a database URL; write it as "
                          "\"postgresql+psycopg://user@host/db\" or \"sqlite:///orders.sqlite\"") from None
    if settings.password_env:
        password = os.environ.get(settings.password_env)
        if not password:
            raise ConfigError(f"[orders] password_env: the environment variable "
                              f"{settings.password_env} is not set")
        url = url.set(password=password)
    return url


def read_sql(settings: OrdersSettings, options: ParseOptions, as_of: date | None = None) -> Deals:
    """The deals of the table; with ``as_of`` (the sync date) summed per client by the
    database where it can (:func:`aggregate`), else read row by row."""
    url = _url(settings)
    if settings.path is not None and not settings.path.is_file():
        raise InputError(f"{settings.path}: the orders database does not exist; fix [orders] path")
    where = f"table {settings.table!r}"
    try:
        engine = sa.create_engine(url)
    except Exception as exc:  # a missing driver, a bad option
        raise ConfigError(f"[orders] url: cannot open {url.render_as_string(hide_password=True)}: "
                          f"{exc}") from exc
    try:
        with engine.connect() as conn:
            try:
                table = sa.Table(str(settings.table), sa.MetaData(), autoload_with=conn)
            except sa.exc.NoSuchTableError:
                names = sa.inspect(conn).get_table_names()
                raise InputError(f"[orders] table {settings.table!r} does not exist in "
                                 f"{url.render_as_string(hide_password=True)} (tables: "
                                 f"{', '.join(names) or 'none'})") from None
            columns = resolve([c.name for c in table.columns], settings.columns, where)
            if as_of is not None:
                summed = aggregate(conn, table, columns, settings.won, as_of, where)
                if summed is not None:
                    return summed
            keys = [c.name for c in table.primary_key.columns]
            names = list(dict.fromkeys(columns.values()))
            query = sa.select(*(table.c[name].label(name) for name in names),
                              *(table.c[k].label(f"_key_{k}") for k in keys))
            raw = pd.DataFrame(conn.execute(query).fetchall(),
                               columns=names + [f"_key_{k}" for k in keys])
    except sa.exc.SQLAlchemyError as exc:
        raise CrmError(f"[orders] reading {where}: {str(exc).splitlines()[0]}") from exc
    finally:
        engine.dispose()
    labels = None
    if keys:  # a problem names the deal by the table's key: "table 'orders', id 17, amount"
        parts = [raw.pop(f"_key_{k}").astype(str) for k in keys]
        joined = parts[0] if len(parts) == 1 else pd.Series(["/".join(t) for t in zip(*parts, strict=True)])
        labels = [f"{'/'.join(keys)} {v}" for v in joined.tolist()]
    return deals_from_raw(raw, settings.columns, settings.won, options, where, first_row=1,
                          labels=labels)


def _is_number(column: sa.Column) -> bool:
    return isinstance(column.type, sa.Integer | sa.Numeric | sa.Float) and not isinstance(column.type, sa.Boolean)


def _is_day(column: sa.Column) -> bool:
    kind = column.type
    return isinstance(kind, sa.Date) or (isinstance(kind, sa.DateTime) and not kind.timezone)


def _day(value: object) -> int:
    """A day the database returned (a date, a datetime, or SQLite's ISO text) as a day number."""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.date()
    assert isinstance(value, date)
    return day_number(value)


def _date(value: object) -> date:
    return date.fromordinal(date(1970, 1, 1).toordinal() + _day(value))


def aggregate(conn: sa.Connection, table: sa.Table, columns: dict[str, str], won: tuple[str, ...],
              as_of: date, where: str) -> Deals | None:
    """The won deals summed per client id by the database, or ``None`` where the rows must be
    read instead (a value the aggregate cannot read, columns of other types, no ``won``)."""
    sqlite = conn.dialect.name == "sqlite"
    client, amount, day = (table.c[columns[k]] for k in ("client_id", "amount", "date"))
    cost = table.c[columns["cost"]] if "cost" in columns else None
    if not sqlite and not (_is_number(amount) and _is_day(day)
                           and (cost is None or _is_number(cost))):
        return None

    def bound(value: date) -> Any:  # SQLite keeps dates as ISO text: compare them as text
        return sa.literal(value.isoformat(), sa.String) if sqlite else sa.literal(value, sa.Date)

    won_only: Any = sa.true()
    if "status" in columns:
        if not won:  # the row read says which statuses there are
            return None
        status = table.c[columns["status"]]
        wanted = {w.casefold() for w in won}
        values = [v for (v,) in conn.execute(sa.select(status).distinct())]
        chosen = [v for v in values if v is not None and str(v).strip().casefold() in wanted]
        won_only = status.in_(chosen)
        if "" in wanted:
            won_only = sa.or_(won_only, status.is_(None))

    def bad_number(column: sa.Column, required: bool) -> Any:
        out = sa.not_(sa.cast(column, sa.Float).between(-_FINITE, _FINITE))  # NaN, infinities
        if sqlite:
            out = sa.or_(sa.func.typeof(column).not_in(["integer", "real"]), out)
        return sa.or_(column.is_(None), out) if required else sa.and_(column.is_not(None), out)

    if sqlite:  # only ISO dates (YYYY-MM-DD) that are real days
        bad_day = sa.or_(day.is_(None), sa.func.typeof(day) != "text", sa.func.length(day) != 10,
                         sa.func.date(sa.func.julianday(day)).is_(None),  # a real day:
                         sa.func.date(sa.func.julianday(day)) != day,  # not 2026-02-31
                         day < _FIRST_DAY.isoformat(), day > _LAST_DAY.isoformat())
    else:
        bad_day = sa.or_(day.is_(None), sa.not_(day.between(bound(_FIRST_DAY), bound(_LAST_DAY))))
    bad = sa.or_(bad_number(amount, True), bad_day,
                 *([bad_number(cost, False)] if cost is not None else []))
    tomorrow = bound(as_of + timedelta(days=1))
    past = day < tomorrow
    in_window = sa.and_(day >= bound(as_of - timedelta(days=364)), past)
    money = sa.cast(amount, sa.Float)
    bounds = [bound(b) for b in month_bounds(as_of)]
    months = [sa.and_(day >= bounds[i], day < bounds[i + 1]) for i in range(12)]
    with_cost = sa.and_(in_window, cost.is_not(None)) if cost is not None else sa.false()
    query = sa.select(
        client.label("client"),
        sa.func.count().label("won"),
        sa.func.count(sa.case((past, 1))).label("used"),
        sa.func.min(sa.case((past, day))).label("first"),
        sa.func.max(sa.case((past, day))).label("last"),
        sa.func.sum(sa.case((in_window, money))).label("revenue"),
        sa.func.count(sa.case((in_window, 1))).label("orders"),
        (sa.func.sum(sa.case((with_cost, sa.cast(cost, sa.Float)))) if cost is not None
         else sa.literal(None, sa.Float)).label("costs"),
        sa.func.count(sa.case((with_cost, 1))).label("cost_count"),
        *(sa.func.sum(sa.case((m, money))).label(f"m{i}") for i, m in enumerate(months)),
        *(sa.func.count(sa.case((m, 1))).label(f"n{i}") for i, m in enumerate(months)),
        sa.func.count(sa.case((sa.not_(past), 1))).label("future"),
        sa.func.max(sa.case((sa.not_(past), day))).label("future_last"),
        sa.func.count(sa.case((bad, 1))).label("bad"),  # the same scan checks every value
    ).where(won_only).group_by(client)
    rows = conn.execute(query).all()
    if any(row.bad for row in rows):
        return None  # the rows are read instead: each unreadable value names its deal

    without_client, future, ids, kept = 0, 0, [], []
    latest: dict[str, date] = {}
    for row in rows:
        text = id_text(row[0])
        if not text:
            without_client += row.won
            continue
        if row.future:
            future += row.future
            last = _date(row.future_last)
            latest[text] = max(last, latest.get(text, last))
        if row.used:
            ids.append(row[0])
            kept.append(tuple(row))
    names = list(query.selected_columns.keys())
    table_of = np.array(kept, dtype=object).reshape(len(kept), len(names))

    def numbers(*wanted: str) -> np.ndarray:
        picked = table_of[:, [names.index(w) for w in wanted]]
        return np.where(picked == None, 0.0, picked).astype(np.float64)  # noqa: E711 (elementwise)

    def days(name: str) -> np.ndarray:
        column = table_of[:, names.index(name)]
        return np.array([_day(v) for v in column], dtype=np.int64) if sqlite_text(column) \
            else column.astype("datetime64[D]").view(np.int64)

    def sqlite_text(column: np.ndarray) -> bool:
        return len(column) > 0 and isinstance(column[0], str)

    def counts(*wanted: str) -> np.ndarray:
        return numbers(*wanted).astype(np.int64)

    sums = Sums(counts("used")[:, 0], days("first"), days("last"), numbers("revenue")[:, 0],
                counts("orders")[:, 0], numbers("costs")[:, 0], counts("cost_count")[:, 0],
                numbers(*(f"m{i}" for i in range(12))), counts(*(f"n{i}" for i in range(12))))
    empty = pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
        DEAL_COLUMNS, ["category", "float64", "datetime64[ns]", "float64", "bool"], strict=True)})
    return Deals(empty, {}, has_cost=cost is not None, without_client=without_client, where=where,
                 summed=GroupSums(ids, sums, latest, future))
