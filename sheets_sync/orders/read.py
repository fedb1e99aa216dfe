"""From a table of orders as a source holds it (any headers, raw values) to the deals frame.

Shared by the SQL and the file readers: the columns are found by the ``[orders.columns]``
mapping or by common names (English and Russian), every value is read with the parsers of the
client table, and a value that cannot be read is a problem of that deal's client (who is then
unqualified, so nothing computed from a wrong sum reaches the CRM), never a stop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ConfigError, InputError
from ..parsing import ParseError, id_text, parse_date, parse_number, separator_hint
from ..table import ParseOptions, header_key

if TYPE_CHECKING:
    from .metrics import GroupSums

#: Column names recognised without a mapping (compared as headers are: case and spacing aside).
DEAL_ALIASES: dict[str, tuple[str, ...]] = {
    "client_id": ("client_id", "client id", "company_id", "company id", "client", "company",
                  "клиент", "код клиента", "id клиента", "компания"),
    "amount": ("amount", "sum", "total", "price", "сумма", "стоимость", "сумма заказа"),
    "date": ("date", "closed_at", "close_date", "closedate", "order_date", "дата",
             "дата закрытия", "дата заказа"),
    "cost": ("cost", "costs", "себестоимость", "затраты", "расходы"),
    "status": ("status", "stage", "статус", "этап"),
}
REQUIRED = ("client_id", "amount", "date")


@dataclass
class Deals:
    """The deals frame (:data:`~sheets_sync.orders.columns.DEAL_COLUMNS`) and the values that
    could not be read: client id -> texts naming the row, the column and the value."""

    frame: pd.DataFrame
    problems: dict[str, list[tuple[str, object, str]]] = field(default_factory=dict)
    has_cost: bool = True
    without_client: int = 0  # rows with a blank client id, left out
    where: str = ""
    summed: GroupSums | None = None  # summed per client by the database (``frame`` is empty)


def resolve(headers: Sequence[str], mapping: Mapping[str, str], where: str) -> dict[str, str]:
    """Our deal field -> the source's column; a mapped column that is missing, or a required
    field without a column, is one message naming the columns there are."""
    by_key = {header_key(h): h for h in headers}
    out: dict[str, str] = {}
    for ours, theirs in mapping.items():
        found = theirs if theirs in headers else by_key.get(header_key(theirs))
        if found is None:
            raise InputError(f"{where}: no column {theirs!r} for {ours} ([orders.columns] {ours} = "
                             f"{theirs!r}). Columns found: {', '.join(map(str, headers)) or 'none'}")
        out[ours] = found
    for ours, aliases in DEAL_ALIASES.items():
        if ours in out:
            continue
        for alias in aliases:
            found = by_key.get(header_key(alias))
            if found is not None and found not in out.values():
                out[ours] = found
                break
    missing = [f for f in REQUIRED if f not in out]
    if missing:
        raise InputError(f"{where}: no column for {', '.join(missing)}. Map it in the config, e.g. "
                         f"[orders.columns] {missing[0]} = \"<its column>\". Columns found: "
                         f"{', '.join(map(str, headers)) or 'none'}")
    return out


def deals_from_raw(raw: pd.DataFrame, mapping: Mapping[str, str], won: Sequence[str],
                   options: ParseOptions, where: str, first_row: int = 2,
                   labels: Sequence[str] | None = None) -> Deals:
    """Read ``raw`` (one row per deal, the source's columns) into :class:`Deals`.

    ``first_row`` is the row number the source shows for the first data row (2 in a file with
    a header), so a problem names the row an owner can find; ``labels`` name the rows instead
    (a table's key: ``id 17``)."""
    columns = resolve([str(c) for c in raw.columns], mapping, where)
    n = len(raw)
    # a database's NULL comes back as NaN in a text column: no client, not a client "nan"
    ids = np.array(["" if v is None or v != v else id_text(v)
                    for v in raw[columns["client_id"]].tolist()], dtype=object)
    if "status" in columns:
        status = raw[columns["status"]].map(lambda v: "" if v is None or v != v else str(v).strip())
        if not won:
            seen = ", ".join(repr(s) for s in status.drop_duplicates().head(10) if s)
            raise ConfigError(f"{where}: the orders have a status column {columns['status']!r}; say "
                              f"which statuses are won deals, e.g. [orders] won = [\"won\"] (statuses "
                              f"found: {seen or 'none'})")
        wanted = {w.casefold() for w in won}
        is_won = status.str.casefold().isin(wanted).to_numpy(dtype=bool)
    else:
        is_won = np.ones(n, dtype=bool)
    deals = Deals(pd.DataFrame(), has_cost="cost" in columns, where=where)
    blank_id = ids == ""
    deals.without_client = int((blank_id & is_won).sum())
    counted = is_won & ~blank_id

    def note(position: int, column: str, value: object, why: str) -> None:
        if counted[position]:
            row = labels[position] if labels is not None else f"row {first_row + position}"
            deals.problems.setdefault(ids[position], []).append((f"{where}, {row}, {column}", value, why))

    amount = _numbers(raw[columns["amount"]], options, columns["amount"], note, required=True)
    cost = _numbers(raw[columns["cost"]], options, columns["cost"], note, required=False) \
        if "cost" in columns else np.full(n, np.nan)
    dates = _dates(raw[columns["date"]], options, columns["date"], note)
    deals.frame = pd.DataFrame({"client_id": pd.Categorical(ids), "amount": amount, "date": dates,
                                "cost": cost, "won": counted})
    return deals


def _numbers(values: pd.Series, options: ParseOptions, column: str, note, *,  # type: ignore[no-untyped-def]
             required: bool) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        out = values.to_numpy(dtype="float64", na_value=np.nan, copy=True)
        bad = ~np.isfinite(out) & ~np.isnan(out)
        for position in np.flatnonzero(bad | (np.isnan(out) if required else False)):
            note(int(position), column, None if np.isnan(out[position]) else float(out[position]),
                 "empty" if np.isnan(out[position]) else "is not a finite number")
        out[bad] = np.nan
        return out
    decimal = options.decimal or separator_hint(values.dropna().unique()) or "thousands"
    cache: dict[object, float | ParseError | None] = {}
    out = np.full(len(values), np.nan)
    for position, raw in enumerate(values.tolist()):
        try:
            result = cache[raw] if raw in cache else cache.setdefault(raw, parse_number(raw, decimal))
        except ParseError as exc:
            result = cache[raw] = exc
        except TypeError:
            result = ParseError(f"{raw!r} is not a single value")
        if isinstance(result, ParseError):
            note(position, column, raw, _why(result, raw))
        elif result is None:
            if required:
                note(position, column, None, "empty")
        else:
            out[position] = result
    return out


def _dates(values: pd.Series, options: ParseOptions, column: str, note) -> np.ndarray:  # type: ignore[no-untyped-def]
    cache: dict[object, object] = {}
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    for position, raw in enumerate(values.tolist()):
        try:
            result = cache[raw] if raw in cache else cache.setdefault(
                raw, parse_date(raw, options.dates, options.years))
        except ParseError as exc:
            result = cache[raw] = exc
        except TypeError:
            result = ParseError(f"{raw!r} is not a single value")
        if isinstance(result, ParseError):
            note(position, column, raw, _why(result, raw))
        elif result is None:
            note(position, column, None, "empty")
        else:
            out[position] = np.datetime64(result, "D")
    return out


def _why(err: ParseError, raw: object) -> str:
    text = str(err)
    prefix = repr(raw)
    return text[len(prefix):].strip() if text.startswith(prefix) else text
