"""The formula evaluator: a parser to a small tree and a lazy evaluator with Sheets' semantics.

Values inside the evaluator: ``None`` (a blank cell), ``float``, ``str``, ``bool``,
:class:`Err` (an error value, propagated like any value and caught by ``IFERROR``),
:class:`Ref` (a reference, kept as such so that ``ROW``, ``ISBLANK``, ``INDEX`` and the
``*IF`` functions see cells) and ``list[list]`` (an array, from a range in an operator).

Blanks, text and errors follow Google Sheets: a blank is 0 in arithmetic, "" in text and FALSE
as a condition; text that is not a number in arithmetic is ``#VALUE!``; ``=`` and ``<`` on
text ignore case (``EXACT`` does not); numbers < text < booleans when types differ; errors
propagate left to right; ``IF``/``IFS``/``IFERROR``/``IFNA``/``SWITCH`` only evaluate the
branch they return. Operators on ranges work element by element (as inside ``SUMPRODUCT`` or
``ARRAYFORMULA``); a formula whose result is an array shows its top-left value.

Cells are read through :func:`cell_value`: a formula cell is evaluated when it is read (no
stored results, so every read sees its dependencies' current values), with a cycle guard
(``#REF!``) and, inside :func:`caching`, one result per cell for a whole read.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import a1

if TYPE_CHECKING:
    from .state import Sheet, Spreadsheet

#: error code -> the ``ErrorType`` Google reports in ``effectiveValue.errorValue``
ERRORS = {"#DIV/0!": "DIV_ZERO", "#VALUE!": "VALUE", "#REF!": "REF", "#NAME?": "NAME",
          "#N/A": "N_A", "#ERROR!": "ERROR", "#NUM!": "NUM", "#NULL!": "NULL_VALUE"}
MAX_CHAIN = 2000  # formula cells evaluated one inside the other before giving up (#REF!)


@dataclass(frozen=True)
class Err:
    code: str


DIV0, VALUE, REF, NAME, NA, ERROR, NUM = (Err(c) for c in
                                           ("#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#N/A", "#ERROR!", "#NUM!"))


@dataclass(frozen=True)
class Ref:
    """Cells ``[sr, er) x [sc, ec)`` of ``sheet`` (0-based, half-open)."""

    sheet: Sheet
    sr: int
    er: int
    sc: int
    ec: int

    @property
    def single(self) -> bool:
        return self.er - self.sr == 1 and self.ec - self.sc == 1

    def grid(self) -> list[list[Any]]:
        return [[cell_value(self.sheet, r, c) for c in range(self.sc, self.ec)] for r in range(self.sr, self.er)]

    def first(self) -> Any:
        return cell_value(self.sheet, self.sr, self.sc)


class _Syntax(Exception):
    pass


# ------------------------------------------------------------------------------- reading cells

_local = threading.local()


def _frames() -> tuple[set[tuple[int, int, int]], dict[tuple[int, int, int], Any] | None]:
    if not hasattr(_local, "active"):
        _local.active = set()
        _local.cache = None
    return _local.active, _local.cache


@contextlib.contextmanager
def caching() -> Iterator[None]:
    """Within this block (on this thread) each formula cell is evaluated at most once. Use it
    around reads only: a write inside the block would not be seen by cells already computed."""
    _frames()
    if _local.cache is not None:
        yield
        return
    _local.cache = {}
    try:
        yield
    finally:
        _local.cache = None


def cell_value(sheet: Sheet, r: int, c: int) -> Any:
    """The evaluator's value of one cell (``None`` when empty, :class:`Err` for an error)."""
    cell = sheet.cell(r, c)
    if cell is None or cell.kind is None:
        return None
    if cell.kind != "f":
        return float(cell.value) if cell.kind == "n" else cell.value
    active, cache = _frames()
    key = (id(sheet), r, c)
    if cache is not None and key in cache:
        return cache[key]
    if key in active or len(active) >= MAX_CHAIN:
        return REF  # Google: "Circular dependency detected"
    active.add(key)
    limit = sys.getrecursionlimit()
    if limit < 40 * MAX_CHAIN and len(active) == 1:
        sys.setrecursionlimit(40 * MAX_CHAIN)
    try:
        value = run(cell.value, sheet, r, c)
    finally:
        active.discard(key)
        if len(active) == 0 and sys.getrecursionlimit() != limit:
            sys.setrecursionlimit(limit)
    if cache is not None:
        cache[key] = value
    return value


