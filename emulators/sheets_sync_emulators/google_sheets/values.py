"""Cell values: USER_ENTERED parsing, number/date formatting.

Formulas are stored as typed and echoed with ``valueRenderOption=FORMULA``; their values
(FORMATTED_VALUE / UNFORMATTED_VALUE) come from :mod:`.formulas`.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from .formulas import ERRORS as ERRORS  # re-exported: the evaluator lives in formulas.py

EPOCH = _dt.datetime(1899, 12, 30)

# Locale separators: (decimal, grouping). Google's ru_RU output uses a no-break space.
_LOCALE_SEPARATORS = {
    "en": (".", ","),
    "ru": (",", "\u00a0"),
    "de": (",", "."),
    "fr": (",", "\u202f"),
    "es": (",", "."),
    "it": (",", "."),
    "pt": (",", "."),
    "uk": (",", "\u00a0"),
}


def separators(locale: str) -> tuple[str, str]:
    """Decimal and grouping separators for a spreadsheet locale like ``ru_RU``."""
    return _LOCALE_SEPARATORS.get(locale.split("_")[0].lower(), (".", ","))


class Cell:
    """One stored cell. ``kind``: None (empty), 's', 'n', 'b' or 'f' (formula)."""

    __slots__ = ("fmt", "kind", "note", "runs", "validation", "value")

    def __init__(self) -> None:
        self.kind: str | None = None
        self.value: Any = None
        self.fmt: dict[str, Any] | None = None
        self.note: str | None = None
        self.validation: dict[str, Any] | None = None
        self.runs: list[dict[str, Any]] | None = None  # textFormatRuns

    def is_blank(self) -> bool:
        return (self.kind is None and not self.fmt and not self.note and not self.validation
                and not self.runs)

    def copy(self) -> Cell:
        c = Cell()
        c.kind, c.value, c.note = self.kind, self.value, self.note
        c.fmt = _deep_copy(self.fmt) if self.fmt else None
        c.validation = _deep_copy(self.validation) if self.validation else None
        c.runs = _deep_copy(self.runs) if self.runs else None
        return c


def _deep_copy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _deep_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_deep_copy(v) for v in obj]
    return obj


def as_json_number(v: float | int) -> float | int:
    """Integral floats become ints (Google prints ``53``, not ``53.0``)."""
    if isinstance(v, bool):
        return v
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return int(v)
    return v


# --------------------------------------------------------------------------- input

_NUM_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_DOT_DATE_RE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
_SLASH_DATE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def to_serial(d: _dt.datetime) -> float | int:
    delta = d - EPOCH
    return as_json_number(delta.days + delta.seconds / 86400)


def from_serial(v: float) -> _dt.datetime:
    return EPOCH + _dt.timedelta(days=float(v))


def _date_or_none(y: int, m: int, d: int, hh: str | None, mi: str | None, ss: str | None):
    try:
        return _dt.datetime(y, m, d, int(hh or 0), int(mi or 0), int(ss or 0))
    except ValueError:
        return None


def parse_user_entered(raw: Any, locale: str = "en_US") -> tuple[str | None, Any, dict | None]:
    """Parse one USER_ENTERED input into (kind, value, numberFormat or None)."""
    if raw is None:
        return None, None, None
    if isinstance(raw, bool):
        return "b", raw, None
    if isinstance(raw, (int, float)):
        return "n", raw, None
    text = str(raw)
    if text == "":
        return None, None, None
    if text.startswith("'"):
        return "s", text[1:], None
    if text.startswith("=") and len(text) > 1:
        return "f", text, None
    stripped = text.strip()
    if stripped.upper() in ("TRUE", "FALSE"):
        return "b", stripped.upper() == "TRUE", None
    dec, grp = separators(locale)
    if _NUM_RE.match(stripped) and dec == ".":
        return "n", as_json_number(float(stripped)), None
    if dec == "," and re.match(r"^[+-]?\d+(,\d+)?$", stripped):
        return "n", as_json_number(float(stripped.replace(",", "."))), None
    number = _parse_grouped(stripped, dec, grp)
    if number is not None:
        value, decimals, percent, currency = number
        pattern = ("#,##0" if currency or "," in stripped or grp in stripped or " " in stripped else "0")
        if decimals:
            pattern += "." + "0" * decimals
        if percent:
            return "n", as_json_number(value), {"type": "PERCENT", "pattern": pattern.replace("#,##", "") + "%"}
        if currency:
            return "n", as_json_number(value), {"type": "CURRENCY", "pattern": f'"{currency}"{pattern}'}
        return "n", as_json_number(value), {"type": "NUMBER", "pattern": pattern}
    date = _parse_date(stripped, locale)
    if date is not None:
        kind = "DATE_TIME" if date[0].time() != _dt.time() else "DATE"
        return "n", to_serial(date[0]), {"type": kind, "pattern": date[1]}
    if stripped.startswith("+") and len(stripped) > 1:
        return "f", "=" + stripped, None
    return "s", text, None


def _parse_grouped(text: str, dec: str, grp: str):
    currency = ""
    m = re.match(r"^([$€£₽¥])\s?(.*)$", text)
    if m:
        currency, text = m.group(1), m.group(2)
    else:
        m = re.match(r"^(.*?)\s?([$€£₽¥]|р\.|руб\.?)$", text)
        if m:
            currency, text = m.group(2), m.group(1)
    percent = text.endswith("%")
    if percent:
        text = text[:-1].strip()
    groups = {grp, " ", "\u00a0", "\u202f"} if grp != "," else {","}
    body = text
    sign = 1
    if body.startswith("-"):
        sign, body = -1, body[1:]
    int_part, _, frac = body.partition(dec)
    if not int_part or (frac and not frac.isdigit()):
        return None
    digits = int_part
    for g in groups:
        digits = digits.replace(g, "")
    if not digits.isdigit():
        return None
    if digits == int_part and not percent and not currency:
        if dec == "." or not frac:
            return None  # plain numbers are handled by the caller
    if digits != int_part:
        chunks = re.split("|".join(re.escape(g) for g in groups), int_part)
        if len(chunks[0]) > 3 or any(len(c) != 3 for c in chunks[1:]):
            return None
    value = sign * float(digits + ("." + frac if frac else ""))
    if percent:
        value = value / 100
    return value, len(frac), percent, currency


def _parse_date(text: str, locale: str):
    m = _ISO_DATE_RE.match(text)
    if m:
        d = _date_or_none(int(m[1]), int(m[2]), int(m[3]), m[4], m[5], m[6])
        if d:
            return d, "yyyy-mm-dd" + (" h:mm:ss" if m[4] else "")
    m = _DOT_DATE_RE.match(text)
    if m:
        d = _date_or_none(int(m[3]), int(m[2]), int(m[1]), m[4], m[5], m[6])
        if d:
            return d, "dd.mm.yyyy" + (" h:mm:ss" if m[4] else "")
    m = _SLASH_DATE_RE.match(text)
    if m:
        a, b, y = int(m[1]), int(m[2]), int(m[3])
        if locale.startswith("en_US"):
            d = _date_or_none(y, a, b, None, None, None)
            if d:
                return d, "m/d/yyyy"
        else:
            d = _date_or_none(y, b, a, None, None, None)
            if d:
                return d, "dd/mm/yyyy"
    return None


# -------------------------------------------------------------------------- output


def general_number(v: float | int, locale: str = "en_US") -> str:
    """Google's "automatic" number format (up to 10 significant digits)."""
    dec, _ = separators(locale)
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) < 1e15):
        s = str(int(v))
    elif abs(v) >= 1e15 or (v != 0 and abs(v) < 1e-9):
        mant, exp = f"{v:.2E}".split("E")
        s = mant.rstrip("0").rstrip(".") + "E" + ("+" if int(exp) >= 0 else "-") + f"{abs(int(exp)):02d}"
    else:
        s = f"{v:.10g}"
        if "e" in s:
            s = f"{v:.10f}".rstrip("0").rstrip(".")
    return s.replace(".", dec) if dec != "." else s


