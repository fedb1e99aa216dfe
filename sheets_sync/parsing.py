"""Parsing of real-world cell values: money in any common style, percents, counts, dates.

Every parser takes one raw value and returns the parsed value, ``None`` for an empty or
"no data" value, or raises :class:`ParseError` with a short reason meant for the owner
("'12,3,4' is not a number"). Parsers never guess silently where a value is ambiguous and the
caller has given no hint: ``1,234`` is one thousand two hundred and thirty-four with
``decimal="."`` and one point two three four with ``decimal=","``.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

EMPTY_MARKERS = frozenset(
    {"", "-", "—", "–", "н/д", "нд", "n/a", "na", "nan", "none", "null", "нет данных", "#n/a"}
)

# Thousands separators and other spaces a spreadsheet or CRM puts inside numbers.
_SPACES = dict.fromkeys(map(ord, " \u00a0\u202f\u2009\u2007\u2008\u200a\u205f'’`_\t"), None)
_MINUSES = "-\u2212\u2012\u2013\u2014\ufe63\uff0d"
_CURRENCY = re.compile(
    r"(₽|руб\.?|р\.|rub|rur|usd|eur|gbp|kzt|byn|uah|\$|€|£|¥|₸|₴)", re.IGNORECASE
)
_NUMBER = re.compile(r"^\d[\d.,]*$|^[.,]\d+$")


#: Dates outside these years are typos, not orders (``[parsing] min_year``/``max_year``). The
#: hard bounds are what a pandas timestamp can hold (1677-09-21 .. 2262-04-11).
MIN_YEAR, MAX_YEAR = 1900, 2200
HARD_MIN_YEAR, HARD_MAX_YEAR = 1678, 2261

#: Two-digit years: 00-29 are 2000-2029 and 30-99 are 1930-1999 (Excel's and Windows' rule).
TWO_DIGIT_PIVOT = 30

#: The most digits before the decimal mark a number may have: beyond 15 a float no longer
#: holds every digit (1234567890123456789 would be stored as ...800), so it is not read.
MAX_INTEGER_DIGITS = 15

#: Excel's limit of characters in a cell (Google's is 50,000); longer text is cut to it.
MAX_CELL_CHARS = 32_767

# Characters no spreadsheet file may hold (XML 1.0 forbids them; openpyxl refuses them):
# C0 controls except tab, line feed and carriage return, DEL, and U+FFFE/U+FFFF.
CONTROL_PATTERN = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]"
_CONTROL = re.compile(CONTROL_PATTERN)


class ParseError(ValueError):
    """A raw value that cannot be read; ``str(err)`` says why, for the owner."""


class DateOrder(str, Enum):
    """How to read a date written with slashes, such as ``11/03/2026``."""

    DMY = "dmy"
    MDY = "mdy"


def is_empty(raw: object) -> bool:
    """True for ``None``, NaN, blank text and the usual "no data" markers."""
    if raw is None:
        return True
    if isinstance(raw, float) and math.isnan(raw):
        return True
    if isinstance(raw, str):
        return raw.strip().lower() in EMPTY_MARKERS
    try:
        import pandas as pd

        return bool(raw is pd.NA or raw is pd.NaT)
    except ImportError:  # pragma: no cover
        return False


def parse_number(raw: object, decimal: str | None = None) -> float | None:
    """Read a number written in any common style.

    ``decimal`` is ``","`` or ``"."`` when the column's style is known, ``None`` to decide
    from the value itself; a value that stays ambiguous (one separator followed by exactly
    three digits, as in ``1,234``) then raises :class:`ParseError`.
    Percent signs are dropped (``12%`` is 12); parentheses and any Unicode minus make a value
    negative; currency signs and codes, spaces of every width and apostrophes are ignored.
    """
    if is_empty(raw):
        return None
    if isinstance(raw, bool):
        raise ParseError(f"{raw!r} is a yes/no value, not a number")
    if isinstance(raw, int):
        if abs(raw) >= 10 ** MAX_INTEGER_DIGITS:
            raise ParseError(_too_long(raw))
        return float(raw)
    if isinstance(raw, float | Decimal):
        if not math.isfinite(raw):
            raise ParseError(f"{_clip(raw)} is not a finite number")
        if abs(raw) >= 10 ** MAX_INTEGER_DIGITS:
            raise ParseError(_too_long(raw))
        return float(raw)
    text = str(raw).strip()
    original = text
    text = _CURRENCY.sub("", text).translate(_SPACES).replace("%", "")
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1]
    if text and text[0] in _MINUSES:
        negative, text = not negative, text[1:]
    elif text.startswith("+"):
        text = text[1:]
    if text and text[-1] in _MINUSES:  # "500-" as some accounting exports write it
        negative, text = not negative, text[:-1]
    if not _NUMBER.match(text):
        raise ParseError(f"{original!r} is not a number")
    digits = _normalise_separators(text, decimal, original)
    if len(digits.partition(".")[0].lstrip("0")) > MAX_INTEGER_DIGITS:
        raise ParseError(_too_long(original))
    value = float(digits)
    return -value if negative else value


def _clip(raw: object) -> str:
    text = repr(raw)
    return text if len(text) <= 40 else text[:37] + "..."


def _too_long(raw: object) -> str:
    return (f"{_clip(raw)} has more than {MAX_INTEGER_DIGITS} digits before the decimal mark: "
            "too large to hold exactly (a typo?)")


def strip_control(text: str) -> tuple[str, int]:
    """``text`` without the control characters no spreadsheet may hold, and how many went."""
    clean, removed = _CONTROL.subn("", text)
    return clean, removed


def _normalise_separators(text: str, decimal: str | None, original: str) -> str:
    commas, dots = text.count(","), text.count(".")
    if commas and dots:
        dec = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if dec == "," else ","
        if text.count(dec) > 1:
            raise ParseError(f"{original!r} is not a number (two decimal marks)")
        _check_groups(text.split(dec)[0], thousands, original)
        return text.replace(thousands, "").replace(dec, ".")
    sep = "," if commas else "." if dots else ""
    if not sep:
        return text
    count = commas or dots
    head, _, tail = text.rpartition(sep)
    if count > 1:  # several: they can only be thousands separators
        _check_groups(text, sep, original)
        return text.replace(sep, "")
    if len(tail) != 3 or not head or head == "0":
        return text.replace(sep, ".")  # 12,5 or 0,125 or ,5: a decimal mark
    if decimal is None:
        raise ParseError(
            f"{original!r} is ambiguous: {sep!r} may be a decimal mark or a thousands "
            "separator (set [parsing] decimal in the config)"
        )
    return text.replace(sep, ".") if decimal == sep else text.replace(sep, "")


def _check_groups(text: str, sep: str, original: str) -> None:
    groups = text.split(sep)
    if not groups[0] or len(groups[0]) > 3 or any(len(g) != 3 for g in groups[1:]):
        raise ParseError(f"{original!r} is not a number (misplaced {sep!r})")


def separator_hint(values: object) -> str | None:
    """Guess a column's decimal mark from its unambiguous values, or ``None`` if none tell."""
    votes = {",": 0, ".": 0}
    for raw in values:  # type: ignore[attr-defined]
        if not isinstance(raw, str):
            continue
        text = _CURRENCY.sub("", raw).translate(_SPACES)
        commas, dots = text.count(","), text.count(".")
        if commas and dots:
            votes["," if text.rfind(",") > text.rfind(".") else "."] += 1
        elif commas + dots == 1:
            sep = "," if commas else "."
            tail = text.rpartition(sep)[2].rstrip("%)")
            if len(tail) != 3:
                votes[sep] += 1
        elif commas > 1:
            votes["."] += 1
        elif dots > 1:
            votes[","] += 1
    if votes[","] == votes["."]:
        return None
    return "," if votes[","] > votes["."] else "."