def run(formula: str, sheet: Sheet, row: int, col: int) -> Any:
    """Evaluate ``=...`` typed in ``sheet`` at (row, col); a scalar evaluator value."""
    try:
        tree = parse(formula)
    except _Syntax:
        return ERROR
    try:
        value = ev(tree, Ctx(sheet, row, col))
    except RecursionError:
        return REF
    except (TypeError, ValueError, OverflowError, ZeroDivisionError, IndexError):
        return ERROR  # a case the evaluator does not know: Sheets' generic parse error
    value = _top_left(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return NUM
    return value


def _top_left(v: Any) -> Any:
    if isinstance(v, Ref):
        return v.first()
    if isinstance(v, list):
        return v[0][0] if v and v[0] else None
    return v


# ---------------------------------------------------------------------------------- parsing

_TOKEN_RE = re.compile(
    r"\s*(?:"
    r"(?P<str>\"(?:[^\"]|\"\")*\")"
    r"|(?P<err>#(?:NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|N/A|ERROR!))"
    r"|(?P<ref>(?:(?:'(?:[^']|'')+'|[A-Za-z_][A-Za-z0-9_.]*)!)?"
    r"(?:\$?[A-Za-z]{1,3}\$?\d+(?::\$?[A-Za-z]{1,3}\$?\d+)?|\$?[A-Za-z]{1,3}:\$?[A-Za-z]{1,3}|\$?\d+:\$?\d+)"
    r")(?![A-Za-z0-9_(!.])"
    r"|(?P<num>\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_\\][A-Za-z0-9_.]*)"
    r"|(?P<op><>|<=|>=|[-+*/^&=<>(),%;{}]))"
)
_COMPARE = ("=", "<>", "<", ">", "<=", ">=")


@functools.lru_cache(maxsize=8192)
def parse(formula: str) -> tuple:
    """``=...`` to a tree of tuples; raises :class:`_Syntax`."""
    text = formula[1:] if formula.startswith("=") else formula
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise _Syntax(text[pos:])
        kind = m.lastgroup or "op"
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    parser = _Parser(tokens)
    tree = parser.expr()
    if parser.i != len(tokens):
        raise _Syntax("trailing tokens")
    return tree


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.tokens) or (value is not None and self.tokens[self.i][1] != value):
            raise _Syntax(value or "end")
        self.i += 1
        return self.tokens[self.i - 1]

    def _binary(self, ops: tuple[str, ...], below: Callable[[], tuple]) -> tuple:
        left = below()
        while self.peek() in ops and self.tokens[self.i][0] == "op":
            op = self.take()[1]
            left = ("bin", op, left, below())
        return left

    def expr(self) -> tuple:
        return self._binary(_COMPARE, self.concat)

    def concat(self) -> tuple:
        return self._binary(("&",), self.additive)

    def additive(self) -> tuple:
        return self._binary(("+", "-"), self.term)

    def term(self) -> tuple:
        return self._binary(("*", "/"), self.power)

    def power(self) -> tuple:
        return self._binary(("^",), self.unary)

    def unary(self) -> tuple:
        if self.peek() in ("-", "+"):
            op = self.take()[1]
            item = self.unary()
            return ("neg", item) if op == "-" else ("pos", item)
        node = self.primary()
        while self.peek() == "%":
            self.take()
            node = ("pct", node)
        return node

    def primary(self) -> tuple:
        kind, text = self.take()
        if kind == "num":
            return ("val", float(text))
        if kind == "str":
            return ("val", text[1:-1].replace('""', '"'))
        if kind == "err":
            return ("val", Err(text.upper()))
        if kind == "ref":
            title, cells = a1.split_sheet(text) if "!" in text else (None, text)
            return ("ref", title, cells.replace("$", ""))
        if kind == "name":
            if self.peek() == "(":
                return self.call(text.upper())
            if text.upper() in ("TRUE", "FALSE"):
                return ("val", text.upper() == "TRUE")
            return ("name", text)
        if text == "(":
            node = self.expr()
            self.take(")")
            return node
        if text == "{":
            return self.array()
        raise _Syntax(text)

    def call(self, name: str) -> tuple:
        self.take("(")
        args: list[tuple] = []
        if self.peek() != ")":
            while True:
                args.append(("val", None) if self.peek() in (",", ";", ")") else self.expr())
                if self.peek() in (",", ";"):
                    self.take()
                    continue
                break
        self.take(")")
        return ("call", name, tuple(args))

    def array(self) -> tuple:
        rows: list[list[tuple]] = [[]]
        while True:
            rows[-1].append(self.expr())
            sep = self.take()[1]
            if sep == "}":
                break
            if sep == ";":
                rows.append([])
            elif sep != ",":
                raise _Syntax(sep)
        if len({len(r) for r in rows}) != 1:
            raise _Syntax("ragged array")
        return ("array", tuple(tuple(r) for r in rows))


