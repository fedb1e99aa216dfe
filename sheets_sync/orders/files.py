"""``[orders] source = "file"``: a CSV (any common encoding and separator) or XLSX file of
orders, one row per deal, with a header row.

    [orders]
    source = "file"
    path = "orders.csv"             # or .xlsx (sheet = "Orders" for another than the first)
    won = ["Оплачен", "won"]         # only with a status column: the statuses that count
    [orders.columns]                 # only where the headers are not the usual ones
    client_id = "Код клиента"
    amount = "Сумма"
    date = "Дата"
    cost = "Себестоимость"           # optional
    status = "Статус"                # optional
"""

from __future__ import annotations

import pandas as pd

from ..config import OrdersSettings
from ..errors import InputError
from ..table import ParseOptions
from ..tablefile import read_table
from .read import DEAL_ALIASES, Deals, deals_from_raw


def read_file(settings: OrdersSettings, options: ParseOptions) -> Deals:
    """The deals of the file (read by the one reader of CSV/XLSX files, ``tablefile``); a
    problem names the file's line (CSV) or sheet row (XLSX)."""
    path = settings.path
    assert path is not None
    if not path.is_file():
        raise InputError(f"{path}: the orders file does not exist. Export the orders again, or fix "
                         "[orders] path in the config.")
    wanted = {w.strip().casefold() for w in (settings.columns.get("client_id", ""),
                                             *DEAL_ALIASES["client_id"]) if w}

    def is_header(values: object) -> bool:  # XLSX: the first row naming the client id column
        return any(v is not None and str(v).strip().casefold() in wanted for v in values)  # type: ignore[attr-defined]

    table = read_table(path, encoding=settings.encoding, delimiter=settings.delimiter,
                       sheet=settings.sheet, is_header=is_header, settings="[orders]",
                       no_header="no row names the client id column; give the orders a header row, "
                                 "or map it: [orders.columns] client_id = \"<its header>\"")
    _no_twins(table.header, path.name)
    raw = pd.DataFrame(table.rows, columns=table.header, dtype=object).replace({"": None})
    return deals_from_raw(raw, settings.columns, settings.won, options, path.name,
                          labels=[f"row {n}" for n in table.row_numbers])


def _no_twins(header: list[str], where: str) -> None:
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise InputError(f"{where}: the column {name!r} appears twice in the header; rename one")
        seen.add(name)
