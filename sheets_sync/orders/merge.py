"""The one call the sync makes: the deals' metrics merged into the client table.

Where ``[fields]`` maps a column to a field of the company record (``orders_12m = "Заказы"``),
the record's value wins; every other column of
:data:`~sheets_sync.orders.columns.FROM_DEALS` and :data:`~sheets_sync.orders.columns.ORDER_COLUMNS`
is computed from the deals. A deal value that cannot be read (an amount ``12,3,4``, a won deal
dated after the sync date) is a problem of its client, who is unqualified until it is fixed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

import pandas as pd

from ..config import Config, OrdersSettings
from ..parsing import id_text
from ..table import ClientTable, ParseOptions, Problem
from .columns import FROM_DEALS, ORDER_COLUMNS
from .metrics import MetricsResult, order_metrics, order_metrics_from_groups
from .read import Deals

log = logging.getLogger(__name__)
SOURCE = "[orders]"  # what table.source_columns says for a column the deals fill


def read_deals(settings: OrdersSettings, parsing: ParseOptions, crm: Any = None,
               state: Any = None, as_of: date | None = None) -> Deals:
    """The deals of the configured source (an SQL source sums them per client as of
    ``as_of`` in the database)."""
    if settings.source == "file":
        from .files import read_file

        return read_file(settings, parsing)
    if settings.source == "sql":
        from .sql import read_sql

        return read_sql(settings, parsing, as_of)
    from .vendors import read_crm_deals

    return read_crm_deals(crm, state)


def add_orders(config: Config, thresholds: Mapping[str, Any], table: ClientTable,
               raw: pd.DataFrame, as_of: date, crm: Any = None, state: Any = None
               ) -> tuple[ClientTable, pd.DataFrame]:
    """``table`` and ``raw`` with the deals' metrics of every client as of ``as_of`` (the sync
    date); unchanged without an ``[orders]`` section."""
    if config.orders is None:
        return table, raw
    deals = read_deals(config.orders, config.parsing, crm, state, as_of)
    return merge_metrics(config, thresholds, table, raw, as_of, deals)


def deal_metrics(deals: Deals, as_of: date, clients: list[str],
                 thresholds: Mapping[str, Any] | None = None) -> MetricsResult:
    """The metrics of ``clients`` from the deals as read (rows, or sums per client)."""
    if deals.summed is not None:
        return order_metrics_from_groups(deals.summed, clients, thresholds=thresholds,
                                         has_cost=deals.has_cost)
    return order_metrics(deals.frame, as_of, clients, thresholds=thresholds,
                         has_cost=deals.has_cost)


def merge_metrics(config: Config, thresholds: Mapping[str, Any], table: ClientTable,
                  raw: pd.DataFrame, as_of: date, deals: Deals) -> tuple[ClientTable, pd.DataFrame]:
    ids = table.frame["id"].map(lambda v: "" if v is None or v is pd.NA else id_text(v))
    result = deal_metrics(deals, as_of, [i for i in ids.unique() if i], thresholds)
    metrics = result.frame.reindex(pd.Index(ids.to_numpy()))
    mapped = set(config.fields)
    frame = table.frame.copy()
    raw = raw.copy()
    sources = dict(table.source_columns)
    filled: dict[str, str] = {c: m for c, m in FROM_DEALS.items() if c not in mapped}
    filled.update({c: c for c in ORDER_COLUMNS if c not in mapped})
    for column, metric in filled.items():
        values = metrics[metric]
        frame[column] = values.to_numpy() if values.dtype.kind == "M" else values.array
        sources[column] = SOURCE
        if column not in raw.columns and not _shown(raw, column, sources):
            raw[column] = None  # so the sheet shows the column
    problems = {label: [p for p in items if p.column not in filled]
                for label, items in table.problems.items()}
    problems = {label: items for label, items in problems.items() if items}
    by_id: dict[str, list[Any]] = {}
    for label, cid in ids.items():
        by_id.setdefault(cid, []).append(label)
    for cid, items in deals.problems.items():
        for label in by_id.get(cid, ()):
            for where, value, why in items[:5]:
                problems.setdefault(label, []).append(Problem("orders", value, f"{where}: {why}"))
            if len(items) > 5:
                problems[label].append(Problem("orders", None, f"and {len(items) - 5} more deals "
                                                               "that cannot be read"))
    for cid, day in _future(deals, as_of).items():
        for label in by_id.get(cid, ()):
            problems.setdefault(label, []).append(Problem(
                "orders", day.isoformat(), f"a won deal ({deals.where}) closes after the day of "
                f"the sync ({as_of.isoformat()}); an order cannot be in the future"))
    log.info("orders: %s won deals used from %s; %s of clients not in the CRM; %s without a client",
             result.deals_used, deals.where, result.unknown_clients, deals.without_client)
    return replace(table, frame=frame, problems=problems, source_columns=sources), raw


def _future(deals: Deals, as_of: date) -> dict[str, date]:
    """Client id -> the day of its last won deal dated after the sync date."""
    if deals.summed is not None:
        return deals.summed.future_last
    frame = deals.frame
    future = frame["won"].to_numpy(dtype=bool) & (frame["date"] > pd.Timestamp(as_of)).to_numpy()
    if not future.any():
        return {}
    late = frame.loc[future].groupby("client_id", observed=True)["date"].max()
    return {str(cid): day.date() for cid, day in late.items()}


def _shown(raw: pd.DataFrame, column: str, sources: Mapping[str, str]) -> bool:
    """Whether the sheet already finds ``column`` among ``raw``'s headers (by an alias)."""
    from ..table import resolve_mapping

    return column in resolve_mapping(raw.columns, {})


