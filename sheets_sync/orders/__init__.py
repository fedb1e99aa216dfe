"""Metrics from the CRM's own deals (``[orders]`` in the config).

    read the deals (one module per source)  ->  metrics per client (pandas groupby)
        ->  columns of the client table, before the rules run

Sources: ``files`` (a CSV/XLSX export of orders), ``sql`` (an orders table through
SQLAlchemy). Every reader returns the same frame, :data:`DEAL_COLUMNS`, and
:func:`~sheets_sync.orders.metrics.order_metrics` turns it into the columns of
:data:`~sheets_sync.orders.columns.ORDER_COLUMNS`, defined exactly in
:data:`~sheets_sync.orders.columns.DEFINITIONS` (and in the README and ``rules.py``).
"""

from __future__ import annotations

from .columns import DEAL_COLUMNS, DEFINITIONS, FROM_DEALS, ORDER_COLUMNS

__all__ = ["DEAL_COLUMNS", "DEFINITIONS", "FROM_DEALS", "ORDER_COLUMNS"]