_DATE_TOKEN_RE = re.compile(r"yyyy|yy|mmmm|mmm|mm|m|dddd|ddd|dd|d|hh|h|ss|s|am/pm|a/p", re.IGNORECASE)
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _format_date(v: float, pattern: str) -> str:
    d = from_serial(v)
    d = d + _dt.timedelta(microseconds=500_000)  # round to the nearest second
    d = d.replace(microsecond=0)
    out = []
    tokens = []
    pos = 0
    for m in _DATE_TOKEN_RE.finditer(pattern):
        if m.start() > pos:
            tokens.append(("lit", pattern[pos : m.start()]))
        tokens.append(("tok", m.group(0)))
        pos = m.end()
    if pos < len(pattern):
        tokens.append(("lit", pattern[pos:]))
    has_ampm = any(t == "tok" and v.lower() in ("am/pm", "a/p") for t, v in tokens)
    for i, (t, tok) in enumerate(tokens):
        if t == "lit":
            out.append(tok.replace('"', "").replace("\\", ""))
            continue
        low = tok.lower()
        prev_tok = next((x for tt, x in reversed(tokens[:i]) if tt == "tok"), "")
        next_tok = next((x for tt, x in tokens[i + 1 :] if tt == "tok"), "")
        is_minute = low in ("m", "mm") and (prev_tok.lower().startswith("h") or next_tok.lower().startswith("s"))
        hour = d.hour % 12 or 12 if has_ampm else d.hour
        if low == "yyyy":
            out.append(f"{d.year:04d}")
        elif low == "yy":
            out.append(f"{d.year % 100:02d}")
        elif low == "mmmm":
            out.append(_MONTHS[d.month - 1])
        elif low == "mmm":
            out.append(_MONTHS[d.month - 1][:3])
        elif is_minute:
            out.append(f"{d.minute:02d}" if low == "mm" else str(d.minute))
        elif low == "mm":
            out.append(f"{d.month:02d}")
        elif low == "m":
            out.append(str(d.month))
        elif low == "dddd":
            out.append(_DAYS[d.weekday()])
        elif low == "ddd":
            out.append(_DAYS[d.weekday()][:3])
        elif low == "dd":
            out.append(f"{d.day:02d}")
        elif low == "d":
            out.append(str(d.day))
        elif low == "hh":
            out.append(f"{hour:02d}")
        elif low == "h":
            out.append(str(hour))
        elif low == "ss":
            out.append(f"{d.second:02d}")
        elif low == "s":
            out.append(str(d.second))
        else:
            out.append("AM" if d.hour < 12 else "PM")
    return "".join(out)


