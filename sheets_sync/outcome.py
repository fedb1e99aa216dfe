"""The categorized client table: one way to build it for sync, export, reports and ``categorize``.

    client_table(raw, ...)          CRM rows (any headers) -> the canonical table; a column the
                                    rules require and the input lacks is one error
    categorized(table, rules, ...)  + the owner columns (the sheet's, else the ones the state
                                    store kept), one row per client id, categorized

Every command that shows clients goes through both, so a client has the same category, reason
and Pareto share in the sheet, the export, the review and a categorized file. A row whose id is
blank, or repeats an earlier row's id, is set aside *before* categorizing (its profit must not
count twice in the Pareto share); :attr:`Categorized.skipped` says which, for the caller to
report (the sync lists them as problems, ``categorize`` marks those rows unqualified).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from .categorize import categorize
from .layout import ClientsGrid
from .owners import Owners, merge_owner_values, recognise_renamed
from .rules import RuleSet
from .table import ClientTable, ParseOptions, build_table, require_columns


@dataclass(frozen=True)
class Skipped:
    """A row set aside: its label, its id (``""`` when blank) and, for a repeated id, the label
    of the first row with that id."""

    label: Any
    id: str
    name: str
    first: Any = None

    def __str__(self) -> str:
        return f"CRM client {self.id!r} ({self.name}): blank or duplicate id in the CRM; skipped"


@dataclass
class Categorized:
    """The categorized table and what was found on the way."""

    outcome: pd.DataFrame  # one row per client id, in input order
    table: ClientTable  # the merged table the outcome was computed from (its problems: raw values)
    owners: Owners = field(default_factory=Owners)
    renamed: dict[str, str] = field(default_factory=dict)  # owner column -> header it was found under
    skipped: list[Skipped] = field(default_factory=list)


def client_table(raw: pd.DataFrame, fields: Mapping[str, str], parsing: ParseOptions,
                 rules: RuleSet, where: str) -> ClientTable:
    """``raw`` parsed into the canonical table (rule-declared columns too); a column the rules
    require and ``raw`` does not have is a :class:`~sheets_sync.errors.ConfigError` naming
    ``where``."""
    table = build_table(raw, dict(fields), parsing, extra=rules.columns)
    require_columns(table, rules.required, raw.columns, where)
    return table


def categorized(table: ClientTable, rules: RuleSet, today: date, *, sheet: ClientsGrid | None = None,
                saved: Mapping[str, Mapping[str, str]] | None = None) -> Categorized:
    """Merge the owner columns (from ``sheet``, else from ``saved``, the state store's kept
    values; renamed owner columns are recognised first), set aside blank and repeated ids,
    and categorize as of ``today``."""
    renamed: dict[str, str] = {}
    owners = Owners()
    if sheet is not None:
        renamed = recognise_renamed(sheet, saved or {})
        table, owners = merge_owner_values(table, sheet, saved)
    ids = table.frame["id"].fillna("").astype(str)
    repeated = ids.duplicated(keep="first")
    skip = repeated | ids.eq("")
    skipped: list[Skipped] = []
    if skip.any():
        first = {cid: label for label, cid in ids[~repeated].items()}
        names = table.frame["name"]
        for label in ids.index[skip.to_numpy()]:
            cid = ids[label]
            name = names[label]
            skipped.append(Skipped(label, cid, "" if pd.isna(name) else str(name),
                                   first.get(cid) if cid else None))
        table = _rows(table, ids.index[~skip.to_numpy()])
    outcome = categorize(table, rules, today).frame
    return Categorized(outcome, table, owners, renamed, skipped)


def _rows(table: ClientTable, labels: Iterable[Any]) -> ClientTable:
    """The table restricted to ``labels`` (their problems only)."""
    keep = list(labels)
    kept = set(keep)
    return ClientTable(table.frame.loc[keep], {k: v for k, v in table.problems.items() if k in kept},
                       table.source_columns)
