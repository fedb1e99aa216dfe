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

Only the mapped columns (and the table's key, to name a deal in a message) are selected; the
statuses are compared in Python, ignoring case in any alphabet (SQLite's lower() folds only
ASCII), and pandas aggregates.
"""

from __future__ import annotations

import os

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from ..config import OrdersSettings
from ..errors import ConfigError, CrmError, InputError
from ..table import ParseOptions
from .read import Deals, deals_from_raw, resolve


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


def read_sql(settings: OrdersSettings, options: ParseOptions) -> Deals:
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
