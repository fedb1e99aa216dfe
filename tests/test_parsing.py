"""Parsing of real-world values: unit cases and round trips of formatted numbers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sheets_sync.parsing import (
    ParseError,
    parse_bool,
    parse_count,
    parse_date,
    parse_number,
    separator_hint,
    strip_control,
)


@pytest.mark.parametrize(("raw", "expected"), [
    ("1 234 567,89 ₽", 1234567.89),
    ("1,234,567.89", 1234567.89),
    ("1.234.567,89 €", 1234567.89),
    ("12%", 12.0),
    ("−500", -500.0),
    ("(1 200)", -1200.0),
    ("1\u00a0234,5", 1234.5),
    ("2\u202f450\u202f000 руб.", 2450000.0),
    ("1\u2009000", 1000.0),
    ("$1,000.50", 1000.5),
    ("0,125", 0.125),
    (",5", 0.5),
    ("+7", 7.0),
    (42, 42.0),
    (3.5, 3.5),
])
def test_numbers(raw: object, expected: float) -> None:
    assert parse_number(raw) == pytest.approx(expected)


@pytest.mark.parametrize("raw", [None, "", "  ", "—", "-", "н/д", "n/a", "N/A", "nan", float("nan")])
def test_empty_markers(raw: object) -> None:
    assert parse_number(raw) is None


@pytest.mark.parametrize(("raw", "why"), [
    ("12,3,4", "misplaced"),
    ("abc", "not a number"),
    ("1.2.3,4,5", "two decimal marks"),
    ("1,234", "ambiguous"),
    (True, "yes/no"),
])
def test_bad_numbers(raw: object, why: str) -> None:
    with pytest.raises(ParseError, match=why):
        parse_number(raw)


def test_ambiguous_resolved_by_hint() -> None:
    assert parse_number("1,234", decimal=",") == pytest.approx(1.234)
    assert parse_number("1,234", decimal=".") == 1234.0
    assert parse_number("1.234", decimal=",") == 1234.0
    assert parse_number("1,234", decimal="thousands") == 1234.0


def test_column_hint() -> None:
    assert separator_hint(["1,234", "12,5", "7"]) == ","
    assert separator_hint(["1,234", "1,234,567"]) == "."
    assert separator_hint(["1,234"]) is None


@pytest.mark.parametrize(("raw", "expected"), [
    ("23.11.2026", date(2026, 11, 23)),
    ("2026-11-23", date(2026, 11, 23)),
    ("2026-11-23T10:20:00", date(2026, 11, 23)),
    ("23/11/2026", date(2026, 11, 23)),
    ("23 ноября 2026", date(2026, 11, 23)),
    ("23 Nov 2026", date(2026, 11, 23)),
    (46349, date(2026, 11, 23)),
    ("46349", date(2026, 11, 23)),
])
def test_dates(raw: object, expected: date) -> None:
    assert parse_date(raw) == expected


def test_slashed_dates_follow_the_config() -> None:
    assert parse_date("11/23/2026", "mdy") == date(2026, 11, 23)
    assert parse_date("01/02/2026", "dmy") == date(2026, 2, 1)
    assert parse_date("01/02/2026", "mdy") == date(2026, 1, 2)
    with pytest.raises(ParseError, match='dates = "mdy"'):
        parse_date("11/23/2026", "dmy")


@pytest.mark.parametrize("raw", ["31.02.2026", "yesterday", "2026-13-01", -5, True])
def test_bad_dates(raw: object) -> None:
    with pytest.raises(ParseError):
        parse_date(raw)


def test_dotted_date_error_gives_no_order_hint() -> None:
    with pytest.raises(ParseError) as err:
        parse_date("31.02.2026")
    assert "mdy" not in str(err.value)


def test_bools() -> None:
    assert parse_bool("да") is True and parse_bool("no") is False and parse_bool(1) is True
    assert parse_bool("") is None
    with pytest.raises(ParseError):
        parse_bool("maybe")


# -- round trips: a number formatted in each style parses back to itself

def _group(digits: str, sep: str) -> str:
    parts = []
    while digits:
        parts.insert(0, digits[-3:])
        digits = digits[:-3]
    return sep.join(parts)


STYLES = {
    "ru": (" ", ",", " ₽"), "ru_nbsp": ("\u00a0", ",", "\u00a0руб."), "ru_thin": ("\u202f", ",", ""),
    "en": (",", ".", ""), "en_usd": (",", ".", " USD"), "de": (".", ",", " €"), "plain": ("", ".", ""),
}


def fmt(value: float, style: str, negative_style: str) -> str:
    thousands, decimal, suffix = STYLES[style]
    cents = round(abs(value) * 100)
    whole, frac = divmod(cents, 100)
    text = f"{_group(str(whole), thousands)}{decimal}{frac:02d}{suffix}"
    if value < 0 and cents:
        text = {"minus": "-" + text, "unicode": "\u2212" + text, "parens": f"({text})"}[negative_style]
    return text


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
       st.sampled_from(sorted(STYLES)), st.sampled_from(["minus", "unicode", "parens"]))
def test_round_trip_with_decimals(value: float, style: str, negative: str) -> None:
    text = fmt(value, style, negative)
    expected = round(abs(value) * 100) / 100 * (-1 if value < 0 else 1)
    assert parse_number(text) == pytest.approx(expected, abs=0.001)


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(sorted(STYLES)))
def test_round_trip_whole_numbers_with_style_hint(value: int, style: str) -> None:
    thousands, decimal, suffix = STYLES[style]
    text = _group(str(value), thousands) + suffix
    assert parse_number(text, decimal=decimal) == value


@given(st.dates(min_value=date(1900, 3, 1), max_value=date(2099, 12, 31)))
def test_date_round_trips(d: date) -> None:
    assert parse_date(d.strftime("%d.%m.%Y")) == d
    assert parse_date(d.isoformat()) == d
    assert parse_date(d.strftime("%m/%d/%Y"), "mdy") == d
    assert parse_date(d.strftime("%d/%m/%Y"), "dmy") == d
    assert parse_date((d - date(1899, 12, 30)).days) == d


@given(st.text(max_size=20))
def test_number_parser_never_crashes(text: str) -> None:
    try:
        result = parse_number(text)
    except ParseError:
        return
    assert result is None or isinstance(result, float)


@given(st.text(max_size=20))
def test_date_parser_never_crashes(text: str) -> None:
    try:
        result = parse_date(text)
    except ParseError:
        return
    assert result is None or isinstance(result, date)


def test_serial_epoch() -> None:
    assert parse_date(1, years=(1899, 2200)) == date(1899, 12, 31)
    assert parse_date(45000.75) == date(1899, 12, 30) + timedelta(days=45000)


@pytest.mark.parametrize(("raw", "why"), [
    ("9" * 401, "more than 15 digits"),
    (10 ** 400, "more than 15 digits"),
    ("1234567890123456789", "more than 15 digits"),
    (float("inf"), "not a finite number"),
    (1e300, "more than 15 digits"),
])
def test_numbers_beyond_float_precision_are_refused(raw: object, why: str) -> None:
    with pytest.raises(ParseError, match=why):
        parse_number(raw)


def test_fifteen_digits_and_long_decimals_are_read() -> None:
    assert parse_number("999999999999999") == 999999999999999.0
    assert parse_number("0.30000000000000004") == pytest.approx(0.3)


def test_counts_are_whole() -> None:
    assert parse_count("3") == 3.0
    with pytest.raises(ParseError, match="not a whole number"):
        parse_count("2.5")


@pytest.mark.parametrize("raw", ["31.12.9999", "01.01.1200", "1899-12-31", "2201-01-01",
                                 date(9999, 12, 31), 2958465])
def test_dates_outside_the_years_are_refused(raw: object) -> None:
    with pytest.raises(ParseError, match="outside the years 1900-2200"):
        parse_date(raw)


def test_date_range_is_configurable() -> None:
    assert parse_date("01.01.1850", years=(1800, 2200)) == date(1850, 1, 1)


@pytest.mark.parametrize(("raw", "year"), [("01.01.85", 1985), ("01.01.30", 1930),
                                          ("01.01.29", 2029), ("01.01.00", 2000),
                                          ("01/01/99", 1999)])
def test_two_digit_years_follow_one_rule(raw: str, year: int) -> None:
    assert parse_date(raw).year == year


@pytest.mark.parametrize("raw", ["2026-11-01 garbage", "01.11.2026 abc", "2026-11-01T"])
def test_dates_with_trailing_text_are_refused(raw: str) -> None:
    with pytest.raises(ParseError):
        parse_date(raw)


@pytest.mark.parametrize("raw", ["2026-11-01 10:00", "2026-11-01T10:00:00Z",
                                 "2026-11-01 10:00:00.123+03:00", "01.11.2026 10:00"])
def test_dates_with_a_time_are_read(raw: str) -> None:
    assert parse_date(raw) == date(2026, 11, 1)


def test_control_characters_are_stripped() -> None:
    assert strip_control("A\x00c\x0bme\x01\tco") == ("Acme\tco", 3)