_NUM_PART_RE = re.compile(r"[#0?][#0?,]*(?:\.[#0?]+)?%?|%")


def _literal(text: str) -> str:
    text = re.sub(r"\[\$([^\]-]*)(?:-[^\]]*)?\]", r"\1", text)
    text = re.sub(r"\[[^\]]*\]", "", text)
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            j = text.find('"', i + 1)
            j = len(text) if j < 0 else j
            out.append(text[i + 1 : j])
            i = j + 1
        elif ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif ch in "_*":
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def format_with_pattern(v: float, number_format: dict, locale: str = "en_US") -> str:
    """Render a number with a Sheets numberFormat ``{"type", "pattern"}``."""
    ntype = number_format.get("type", "NUMBER")
    pattern = number_format.get("pattern") or ""
    if ntype in ("DATE", "TIME", "DATE_TIME") or (
        pattern and re.search(r"[yd]|h+:|:s", pattern, re.IGNORECASE) and not re.search(r"[#0]", pattern)
    ):
        if not pattern:
            pattern = {"DATE": "yyyy-mm-dd", "TIME": "h:mm:ss", "DATE_TIME": "yyyy-mm-dd h:mm:ss"}[ntype]
        try:
            return _format_date(v, pattern)
        except (OverflowError, ValueError):
            return general_number(v, locale)
    if not pattern:
        if ntype == "PERCENT":
            pattern = "0.00%"
        elif ntype in ("CURRENCY",):
            pattern = '"$"#,##0.00'
        elif ntype == "SCIENTIFIC":
            pattern = "0.00E+00"
        else:
            return general_number(v, locale)
    sections = pattern.split(";")
    section = sections[0]
    negative_section = v < 0 and len(sections) > 1
    if negative_section:
        section = sections[1]
        v = -v
    elif v == 0 and len(sections) > 2:
        section = sections[2]
    m = _NUM_PART_RE.search(_strip_quoted(section))
    if not m:
        return _literal(section)
    stripped = _strip_quoted(section)
    prefix, numpart, suffix = section[: m.start()], m.group(0), section[m.end() :]
    if stripped != section:  # quoted text present: locate numpart in the original
        idx = section.find(numpart)
        prefix, suffix = section[:idx], section[idx + len(numpart) :]
    percent = numpart.endswith("%")
    core = numpart.rstrip("%")
    if percent:
        v = v * 100
    int_fmt, _, frac_fmt = core.partition(".")
    decimals = len(frac_fmt)
    grouping = "," in int_fmt
    min_int = int_fmt.replace(",", "").count("0")
    text = f"{abs(v):.{decimals}f}"
    ip, _, fp = text.partition(".")
    if frac_fmt and set(frac_fmt) == {"#"}:
        fp = fp.rstrip("0")
    ip = ip.lstrip("0") or ""
    ip = ip.rjust(min_int, "0") if min_int else ip
    dec, grp = separators(locale)
    if grouping and ip:
        ip = f"{int(ip):,}".replace(",", grp)
    body = ip + (dec + fp if fp else "")
    sign = "-" if v < 0 and not negative_section and round(abs(v), decimals) != 0 else ""
    return sign + _literal(prefix) + body + ("%" if percent else "") + _literal(suffix)


def _strip_quoted(section: str) -> str:
    return re.sub(r'"[^"]*"|\\.|\[[^\]]*\]', lambda m: " " * len(m.group(0)), section)


def is_date_format(number_format: dict | None) -> bool:
    return bool(number_format) and number_format.get("type") in ("DATE", "TIME", "DATE_TIME")
