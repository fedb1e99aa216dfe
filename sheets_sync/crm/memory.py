"""An in-memory CRM beside the :class:`~sheets_sync.crm.base.CrmAdapter` protocol, for tests.

It holds the demo CRM's table (:mod:`sheets_sync.demo`: ``companies`` with ``company``,
``revenue_rub``... and ``category``) as a list of dicts, answers :meth:`MemoryCrm.fetch` with a
DataFrame of it (ids as text, as every adapter gives them), and records every category written.
A test may make it reject a client (``reject``) as a vendor would (a locked record, say).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .base import CheckItem, WriteResult

#: the columns of the demo's SQLite CRM (``companies``), in its order
DEMO_COLUMNS = ("id", "company", "revenue_rub", "costs_rub", "orders_12m", "first_order", "last_order",
                "overdue_days", "referrals", "potential_rub", "nps", "blacklisted", "category")


class MemoryCrm:
    """A CRM whose clients are dicts keyed by the demo CRM's field names."""

    def __init__(self, clients: Sequence[Mapping[str, Any]] = (), columns: Sequence[str] = DEMO_COLUMNS,
                 category_field: str = "category") -> None:
        self.columns = list(columns)
        self.category_field = category_field
        self.clients: list[dict[str, Any]] = [self._row(c) for c in clients]
        #: client ids whose category writes are refused, with the vendor's message
        self.reject: dict[str, str] = {}
        #: every write_categories call, in order
        self.writes: list[dict[str, str]] = []

    def _row(self, values: Mapping[str, Any]) -> dict[str, Any]:
        row = dict.fromkeys(self.columns)
        row.update(values)
        row["id"] = str(row["id"])
        return row

    # -- what a test does to the CRM
    def find(self, client_id: str) -> dict[str, Any] | None:
        return next((c for c in self.clients if c["id"] == str(client_id)), None)

    def add(self, values: Mapping[str, Any]) -> None:
        self.clients.append(self._row(values))

    def delete(self, client_id: str) -> None:
        self.clients = [c for c in self.clients if c["id"] != str(client_id)]

    def categories(self) -> dict[str, str | None]:
        return {c["id"]: c.get(self.category_field) for c in self.clients}

    # -- the CrmAdapter protocol
    def fetch(self) -> pd.DataFrame:
        return pd.DataFrame([dict(c) for c in self.clients], columns=self.columns, dtype=object)

    def write_categories(self, changes: Mapping[str, str]) -> WriteResult:
        self.writes.append(dict(changes))
        result = WriteResult()
        for cid, code in changes.items():
            client = self.find(cid)
            if client is None:
                result.rejected[cid] = "no such client in the CRM any more"
            elif cid in self.reject:
                result.rejected[cid] = self.reject[cid]
            else:
                client[self.category_field] = code
                result.written.append(cid)
        return result

    def ensure_category_field(self, codes: Sequence[str]) -> list[str]:
        return []

    def check(self, codes: Sequence[str]) -> list[CheckItem]:
        return [CheckItem(True, f"memory CRM: {len(self.clients)} clients")]

    def close(self) -> None:
        pass
