"""Serial dates (days since 1899-12-30, the 1900 date system of Excel and Google Sheets): the one
place that converts them.

Users of it: the Google backend (it writes dates as serial numbers and turns the serials it
reads back into dates, :func:`typed_dates`, so the rest of the code sees dates), the Excel
export (cell XML holds serials), and the parsing of a CRM value that is a serial number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

EPOCH = date(1899, 12, 30)
EPOCH_DATETIME = datetime(1899, 12, 30)
MAX_SERIAL = 2958465  # 9999-12-31
_EPOCH64 = np.datetime64("1899-12-30")


def to_serial(value: date | datetime) -> int | float:
    """A date as its serial day number, a datetime as a fraction of days too."""
    if isinstance(value, datetime):
        delta = value - EPOCH_DATETIME
        return delta.days + delta.seconds / 86400
    return (value - EPOCH).days


def from_serial(value: float, kind: str = "datetime") -> date | datetime | None:
    """The moment a serial number stands for (to the second); its day when ``kind`` is
    ``"date"``; ``None`` when it is out of range (or not a number)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_SERIAL + 1:
        return None
    moment = EPOCH_DATETIME + timedelta(seconds=round(float(value) * 86400))
    if kind == "date":
        return moment.date()
    return moment


def serial_day(value: float) -> date | None:
    """The day of a whole serial number from 1 on (a CRM value in a date column), else ``None``."""
    if not 1 <= value <= MAX_SERIAL:
        return None
    return EPOCH + timedelta(days=int(value))


def serial_days(values: np.ndarray) -> np.ndarray:
    """Datetime64 values as serial numbers (float days; NaN for NaT), vectorized."""
    return (values.astype("datetime64[ns]") - _EPOCH64) / np.timedelta64(1, "D")


@dataclass(frozen=True)
class DateCells:
    """Where a tab holds dates, for a backend that reads them as serial numbers: ``columns``
    by header (header text -> ``"date"`` or ``"datetime"``; the header row is the first of the
    first ten rows naming any of them), ``labelled`` by the text in column A of a row (the value
    to its right is a date)."""

    columns: Mapping[str, str] = field(default_factory=dict)
    labelled: Mapping[str, str] = field(default_factory=dict)


HEADER_SCAN = 10


def typed_dates(grid: list[list[Any]], cells: DateCells) -> list[list[Any]]:
    """``grid`` with the serial numbers of the cells ``cells`` names turned into dates (in place;
    returned for convenience). Text, blanks and booleans stay as they are."""
    from .table import header_key

    columns = {header_key(h): kind for h, kind in cells.columns.items()}
    if columns:
        for r, line in enumerate(grid[:HEADER_SCAN]):
            found = {c: columns[header_key(v)] for c, v in enumerate(line)
                     if isinstance(v, str) and header_key(v) in columns}
            if found:
                for row in grid[r + 1:]:
                    for c, kind in found.items():
                        if c < len(row):
                            row[c] = _typed(row[c], kind)
                break
    if cells.labelled:
        for row in grid:
            kind = cells.labelled.get(row[0]) if row and isinstance(row[0], str) else None
            if kind and len(row) > 1:
                row[1] = _typed(row[1], kind)
    return grid


def _typed(value: Any, kind: str) -> Any:
    moment = from_serial(value, kind)
    return value if moment is None else moment
