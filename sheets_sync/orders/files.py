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

import csv
import io

import pandas as pd

from ..config import OrdersSettings
from ..crm.files import BOM, detect_encoding, detect_format
from ..errors import InputError
from ..table import ParseOptions
from .read import DEAL_ALIASES, Deals, deals_from_raw


def read_file(settings: OrdersSettings, options: ParseOptions) -> Deals:
    path = settings.path
    assert path is not None
    if not path.is_file():
        raise InputError(f"{path}: the orders file does not exist. Export the orders again, or fix "
                         "[orders] path in the config.")
    where = path.name
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raw, first_row = _xlsx(settings, where)
    else:
        raw, first_row = _csv(settings, where), 2
    return deals_from_raw(raw, settings.columns, settings.won, options, where, first_row)


def _csv(settings: OrdersSettings, where: str) -> pd.DataFrame:
    assert settings.path is not None
    data = settings.path.read_bytes()
    if settings.encoding:
        encoding, bom = settings.encoding, data.startswith(BOM)
    else:
        try:
            encoding, bom = detect_encoding(data)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
    body = data[len(BOM):] if bom else data
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise InputError(f"{where}: cannot be read as {encoding} ({exc}); set [orders] encoding, "
                         "e.g. encoding = \"cp1251\"") from None
    delimiter, _, _ = detect_format(text, settings.delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise InputError(f"{where}: line 1: the header row is empty; the first line must name "
                             "the columns (client id, amount, date...)")
        header = [h.strip() for h in header]
        rows = []
        for row in reader:
            if len(row) > len(header):
                raise InputError(f"{where}: line {reader.line_num}: {len(row)} values, but the "
                                 f"header has {len(header)} columns (a {delimiter!r} inside a value "
                                 "without quotes?)")
            rows.append(row + [""] * (len(header) - len(row)))
    except csv.Error as exc:
        raise InputError(f"{where}: line {reader.line_num}: {exc}") from None
    _no_twins(header, where)
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    return frame.replace({"": None})


def _xlsx(settings: OrdersSettings, where: str) -> tuple[pd.DataFrame, int]:
    import openpyxl

    assert settings.path is not None
    try:
        book = openpyxl.load_workbook(settings.path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise InputError(f"{where}: cannot read as .xlsx: {exc}") from exc
    try:
        if settings.sheet is not None and settings.sheet not in book.sheetnames:
            raise InputError(f"{where}: no sheet {settings.sheet!r} (sheets: "
                             f"{', '.join(book.sheetnames)}); fix [orders] sheet")
        ws = book[settings.sheet] if settings.sheet else book.worksheets[0]
        wanted = {settings.columns.get("client_id", ""), *DEAL_ALIASES["client_id"]}
        wanted = {w.strip().casefold() for w in wanted if w}
        header: list[str] | None = None
        header_row = 1
        rows = []
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            if header is None:  # the header: the first row naming the client id column
                cells = ["" if v is None else str(v).strip() for v in values]
                if any(c.casefold() in wanted for c in cells):
                    while cells and not cells[-1]:
                        cells.pop()
                    header, header_row = cells, number
                continue
            row = list(values[:len(header)]) + [None] * (len(header) - len(values))
            rows.append(row)
    finally:
        book.close()
    if header is None:
        raise InputError(f"{where}: no row names the client id column; give the orders a header "
                         "row, or map it: [orders.columns] client_id = \"<its header>\"")
    _no_twins(header, where)
    while rows and all(v is None or not str(v).strip() for v in rows[-1]):
        rows.pop()
    return pd.DataFrame(rows, columns=header, dtype=object), header_row + 1


def _no_twins(header: list[str], where: str) -> None:
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise InputError(f"{where}: the column {name!r} appears twice in the header; rename one")
        seen.add(name)
