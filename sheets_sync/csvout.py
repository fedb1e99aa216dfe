"""CSV files safe to open in Excel (OWASP's CSV-injection rule).

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run by
Excel as a formula (``=cmd|' /C calc'!A0``, ``@SUM(A1)``, ``+7 495...``). Such a cell gets a
single quote in front, which Excel shows as text. A number stays a number: ``-500`` and
``+7`` are left alone, text or not. ``--raw-csv`` writes every value as it is.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(?:\d[\d\u00a0\u202f ]*(?:[.,]\d+)*|[.,]\d+)(?:[eE][+-]?\d+)?%?$")


def neutralise(value: object) -> object:
    """``value`` as a CSV cell Excel will not run: ``'`` before a text that would start a
    formula, unless the text is a plain number."""
    if not isinstance(value, str) or not value.startswith(TRIGGERS):
        return value
    if _NUMBER.match(value.strip()):
        return value
    return "'" + value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell passed through :func:`neutralise`; headers too."""
    out = frame.copy()
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            out.isetitem(position, column.astype(object).map(neutralise))
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def write_csv(frame: pd.DataFrame, path: Path, *, raw: bool = False, sep: str | None = None) -> None:
    """``frame`` as UTF-8 CSV with a BOM (Excel reads Cyrillic right), safe unless ``raw``.

    ``sep`` is the separator (default: the language's, ``;`` in Russian, as Russian Excel
    splits columns); with ``;`` numbers get a decimal comma, so that Excel reads them as numbers."""
    if sep is None:
        from .i18n import language

        sep = ";" if language() == "ru" else ","
    decimal = "," if sep == ";" else "."
    (frame if raw else safe_frame(frame)).to_csv(path, index=False, encoding="utf-8-sig", sep=sep,
                                                 decimal=decimal)