# -------------------------------------------------------------------------------- coercions


class Ctx:
    __slots__ = ("col", "row", "sheet")

    def __init__(self, sheet: Sheet, row: int, col: int) -> None:
        self.sheet, self.row, self.col = sheet, row, col

    @property
    def book(self) -> Spreadsheet | None:
        return book_of(self.sheet)


def book_of(sheet: Sheet) -> Spreadsheet | None:
    ref = getattr(sheet, "book_ref", None)
    return ref() if ref is not None else None


def attach(book: Spreadsheet) -> None:
    """Let every sheet of ``book`` find its spreadsheet (other tabs, named ranges)."""
    for sheet in book.sheets:
        sheet.book_ref = weakref.ref(book)


def scalar(v: Any) -> Any:
    """A reference or array read where one value is expected: its top-left value."""
    if isinstance(v, Ref):
        return v.first()
    if isinstance(v, list):
        return v[0][0] if v and v[0] else None
    return v


def to_number(v: Any) -> float | Err:
    v = scalar(v)
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, Err):
        return v
    from .values import parse_user_entered

    kind, value, _ = parse_user_entered(v.strip()) if v.strip() else (None, None, None)
    if kind == "n":
        return float(value)
    return VALUE


def to_text(v: Any) -> str | Err:
    v = scalar(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        from .values import general_number

        return general_number(float(v))
    return v


def to_bool(v: Any) -> bool | Err:
    v = scalar(v)
    if v is None:
        return False
    if isinstance(v, (bool, Err)):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if v.strip().upper() in ("TRUE", "FALSE"):
        return v.strip().upper() == "TRUE"
    return VALUE


def rank(v: Any) -> int:
    return 2 if isinstance(v, bool) else 1 if isinstance(v, str) else 0


def compare(a: Any, b: Any) -> int | Err:
    """-1, 0 or 1 as Sheets orders two values (blank takes the other side's type)."""
    if isinstance(a, Err):
        return a
    if isinstance(b, Err):
        return b
    if a is None and b is None:
        return 0
    if a is None:
        a = "" if isinstance(b, str) else False if isinstance(b, bool) else 0.0
    if b is None:
        b = "" if isinstance(a, str) else False if isinstance(a, bool) else 0.0
    ra, rb = rank(a), rank(b)
    if ra != rb:
        return -1 if ra < rb else 1
    if ra == 1:
        a, b = a.lower(), b.lower()
    return (a > b) - (a < b)


def grid_of(v: Any) -> list[list[Any]]:
    if isinstance(v, Ref):
        return v.grid()
    if isinstance(v, list):
        return v
    return [[v]]


def is_multi(v: Any) -> bool:
    return (isinstance(v, Ref) and not v.single) or (isinstance(v, list) and (len(v) > 1 or len(v[0]) > 1))


def lift(fn: Callable[..., Any], *args: Any) -> Any:
    """Apply a scalar function element by element when an argument is an array."""
    if not any(is_multi(a) for a in args):
        return fn(*(scalar(a) for a in args))
    grids = [grid_of(a) for a in args]
    rows = max(len(g) for g in grids)
    cols = max(len(g[0]) for g in grids)

    def at(g: list[list[Any]], r: int, c: int) -> Any:
        if len(g) == 1 and len(g[0]) == 1:
            return g[0][0]
        if (len(g) != rows and len(g) != 1) or (len(g[0]) != cols and len(g[0]) != 1):
            return NA
        return g[r if len(g) > 1 else 0][c if len(g[0]) > 1 else 0]

    return [[fn(*(at(g, r, c) for g in grids)) for c in range(cols)] for r in range(rows)]


def _arith(op: str, a: Any, b: Any) -> Any:
    x, y = to_number(a), to_number(b)
    if isinstance(x, Err):
        return x
    if isinstance(y, Err):
        return y
    try:
        if op == "+":
            out = x + y
        elif op == "-":
            out = x - y
        elif op == "*":
            out = x * y
        elif op == "/":
            if y == 0:
                return DIV0
            out = x / y
        else:
            if x == 0 and y < 0:
                return DIV0
            out = x**y
            if isinstance(out, complex):
                return NUM
    except OverflowError:
        return NUM
    return NUM if math.isinf(out) or math.isnan(out) else out


def _binary(op: str, a: Any, b: Any) -> Any:
    if op in _COMPARE:
        order = compare(a, b)
        if isinstance(order, Err):
            return order
        return {"=": order == 0, "<>": order != 0, "<": order < 0, ">": order > 0,
                "<=": order <= 0, ">=": order >= 0}[op]
    if op == "&":
        x, y = to_text(a), to_text(b)
        return x if isinstance(x, Err) else y if isinstance(y, Err) else x + y
    return _arith(op, a, b)


# ------------------------------------------------------------------------------- evaluation


def ev(node: tuple, ctx: Ctx) -> Any:
    kind = node[0]
    if kind == "val":
        return node[1]
    if kind == "bin":
        op = node[1]
        return lift(lambda x, y: _binary(op, x, y), ev(node[2], ctx), ev(node[3], ctx))
    if kind == "neg":
        return lift(lambda x: _arith("-", 0.0, x), ev(node[1], ctx))
    if kind == "pos":
        return ev(node[1], ctx)
    if kind == "pct":
        return lift(lambda x: _arith("/", x, 100.0), ev(node[1], ctx))
    if kind == "ref":
        return _reference(node[1], node[2], ctx)
    if kind == "name":
        return _named(node[1], ctx)
    if kind == "array":
        return [[scalar(ev(item, ctx)) for item in row] for row in node[1]]
    if kind == "call":
        fn = FUNCTIONS.get(node[1])
        if fn is None:
            return NAME
        lazy, body = fn
        if lazy:
            return body(node[2], ctx)
        return body([ev(arg, ctx) for arg in node[2]], ctx)
    return ERROR


def _reference(title: str | None, cells: str, ctx: Ctx) -> Any:
    sheet = ctx.sheet
    if title is not None:
        book = ctx.book
        found = book.sheet_by_title(title) if book is not None else None
        if found is None:
            return REF
        sheet = found
    try:
        grid = a1.parse_cells(cells)
    except a1.A1Error:
        return REF
    sr, er, sc, ec = grid.clamp(sheet.row_count, sheet.col_count)
    if sr >= sheet.row_count or sc >= sheet.col_count or er <= sr or ec <= sc:
        return REF
    return Ref(sheet, sr, min(er, sheet.row_count), sc, min(ec, sheet.col_count))


def _named(name: str, ctx: Ctx) -> Any:
    book = ctx.book
    for nr in (book.named_ranges.values() if book is not None else ()):
        if nr["name"].lower() == name.lower():
            rng = nr["range"]
            try:
                sheet = book.sheet_by_id(rng.get("sheetId", 0))
            except Exception:  # noqa: BLE001 - the named range points at a deleted sheet
                return REF
            grid = a1.GridRange(rng.get("startRowIndex"), rng.get("endRowIndex"),
                                rng.get("startColumnIndex"), rng.get("endColumnIndex"))
            sr, er, sc, ec = grid.clamp(sheet.row_count, sheet.col_count)
            if er <= sr or ec <= sc:
                return REF
            return Ref(sheet, sr, er, sc, ec)
    return NAME


# ---------------------------------------------------------------------- function registry

Eager = Callable[[list[Any], Ctx], Any]
Lazy = Callable[[tuple, Ctx], Any]
FUNCTIONS: dict[str, tuple[bool, Any]] = {}


def function(*names: str, lazy: bool = False, args: tuple[int, int | None] = (0, None)) -> Callable:
    low, high = args

    def register(body: Callable) -> Callable:
        def checked(values: Any, ctx: Ctx) -> Any:
            if len(values) < low or (high is not None and len(values) > high):
                return NA  # Google: "Wrong number of arguments"
            return body(values, ctx)

        for name in names:
            FUNCTIONS[name] = (lazy, checked)
        return body

    return register




_CELL_PART = re.compile(r"(\$?)([A-Za-z]{1,3})(\$?)(\d+)")


def shift(formula: str, rows: int, cols: int) -> str:
    """``formula`` moved by ``rows`` x ``cols``: relative references move, ``$`` parts stay
    (how a conditional format's custom formula applies to each cell of its range)."""
    out: list[str] = []
    pos = 0
    while pos < len(formula):
        m = _TOKEN_RE.match(formula, pos)
        if not m or m.end() == pos:
            return formula
        if m.lastgroup != "ref":
            out.append(formula[pos:m.end()])
        else:
            text = m.group("ref")
            cut = text.rfind("!") + 1

            def move(part: re.Match[str]) -> str:
                col = a1.letters_to_col(part[2]) + (0 if part[1] else cols)
                row = int(part[4]) + (0 if part[3] else rows)
                if col < 0 or row < 1:
                    raise ValueError
                return f"{part[1]}{a1.col_to_letters(col)}{part[3]}{row}"

            try:
                moved = text[:cut] + _CELL_PART.sub(move, text[cut:])
            except ValueError:
                moved = "#REF!"
            out.append(formula[pos:m.start("ref")] + moved)
        pos = m.end()
    return "".join(out)


from . import functions as _functions  # noqa: E402, F401 - registers the functions