def parse_count(raw: object, decimal: str | None = None) -> float | None:
    """A count such as orders or days: a whole number that is not negative."""
    value = parse_number(raw, decimal)
    if value is not None and value < 0:
        raise ParseError(f"{raw!r} is negative; a count cannot be")
    if value is not None and not value.is_integer():
        raise ParseError(f"{raw!r} is not a whole number; a count must be")
    return value


_MONTHS = {
    "янв": 1, "фев": 2, "мар": 3, "апр": 4, "мая": 5, "май": 5, "июн": 6, "июл": 7, "авг": 8,
    "сен": 9, "окт": 10, "ноя": 11, "дек": 12, "jan": 1, "feb": 2, "mar": 3, "apr": 4,
    "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}
# A date may be followed by a time of day (``2026-11-01 10:00``, ``2026-11-01T10:00:00Z``),
# nothing else: ``2026-11-01 garbage`` is not read.
_TIME = r"(?:(?:[ T]|\s+)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})" + _TIME + "$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})" + _TIME + "$")
_SLASHED = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})" + _TIME + "$")
_WORDS = re.compile(r"^(\d{1,2})\s+([^\W\d_]+)\.?\s+(\d{4})(?:\s*г\.?)?$")


def parse_date(raw: object, order: DateOrder | str = DateOrder.DMY,
               years: tuple[int, int] = (MIN_YEAR, MAX_YEAR)) -> date | None:
    """Read a date: ISO ``2026-11-23``, ``23.11.2026``, slashed by ``order``, ``23 ноября
    2026``, a ``date``/``datetime``, or an Excel serial number (1900 date system).

    A date outside ``years`` (inclusive) is refused: a year 1200 or 9999 is a typo, and pandas
    could not even hold it. Two-digit years follow :data:`TWO_DIGIT_PIVOT`."""
    value = _parse_date(raw, order)
    if value is not None and not years[0] <= value.year <= years[1]:
        raise ParseError(f"{_clip(raw)} is outside the years {years[0]}-{years[1]} (a typo? "
                         "[parsing] min_year and max_year set the range)")
    return value


