"""The spreadsheet functions of the emulator's evaluator (registered in :mod:`.formulas`).

Each function gets its evaluated arguments (or, for ``lazy`` ones such as ``IF``, the argument
trees and evaluates only what it returns) and returns an evaluator value (see
:mod:`.formulas`); a wrong argument count is ``#N/A`` as in Sheets.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from .formulas import (
    DIV0,
    NA,
    NUM,
    REF,
    VALUE,
    Ctx,
    Eager,
    Err,
    Ref,
    compare,
    ev,
    function,
    grid_of,
    lift,
    rank,
    scalar,
    to_bool,
    to_number,
    to_text,
)


def _values(args: list[Any]) -> Iterator[tuple[Any, bool]]:
    """Every value of the arguments, with whether it came from a range (ranges skip text)."""
    for a in args:
        if isinstance(a, (Ref, list)):
            for row in grid_of(a):
                for v in row:
                    yield v, True
        else:
            yield a, False


def _numbers(args: list[Any]) -> list[float] | Err:
    """Numbers as SUM/MIN/MAX/AVERAGE see them: typed arguments coerced, only numbers in ranges."""
    out: list[float] = []
    for v, ranged in _values(args):
        if isinstance(v, Err):
            return v
        if ranged:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(float(v))
        elif v is not None:
            n = to_number(v)
            if isinstance(n, Err):
                return n
            out.append(n)
    return out


def _first_error(*values: Any) -> Err | None:
    return next((v for v in values if isinstance(v, Err)), None)


# -- logical


@function("IF", lazy=True, args=(2, 3))
def _if(args: tuple, ctx: Ctx) -> Any:
    cond = to_bool(ev(args[0], ctx))
    if isinstance(cond, Err):
        return cond
    if cond:
        return ev(args[1], ctx)
    return ev(args[2], ctx) if len(args) > 2 else False


@function("IFS", lazy=True, args=(2, None))
def _ifs(args: tuple, ctx: Ctx) -> Any:
    if len(args) % 2:
        return NA
    for cond_node, value_node in zip(args[::2], args[1::2], strict=True):
        cond = to_bool(ev(cond_node, ctx))
        if isinstance(cond, Err):
            return cond
        if cond:
            return ev(value_node, ctx)
    return NA


@function("IFERROR", lazy=True, args=(1, 2))
def _iferror(args: tuple, ctx: Ctx) -> Any:
    value = ev(args[0], ctx)
    if isinstance(scalar(value), Err):
        return ev(args[1], ctx) if len(args) > 1 else None
    return value


@function("IFNA", lazy=True, args=(2, 2))
def _ifna(args: tuple, ctx: Ctx) -> Any:
    value = ev(args[0], ctx)
    return ev(args[1], ctx) if scalar(value) == NA else value


@function("SWITCH", lazy=True, args=(3, None))
def _switch(args: tuple, ctx: Ctx) -> Any:
    subject = scalar(ev(args[0], ctx))
    if isinstance(subject, Err):
        return subject
    rest = args[1:]
    for i in range(0, len(rest) - 1, 2):
        order = compare(subject, scalar(ev(rest[i], ctx)))
        if isinstance(order, Err):
            return order
        if order == 0:
            return ev(rest[i + 1], ctx)
    return ev(rest[-1], ctx) if len(rest) % 2 else NA


def _logicals(args: list[Any]) -> list[bool] | Err:
    out: list[bool] = []
    for v, ranged in _values(args):
        if isinstance(v, Err):
            return v
        if v is None or (ranged and isinstance(v, str)):
            continue
        b = to_bool(v)
        if isinstance(b, Err):
            return b
        out.append(b)
    return out if out else VALUE


@function("AND", args=(1, None))
def _and(args: list[Any], ctx: Ctx) -> Any:
    values = _logicals(args)
    return values if isinstance(values, Err) else all(values)


@function("OR", args=(1, None))
def _or(args: list[Any], ctx: Ctx) -> Any:
    values = _logicals(args)
    return values if isinstance(values, Err) else any(values)


@function("XOR", args=(1, None))
def _xor(args: list[Any], ctx: Ctx) -> Any:
    values = _logicals(args)
    return values if isinstance(values, Err) else sum(values) % 2 == 1


@function("NOT", args=(1, 1))
def _not(args: list[Any], ctx: Ctx) -> Any:
    return lift(lambda v: (lambda b: b if isinstance(b, Err) else not b)(to_bool(v)), args[0])


@function("TRUE", args=(0, 0))
def _true(args: list[Any], ctx: Ctx) -> Any:
    return True


@function("FALSE", args=(0, 0))
def _false(args: list[Any], ctx: Ctx) -> Any:
    return False


# -- information


@function("ISBLANK", args=(1, 1))
def _isblank(args: list[Any], ctx: Ctx) -> Any:
    v = args[0]
    if isinstance(v, Ref):  # a formula cell is never blank, even when it shows nothing
        cell = v.sheet.cell(v.sr, v.sc)
        return cell is None or cell.kind is None
    return scalar(v) is None


def _is(test: Callable[[Any], bool]) -> Eager:
    return lambda args, ctx: lift(test, args[0])


for _name, _test in {
    "ISNUMBER": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "ISTEXT": lambda v: isinstance(v, str),
    "ISNONTEXT": lambda v: not isinstance(v, str),
    "ISLOGICAL": lambda v: isinstance(v, bool),
    "ISERROR": lambda v: isinstance(v, Err),
    "ISERR": lambda v: isinstance(v, Err) and v != NA,
    "ISNA": lambda v: v == NA,
}.items():
    function(_name, args=(1, 1))(_is(_test))


@function("N", args=(1, 1))
def _n(args: list[Any], ctx: Ctx) -> Any:
    v = scalar(args[0])
    if isinstance(v, (Err, float, int)) and not isinstance(v, bool):
        return v
    return 1.0 if v is True else 0.0


# -- text


def _textfunction(body: Callable[..., Any]) -> Eager:
    """A function of text arguments (numbers and blanks coerced), applied element-wise."""
    def run(args: list[Any], ctx: Ctx) -> Any:
        def one(*values: Any) -> Any:
            texts = [to_text(v) for v in values]
            return _first_error(*texts) or body(*texts)

        return lift(one, *args)

    return run


function("UPPER", args=(1, 1))(_textfunction(str.upper))
function("LOWER", args=(1, 1))(_textfunction(str.lower))
function("PROPER", args=(1, 1))(_textfunction(str.title))
function("TRIM", args=(1, 1))(_textfunction(lambda s: re.sub(" +", " ", s).strip(" ")))
function("LEN", args=(1, 1))(_textfunction(lambda s: float(len(s))))
function("EXACT", args=(2, 2))(_textfunction(lambda a, b: a == b))


def _count_arg(v: Any, default: float) -> int | Err:
    n = to_number(v) if v is not None else default
    if isinstance(n, Err):
        return n
    return VALUE if n < 0 else int(n)


def _side(right: bool) -> Eager:
    def body(args: list[Any], ctx: Ctx) -> Any:
        text = to_text(args[0])
        count = _count_arg(scalar(args[1]) if len(args) > 1 else None, 1)
        if err := _first_error(text, count):
            return err
        return (text[len(text) - count:] if count else "") if right else text[:count]

    return body


function("LEFT", args=(1, 2))(_side(False))
function("RIGHT", args=(1, 2))(_side(True))


@function("MID", args=(3, 3))
def _mid(args: list[Any], ctx: Ctx) -> Any:
    text, start, count = to_text(args[0]), to_number(args[1]), _count_arg(scalar(args[2]), 0)
    if err := _first_error(text, start, count):
        return err
    if start < 1:
        return VALUE
    return text[int(start) - 1:int(start) - 1 + count]


@function("SUBSTITUTE", args=(3, 4))
def _substitute(args: list[Any], ctx: Ctx) -> Any:
    text, old, new = to_text(args[0]), to_text(args[1]), to_text(args[2])
    nth = to_number(args[3]) if len(args) > 3 else None
    if err := _first_error(text, old, new, nth):
        return err
    if not old:
        return text
    if nth is None:
        return text.replace(old, new)
    parts = text.split(old)
    k = int(nth)
    if k < 1:
        return VALUE
    if k >= len(parts):
        return text
    return old.join(parts[:k]) + new + old.join(parts[k:])


@function("CONCATENATE", "CONCAT", args=(1, None))
def _concatenate(args: list[Any], ctx: Ctx) -> Any:
    texts = [to_text(v) for v, _ in _values(args)]
    return _first_error(*texts) or "".join(texts)


@function("REPT", args=(2, 2))
def _rept(args: list[Any], ctx: Ctx) -> Any:
    text, count = to_text(args[0]), _count_arg(scalar(args[1]), 0)
    return _first_error(text, count) or text * count


@function("HYPERLINK", args=(1, 2))
def _hyperlink(args: list[Any], ctx: Ctx) -> Any:
    return to_text(args[1] if len(args) > 1 else args[0])


@function("VALUE", args=(1, 1))
def _value(args: list[Any], ctx: Ctx) -> Any:
    v = scalar(args[0])
    if isinstance(v, str) and not v.strip():
        return VALUE if v else 0.0
    return VALUE if isinstance(v, bool) else to_number(v)


# -- maths


@function("SUM", args=(1, None))
def _sum(args: list[Any], ctx: Ctx) -> Any:
    nums = _numbers(args)
    return nums if isinstance(nums, Err) else float(math.fsum(nums))


@function("MIN", args=(1, None))
def _min(args: list[Any], ctx: Ctx) -> Any:
    nums = _numbers(args)
    return nums if isinstance(nums, Err) else min(nums, default=0.0)


@function("MAX", args=(1, None))
def _max(args: list[Any], ctx: Ctx) -> Any:
    nums = _numbers(args)
    return nums if isinstance(nums, Err) else max(nums, default=0.0)


@function("AVERAGE", args=(1, None))
def _average(args: list[Any], ctx: Ctx) -> Any:
    nums = _numbers(args)
    if isinstance(nums, Err):
        return nums
    return math.fsum(nums) / len(nums) if nums else DIV0


@function("COUNT", args=(1, None))
def _count(args: list[Any], ctx: Ctx) -> Any:
    return float(sum(1 for v, ranged in _values(args)
                     if (isinstance(v, (int, float)) and not isinstance(v, bool))
                     or (not ranged and isinstance(v, str) and not isinstance(to_number(v), Err) and v.strip())))


@function("COUNTA", args=(1, None))
def _counta(args: list[Any], ctx: Ctx) -> Any:
    return float(sum(1 for v, _ in _values(args) if v is not None))


@function("COUNTBLANK", args=(1, 1))
def _countblank(args: list[Any], ctx: Ctx) -> Any:
    return float(sum(1 for v, _ in _values(args) if v is None or v == ""))


def _math1(body: Callable[[float], Any]) -> Eager:
    def run(args: list[Any], ctx: Ctx) -> Any:
        def one(v: Any) -> Any:
            n = to_number(v)
            return n if isinstance(n, Err) else body(n)

        return lift(one, args[0])

    return run


function("ABS", args=(1, 1))(_math1(abs))
function("INT", args=(1, 1))(_math1(lambda x: float(math.floor(x))))
function("SQRT", args=(1, 1))(_math1(lambda x: NUM if x < 0 else math.sqrt(x)))


def _rounding(mode: str) -> Eager:
    def run(args: list[Any], ctx: Ctx) -> Any:
        def one(v: Any, d: Any) -> Any:
            x, places = to_number(v), to_number(d) if d is not None else 0.0
            if err := _first_error(x, places):
                return err
            scale = 10.0 ** int(places)
            scaled = abs(x) * scale
            if mode == "half":  # half away from zero, as pandas' round_ratio does
                done = math.floor(scaled + 0.5)
            elif mode == "up":
                done = math.ceil(round(scaled, 9))
            else:
                done = math.floor(round(scaled, 9))
            return math.copysign(done / scale, x) if done else 0.0

        return lift(one, args[0], args[1] if len(args) > 1 else None)

    return run


function("ROUND", args=(1, 2))(_rounding("half"))
function("ROUNDUP", args=(1, 2))(_rounding("up"))
function("ROUNDDOWN", args=(1, 2))(_rounding("down"))


@function("MOD", args=(2, 2))
def _mod(args: list[Any], ctx: Ctx) -> Any:
    def one(a: Any, b: Any) -> Any:
        x, y = to_number(a), to_number(b)
        if err := _first_error(x, y):
            return err
        return DIV0 if y == 0 else x - y * math.floor(x / y)

    return lift(one, args[0], args[1])


@function("SUMPRODUCT", args=(1, None))
def _sumproduct(args: list[Any], ctx: Ctx) -> Any:
    grids = [grid_of(a) for a in args]
    shape = (len(grids[0]), len(grids[0][0]))
    if any((len(g), len(g[0])) != shape for g in grids):
        return VALUE
    total = 0.0
    for r in range(shape[0]):
        for c in range(shape[1]):
            product = 1.0
            for g in grids:
                v = g[r][c]
                if isinstance(v, Err):
                    return v
                product *= float(v) if isinstance(v, (int, float)) else 0.0
            total += product
    return total


# -- criteria (COUNTIF, SUMIF and their *S forms)


def _wildcard(text: str) -> re.Pattern[str]:
    """A criterion's text as a regular expression: ``*`` any text, ``?`` one character, ``~``
    escapes them; case is ignored."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "~" and i + 1 < len(text) and text[i + 1] in "*?~":
            out.append(re.escape(text[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _criterion(crit: Any) -> Callable[[Any], bool]:
    crit = scalar(crit)
    if crit is None:
        crit = ""
    if isinstance(crit, (bool, int, float)):
        return lambda v: v is not None and compare(v, crit) == 0 and rank(v) == rank(crit)
    op = next((o for o in ("<=", ">=", "<>", "<", ">", "=") if crit.startswith(o)), "")
    rest = crit[len(op):]
    number = to_number(rest) if rest.strip() else VALUE
    if not isinstance(number, Err):
        def test_number(v: Any) -> bool:
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                return op == "<>"
            order = (v > number) - (v < number)
            return {"": order == 0, "=": order == 0, "<>": order != 0, "<": order < 0, ">": order > 0,
                    "<=": order <= 0, ">=": order >= 0}[op]

        return test_number
    if rest.upper() in ("TRUE", "FALSE") and op in ("", "=", "<>"):
        flag = rest.upper() == "TRUE"
        return lambda v: (v is flag) == (op != "<>")
    if op in ("", "=", "<>"):
        if rest == "":
            empty = op != "<>"
            return lambda v: (v is None or v == "") == empty
        pattern = _wildcard(rest)

        def hit(v: Any) -> bool:
            return isinstance(v, str) and pattern.fullmatch(v) is not None

        return hit if op != "<>" else (lambda v: not hit(v))
    low = rest.lower()
    return lambda v: isinstance(v, str) and {"<": v.lower() < low, ">": v.lower() > low,
                                             "<=": v.lower() <= low, ">=": v.lower() >= low}[op]


def _flat(v: Any) -> list[Any] | Err:
    if not isinstance(v, (Ref, list)):
        return VALUE if isinstance(v, Err) else [v]
    return [x for row in grid_of(v) for x in row]


def _matches(pairs: list[tuple[Any, Any]]) -> list[bool] | Err:
    mask: list[bool] | None = None
    for rng, crit in pairs:
        values = _flat(rng)
        if isinstance(values, Err):
            return values
        test = _criterion(crit)
        hits = [test(v) for v in values]
        if mask is not None and len(mask) != len(hits):
            return VALUE
        mask = hits if mask is None else [a and b for a, b in zip(mask, hits, strict=True)]
    return mask or []


def _sum_masked(values: list[Any], mask: list[bool]) -> Any:
    total = 0.0
    for v, hit in zip(values, mask, strict=False):
        if hit:
            if isinstance(v, Err):
                return v
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                total += v
    return total


@function("COUNTIF", args=(2, 2))
def _countif(args: list[Any], ctx: Ctx) -> Any:
    mask = _matches([(args[0], args[1])])
    return mask if isinstance(mask, Err) else float(sum(mask))


@function("COUNTIFS", args=(2, None))
def _countifs(args: list[Any], ctx: Ctx) -> Any:
    if len(args) % 2:
        return NA
    mask = _matches(list(zip(args[::2], args[1::2], strict=True)))
    return mask if isinstance(mask, Err) else float(sum(mask))


@function("SUMIF", args=(2, 3))
def _sumif(args: list[Any], ctx: Ctx) -> Any:
    mask = _matches([(args[0], args[1])])
    if isinstance(mask, Err):
        return mask
    target = args[2] if len(args) > 2 else args[0]
    if isinstance(target, Ref) and isinstance(args[0], Ref):  # Sheets: sum_range takes the range's shape
        shape = args[0]
        target = Ref(target.sheet, target.sr, target.sr + shape.er - shape.sr,
                     target.sc, target.sc + shape.ec - shape.sc)
    values = _flat(target)
    return values if isinstance(values, Err) else _sum_masked(values, mask)


@function("SUMIFS", args=(3, None))
def _sumifs(args: list[Any], ctx: Ctx) -> Any:
    if len(args) % 2 == 0:
        return NA
    mask = _matches(list(zip(args[1::2], args[2::2], strict=True)))
    values = _flat(args[0])
    if err := _first_error(mask, values):
        return err
    return VALUE if len(values) != len(mask) else _sum_masked(values, mask)


# -- lookup and reference


@function("ROW", args=(0, 1))
def _row(args: list[Any], ctx: Ctx) -> Any:
    if not args or args[0] is None:
        return float(ctx.row + 1)
    ref = args[0]
    if not isinstance(ref, Ref):
        return VALUE
    if ref.er - ref.sr == 1:
        return float(ref.sr + 1)
    return [[float(r + 1)] for r in range(ref.sr, ref.er)]


@function("COLUMN", args=(0, 1))
def _column(args: list[Any], ctx: Ctx) -> Any:
    if not args or args[0] is None:
        return float(ctx.col + 1)
    ref = args[0]
    if not isinstance(ref, Ref):
        return VALUE
    if ref.ec - ref.sc == 1:
        return float(ref.sc + 1)
    return [[float(c + 1) for c in range(ref.sc, ref.ec)]]


@function("ROWS", args=(1, 1))
def _rows(args: list[Any], ctx: Ctx) -> Any:
    v = args[0]
    return float(v.er - v.sr) if isinstance(v, Ref) else float(len(grid_of(v)))


@function("COLUMNS", args=(1, 1))
def _columns(args: list[Any], ctx: Ctx) -> Any:
    v = args[0]
    return float(v.ec - v.sc) if isinstance(v, Ref) else float(len(grid_of(v)[0]))


@function("INDEX", args=(1, 3))
def _index(args: list[Any], ctx: Ctx) -> Any:
    source = args[0]
    if isinstance(source, Err):
        return source
    height, width = ((source.er - source.sr, source.ec - source.sc) if isinstance(source, Ref)
                     else (len(grid_of(source)), len(grid_of(source)[0])))
    row = to_number(args[1]) if len(args) > 1 and args[1] is not None else 0.0
    col = to_number(args[2]) if len(args) > 2 and args[2] is not None else 0.0
    if err := _first_error(row, col):
        return err
    row, col = int(row), int(col)
    if len(args) == 2 and height == 1 and width > 1:  # INDEX(A1:E1, 3): the third column
        row, col = 1, row
    if row < 0 or col < 0 or row > height or col > width:
        return REF
    rows = range(height) if row == 0 else range(row - 1, row)
    cols = range(width) if col == 0 else range(col - 1, col)
    if isinstance(source, Ref):
        return Ref(source.sheet, source.sr + rows.start, source.sr + rows.stop,
                   source.sc + cols.start, source.sc + cols.stop)
    grid = grid_of(source)
    return [[grid[r][c] for c in cols] for r in rows]


@function("MATCH", args=(2, 3))
def _match(args: list[Any], ctx: Ctx) -> Any:
    wanted = scalar(args[0])
    kind = to_number(args[2]) if len(args) > 2 else 1.0
    values = _flat(args[1])
    if err := _first_error(wanted, kind, values):
        return err
    if isinstance(args[1], (Ref, list)):
        grid = grid_of(args[1])
        if len(grid) > 1 and len(grid[0]) > 1:
            return NA
    if kind == 0:
        test = _criterion(wanted) if isinstance(wanted, str) else None
        for i, v in enumerate(values):
            if (test(v) if test is not None and isinstance(v, str)
                    else v is not None and rank(v) == rank(wanted) and compare(v, wanted) == 0):
                return float(i + 1)
        return NA
    best = None
    for i, v in enumerate(values):
        if v is None or rank(v) != rank(wanted):
            continue
        order = compare(v, wanted)
        if (kind > 0 and order <= 0) or (kind < 0 and order >= 0):
            best = i
        else:
            break
    return NA if best is None else float(best + 1)


# -- dates


def _date(v: Any) -> _dt.date | Err:
    n = to_number(v)
    if isinstance(n, Err):
        return n
    if n < 0:
        return NUM
    from .values import from_serial

    try:
        return from_serial(math.floor(n)).date()
    except (OverflowError, ValueError):
        return NUM


def _date_part(part: str) -> Eager:
    def run(args: list[Any], ctx: Ctx) -> Any:
        def one(v: Any) -> Any:
            d = _date(v)
            return d if isinstance(d, Err) else float(getattr(d, part))

        return lift(one, args[0])

    return run


function("YEAR", args=(1, 1))(_date_part("year"))
function("MONTH", args=(1, 1))(_date_part("month"))
function("DAY", args=(1, 1))(_date_part("day"))


@function("DATE", args=(3, 3))
def _datefunction(args: list[Any], ctx: Ctx) -> Any:
    y, m, d = (to_number(a) for a in args)
    if err := _first_error(y, m, d):
        return err
    year, month = int(y), int(m)
    if year < 1900:
        year += 1900
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    from .values import EPOCH

    try:
        start = _dt.datetime(year, month, 1)
    except ValueError:
        return NUM
    return float((start - EPOCH).days + int(d) - 1)


@function("ARRAYFORMULA", args=(1, 1))
def _arrayformula(args: list[Any], ctx: Ctx) -> Any:
    return args[0]
