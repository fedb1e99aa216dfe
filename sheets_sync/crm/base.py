"""The CRM interface: three questions every adapter answers, nothing vendor-specific.

An adapter is built by a factory registered in :data:`sheets_sync.crm.ADAPTERS` under its
``kind`` name (the ``[crm] kind`` of the config). It exchanges plain data with the sync pass:

* :meth:`CrmAdapter.fetch` returns a DataFrame of *raw* values, one row per client, with the
  CRM's own field keys as column names (the config's ``[fields]`` table maps them to the
  canonical client table). Values stay as the vendor gave them (strings, numbers, ``None``),
  except that vendor shapes are normalised (enum ids to labels, ``[]`` to ``None``...). The id
  column holds strings.
* :meth:`CrmAdapter.write_categories` writes ``{client id: category code}`` in the vendor's
  batch size and returns which ids went through and which were rejected, with the vendor's
  message, so a rejected record becomes a ledger entry rather than a log line.
* :meth:`CrmAdapter.ensure_category_field` creates the category field (or adds missing codes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd


@dataclass(frozen=True)
class CrmSettings:
    """The ``[crm]`` table of the config, resolved.

    ``options`` holds the adapter's own keys as written in the config; ``base_dir`` is the
    folder of the config file (relative paths are resolved against it); ``id_field`` and
    ``category_field`` are CRM field keys; ``fields`` are all CRM field keys the mapping uses.
    """

    kind: str
    options: Mapping[str, Any]
    base_dir: Path
    id_field: str
    category_field: str
    fields: Sequence[str] = ()


def check_keys(options: Mapping[str, Any], known: Iterable[str], kind: str) -> None:
    """Refuse a ``[crm]`` key the adapter of ``kind`` does not know, naming the known ones
    (:func:`sheets_sync.config.check_keys`, the config's one unknown-key check)."""
    from ..config import check_keys as check

    check(options, known, "crm", context=f" for kind = {kind!r}")


@dataclass
class WriteResult:
    written: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)  # id -> vendor's message


@dataclass(frozen=True)
class CheckItem:
    ok: bool
    message: str


class CrmAdapter(Protocol):
    def fetch(self) -> pd.DataFrame: ...

    def write_categories(self, changes: Mapping[str, str]) -> WriteResult: ...

    def ensure_category_field(self, codes: Sequence[str]) -> list[str]: ...

    def check(self, codes: Sequence[str]) -> list[CheckItem]: ...

    def close(self) -> None: ...