def _parse_date(raw: object, order: DateOrder | str) -> date | None:
    if is_empty(raw):
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if hasattr(raw, "to_pydatetime"):
        return raw.to_pydatetime().date()  # type: ignore[attr-defined]
    if isinstance(raw, bool):
        raise ParseError(f"{raw!r} is not a date")
    if isinstance(raw, int | float):
        return _serial(raw, raw)
    text = str(raw).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return _serial(float(text), raw)
    order = DateOrder(order)
    for pattern, kind, slashed in ((_ISO, "ymd", False), (_DOTTED, "dmy", False),
                                   (_SLASHED, order.value, True)):
        m = pattern.match(text)
        if m:
            a, b, c = (int(g) for g in m.groups()[:3])
            y, mo, d = {"ymd": (a, b, c), "dmy": (c, b, a), "mdy": (c, a, b)}[kind]
            year = _full_year(y, m.group(3) if kind != "ymd" else m.group(1))
            return _make_date(year, mo, d, raw, kind if slashed else "")
    m = _WORDS.match(text.lower())
    if m:
        month = _MONTHS.get(m.group(2)[:3])
        if month:
            return _make_date(int(m.group(3)), month, int(m.group(1)), raw, "")
    raise ParseError(f"{raw!r} is not a date")


def _full_year(year: int, written: str) -> int:
    if len(written) != 2:
        return year
    return year + (2000 if year < TWO_DIGIT_PIVOT else 1900)


def _make_date(y: int, m: int, d: int, raw: object, kind: str) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        hint = ""
        if kind:  # a slashed date: the other order may be meant
            other = "mdy" if kind == "dmy" else "dmy"
            hint = f" in {kind.upper()} order (set [parsing] dates = \"{other}\" if it is {other.upper()})"
        raise ParseError(f"{raw!r} is not a valid date{hint}") from None


def _serial(value: float, raw: object) -> date:
    from .serials import serial_day

    day = serial_day(value)
    if day is None:
        raise ParseError(f"{raw!r} is not a date (as an Excel serial number it is out of range)")
    return day


_TRUE = frozenset({"1", "yes", "y", "true", "да", "д", "x", "х", "✓", "✔", "+", "on"})
_FALSE = frozenset({"0", "no", "n", "false", "нет", "н", "off"})


def parse_bool(raw: object) -> bool | None:
    """Yes/no in English or Russian, 1/0, a tick or an ``x``."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        if raw in (0, 1):
            return bool(raw)
        raise ParseError(f"{raw!r} is not yes/no")
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE or text in EMPTY_MARKERS:
        return False if text in _FALSE else None
    raise ParseError(f"{raw!r} is not yes/no (use да/нет, yes/no, 1/0)")


def parse_text(raw: object) -> str | None:
    """Text as written, without surrounding spaces; numbers like ``1234.0`` lose the ``.0``."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return None
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    text = str(raw).strip()
    return text or None


def id_text(value: object) -> str:
    """A client id as text, however a sheet, a file or a database returned it: ``12.0`` and
    ``Decimal("12")`` are ``"12"``, ``None`` is ``""``, spaces around are dropped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value).strip()
