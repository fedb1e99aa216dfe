"""The canonical client table: columns, their kinds, and building it from raw CRM values.

:func:`build_table` maps the CRM's field names to canonical columns, parses every value with
the parser for the column's kind, and collects a problem list per client for values that
cannot be read. A bad value never stops the run: the client is flagged, the rest go on.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd

from .parsing import (
    CONTROL_PATTERN,
    MAX_CELL_CHARS,
    MAX_INTEGER_DIGITS,
    MAX_YEAR,
    MIN_YEAR,
    DateOrder,
    ParseError,
    parse_bool,
    parse_count,
    parse_date,
    parse_number,
    parse_text,
    separator_hint,
    strip_control,
)

_CONTROL_RE = re.compile(CONTROL_PATTERN)


class Kind(str, Enum):
    TEXT = "text"
    MONEY = "money"
    NUMBER = "number"
    COUNT = "count"
    DATE = "date"
    BOOL = "bool"


#: Canonical columns of the client table and the kind of each.
COLUMNS: dict[str, Kind] = {
    "id": Kind.TEXT,
    "name": Kind.TEXT,
    "revenue": Kind.MONEY,
    "costs": Kind.MONEY,
    "orders_12m": Kind.COUNT,
    "first_order": Kind.DATE,
    "last_order": Kind.DATE,
    "overdue_days": Kind.COUNT,
    "referrals": Kind.COUNT,
    "potential": Kind.MONEY,
    "nps": Kind.NUMBER,
    "blacklisted": Kind.BOOL,
    "manual_category": Kind.TEXT,
    "notes": Kind.TEXT,
}

#: Header spellings accepted without any mapping (compared after :func:`header_key`).
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "client id", "company id", "код", "ид", "id клиента", "идентификатор"),
    "name": ("name", "company", "client", "название", "наименование", "компания", "клиент"),
    "revenue": ("revenue", "sales", "turnover", "выручка", "продажи", "оборот"),
    "costs": ("costs", "cost", "expenses", "затраты", "расходы", "себестоимость"),
    "orders_12m": ("orders_12m", "orders", "заказы", "заказов за 12 мес", "заказы за 12 месяцев"),
    "first_order": ("first_order", "first order", "первый заказ", "дата первого заказа"),
    "last_order": ("last_order", "last order", "последний заказ", "дата последнего заказа"),
    "overdue_days": ("overdue_days", "overdue", "просрочка", "дней просрочки", "просрочка дней"),
    "referrals": ("referrals", "рекомендации", "привел клиентов", "рефералы"),
    "potential": ("potential", "потенциал"),
    "nps": ("nps",),
    "blacklisted": ("blacklisted", "blacklist", "черный список", "чёрный список"),
    "manual_category": ("manual_category", "manual category", "ручная категория"),
    "notes": ("notes", "note", "заметки", "примечание", "комментарий"),
}

NUMERIC_KINDS = (Kind.MONEY, Kind.NUMBER, Kind.COUNT)


def header_key(text: object) -> str:
    """A header as compared: lower case, ``ё`` as ``е``, runs of spaces/underscores as one."""
    s = str(text).strip().lower().replace("ё", "е")
    return re.sub(r"[\s_]+", " ", s)


@dataclass(frozen=True)
class ParseOptions:
    """``[parsing]`` of the config: the decimal mark (``","``, ``"."`` or ``None`` to detect
    per column) and the order of slashed dates."""

    decimal: str | None = None
    dates: DateOrder = DateOrder.DMY
    years: tuple[int, int] = (MIN_YEAR, MAX_YEAR)  # dates outside are typos


@dataclass(frozen=True)
class Problem:
    """A value of a client that could not be used as written.

    ``blocking`` problems make the client unqualified; the others (control characters removed,
    a text cut to Excel's cell limit) are only reported beside the client's category."""

    column: str
    value: object
    why: str
    blocking: bool = True

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.column}: {self.why}"
        return f"{self.column} {_short(self.value)}: {self.why}"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "...'"


@dataclass
class ClientTable:
    """The parsed table (canonical columns first, extras after) and problems per row label."""

    frame: pd.DataFrame
    problems: dict[int, list[Problem]]
    source_columns: dict[str, str]  # canonical -> header it came from

    def problem_text(self) -> pd.Series:
        """One ``;``-joined problem string per row (empty where there are none)."""
        out = pd.Series("", index=self.frame.index, dtype=object)
        for label, items in self.problems.items():
            out.at[label] = "; ".join(str(p) for p in items)
        return out


def resolve_mapping(headers: Iterable[str], mapping: Mapping[str, str] | None,
                    extra: Iterable[str] | None = None) -> dict[str, str]:
    """Map canonical columns to the input's headers.

    ``mapping`` (canonical -> CRM field) from the config wins; otherwise the canonical name
    and the known aliases (English and Russian) are matched, ignoring case and spacing.
    """
    headers = list(headers)
    by_key = {header_key(h): h for h in headers}
    out: dict[str, str] = {}
    for canonical, field in (mapping or {}).items():
        if field in headers:
            out[canonical] = field
        elif header_key(field) in by_key:
            out[canonical] = by_key[header_key(field)]
    for name in extra or ():
        if name not in out and header_key(name) in by_key:
            out[name] = by_key[header_key(name)]
    for canonical, aliases in ALIASES.items():
        if canonical in out:
            continue
        for alias in aliases:
            if header_key(alias) in by_key and by_key[header_key(alias)] not in out.values():
                out[canonical] = by_key[header_key(alias)]
                break
    return out


def missing_columns_message(missing: Iterable[str], headers: Iterable[str]) -> str:
    parts = []
    headers = [str(h) for h in headers]
    for name in missing:
        close = difflib.get_close_matches(name, headers, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        parts.append(f"{name!r}{hint}")
    return (
        f"no column for {', '.join(parts)}. Rename the column, or map it in sheets-sync.toml "
        f"[fields], e.g. revenue = \"Выручка\". Columns found: {', '.join(headers) or 'none'}"
    )


def require_columns(table: ClientTable, required: Iterable[str], headers: Iterable[str], where: str) -> None:
    """A required column the input does not have at all is a configuration error, said once
    (rather than every client unqualified for an empty value)."""
    missing = [c for c in required if c not in table.source_columns]
    if missing and len(table.frame):  # an empty CRM may not even say which columns it has
        from .errors import ConfigError

        raise ConfigError(f"{where}: {missing_columns_message(missing, headers)}")


def build_table(
    raw: pd.DataFrame,
    mapping: Mapping[str, str] | None = None,
    options: ParseOptions = ParseOptions(),
    extra: Mapping[str, Kind] | None = None,
) -> ClientTable:
    """Parse ``raw`` (any headers) into the canonical client table.

    Canonical columns that the input does not have are added empty. Columns the mapping does
    not know ride along unchanged after the canonical ones.
    """
    problems: dict[int, list[Problem]] = {}
    raw = clean_text(raw, problems)
    resolved = resolve_mapping(raw.columns, mapping, extra)
    _no_duplicate_sources(raw.columns, resolved)
    frame = pd.DataFrame(index=raw.index)
    for canonical, kind in {**COLUMNS, **(extra or {})}.items():
        source = resolved.get(canonical)
        values = raw[source] if source is not None else pd.Series(None, index=raw.index, dtype=object)
        frame[canonical] = _parse_column(canonical, kind, values, options, problems)
    used = set(resolved.values())
    for position, column in enumerate(raw.columns):
        if column in used:
            continue
        name, n = column, 1
        while name in frame.columns:  # a header written twice: the second gets " (2)"
            if name == column and column in COLUMNS:
                break
            n += 1
            name = f"{column} ({n})"
        if name in frame.columns:
            continue
        frame[name] = raw.iloc[:, position]
    return ClientTable(frame, problems, resolved)


def clean_text(raw: pd.DataFrame, problems: dict[int, list[Problem]]) -> pd.DataFrame:
    """``raw`` with every text value made writable to any sheet: control characters (NUL,
    ``\\x01``, ``\\x0b``...) removed and text longer than Excel's cell limit cut to it, each
    reported once as a non-blocking problem of the client. Done when the table is built, so the
    sheet, the state and the history never see such a value."""
    out = raw
    for position, column in enumerate(raw.columns):
        values = raw.iloc[:, position]
        if values.dtype != object and not pd.api.types.is_string_dtype(values.dtype):
            continue
        cleaned: dict[object, str] = {}
        items = values.tolist()
        texts = [v for v in items if isinstance(v, str)]
        # the usual case, a clean column, is one search over the joined text
        if not texts or (not _CONTROL_RE.search("\n".join(texts))
                         and max(map(len, texts)) <= MAX_CELL_CHARS):
            continue
        for row, value in enumerate(items):
            if not isinstance(value, str):
                continue
            label = values.index[row]
            text, removed = strip_control(value)
            long = len(text) > MAX_CELL_CHARS
            if not removed and not long:
                continue
            name = str(column)
            if removed:
                problems.setdefault(label, []).append(Problem(
                    name, None, f"{removed} control character(s) removed (invisible characters "
                                "a sheet cannot hold; fix the value in the CRM)", blocking=False))
            if long:
                problems.setdefault(label, []).append(Problem(
                    name, None, f"{len(text):,} characters, cut to {MAX_CELL_CHARS:,} (the most a "
                                "spreadsheet cell holds)", blocking=False))
                text = text[:MAX_CELL_CHARS]
            cleaned[label] = text
        if cleaned:
            if out is raw:
                out = raw.copy()
            column_values = out.iloc[:, position].astype(object).copy()
            for label, text in cleaned.items():
                column_values.at[label] = text
            out.isetitem(position, column_values)
    return out


def _no_duplicate_sources(headers: Iterable[object], resolved: Mapping[str, str]) -> None:
    """Two input columns under the same header (``revenue`` twice, or ``Revenue`` and
    ``revenue``) for a column we read: which one is meant cannot be guessed."""
    headers = list(headers)
    for canonical, source in resolved.items():
        twins = [i for i, h in enumerate(headers) if header_key(h) == header_key(source)]
        if len(twins) > 1:
            from .errors import InputError

            cols = " and ".join(f"column {i + 1} {headers[i]!r}" for i in twins)
            raise InputError(
                f"{cols} both hold {canonical}: keep one (rename or delete the other), or map "
                f"the right one in sheets-sync.toml [fields], e.g. {canonical} = \"<its header>\"")


def _parse_column(
    name: str, kind: Kind, values: pd.Series, options: ParseOptions,
    problems: dict[int, list[Problem]],
) -> pd.Series:
    if kind in NUMERIC_KINDS and pd.api.types.is_numeric_dtype(values.dtype) \
            and not pd.api.types.is_bool_dtype(values.dtype):
        floats = values.to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad = {"is not a finite number": np.isinf(floats),
                   f"has more than {MAX_INTEGER_DIGITS} digits before the decimal mark: too "
                   "large to hold exactly (a typo?)": np.abs(floats) >= 10.0 ** MAX_INTEGER_DIGITS}
            if kind is Kind.COUNT:
                bad["is negative; a count cannot be"] = floats < 0
                bad["is not a whole number; a count must be"] = \
                    np.isfinite(floats) & (floats != np.floor(floats))
        flagged = np.zeros(len(floats), dtype=bool)
        for why, mask in bad.items():
            mask = mask & ~flagged
            for position in np.flatnonzero(mask):
                raw = values.iloc[position]
                raw = raw.item() if hasattr(raw, "item") else raw  # 2.5, not np.float64(2.5)
                problems.setdefault(values.index[position], []).append(Problem(name, raw, why))
            flagged |= mask
        out = pd.Series(pd.array(np.where(flagged, np.nan, floats), dtype="Float64"),
                        index=values.index)
        return out
    parser = _parser_for(kind, values, options)
    cache: dict[object, object] = {}
    parsed: list[object] = []
    for label, raw in zip(values.index, values.tolist(), strict=True):
        try:
            key = (type(raw), raw)
            if key in cache:
                result = cache[key]
            else:
                result = cache[key] = parser(raw)
        except TypeError:  # unhashable raw value (a list from a JSON API, say)
            result = ParseError(f"{raw!r} is not a single value")
        except ParseError as exc:
            result = cache[key] = exc
        if isinstance(result, ParseError):
            problems.setdefault(label, []).append(Problem(name, raw, _why(result, raw)))
            result = None
        parsed.append(result)
    return _typed(parsed, kind, values.index)


def _why(err: ParseError, raw: object) -> str:
    text = str(err)
    prefix = repr(raw)
    return text[len(prefix):].strip() if text.startswith(prefix) else text


def _parser_for(kind: Kind, values: pd.Series, options: ParseOptions) -> Callable[[object], object]:
    if kind in (Kind.MONEY, Kind.NUMBER, Kind.COUNT):
        decimal = options.decimal or separator_hint(values.dropna().unique()) or "thousands"
        fn = parse_count if kind is Kind.COUNT else parse_number
        return lambda raw: fn(raw, decimal)
    if kind is Kind.DATE:
        return lambda raw: parse_date(raw, options.dates, options.years)
    if kind is Kind.BOOL:
        return parse_bool
    return parse_text


def blank_column(kind: Kind, index: pd.Index) -> pd.Series:
    """A column of ``kind`` with every value blank."""
    return _typed([None] * len(index), kind, index)


def _typed(parsed: list[object], kind: Kind, index: pd.Index) -> pd.Series:
    if kind in NUMERIC_KINDS:
        return pd.Series(pd.array([np.nan if v is None else v for v in parsed], dtype="Float64"),
                         index=index).astype("Float64")
    if kind is Kind.DATE:
        return pd.Series(pd.to_datetime(pd.Series(parsed, dtype=object), errors="coerce").to_numpy(
            dtype="datetime64[ns]"), index=index)
    if kind is Kind.BOOL:
        return pd.Series(pd.array(parsed, dtype="boolean"), index=index)
    return pd.Series(pd.array(parsed, dtype="string"), index=index)
