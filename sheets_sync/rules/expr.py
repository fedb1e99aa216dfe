"""The condition language: a small typed expression tree parsed from Python syntax by ``ast``.

A condition such as ``roi_pct >= roi_a and profit_share_cum <= pareto_a`` is parsed with
:func:`ast.parse` and turned into the frozen node classes below under a whitelist; nothing a
user writes is ever ``eval``'d. The tree is the one form every back end compiles: pandas
(``evaluate.py``), and later spreadsheet formulas and SQL.

Allowed: names (columns, derived metrics, thresholds), numbers, strings, ``True``/``False``,
comparisons (chained too: ``0 < x <= 10``), ``in``/``not in`` a tuple of literals,
``and``/``or``/``not``, ``+ - * /``, unary minus, parentheses, and the functions in
:data:`FUNCTIONS`.

Blank values follow SQL: a comparison with a blank is unknown, ``not`` unknown is unknown,
``False and unknown`` is false, ``True or unknown`` is true; a condition that ends unknown
does not match. Division by zero gives a blank.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Type(str, Enum):
    NUMBER = "number"
    TEXT = "text"
    BOOL = "bool"
    DATE = "date"


class ExprError(ValueError):
    """A condition that does not parse or type-check; ``col`` is the 0-based offset."""

    def __init__(self, message: str, col: int | None = None) -> None:
        super().__init__(message)
        self.col = col


@dataclass(frozen=True)
class Const:
    value: float | str | bool


@dataclass(frozen=True)
class Param:
    """A named threshold from the rules file; back ends may keep the name (a named cell)."""

    name: str
    value: float | str


@dataclass(frozen=True)
class Col:
    """A column of the client table or a derived metric."""

    name: str


@dataclass(frozen=True)
class Cmp:
    ops: tuple[str, ...]  # "<", "<=", ">", ">=", "==", "!="
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class In:
    operand: Node
    options: tuple[Const, ...]
    negate: bool = False


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Arith:
    op: str  # "+", "-", "*", "/"
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg:
    item: Node


@dataclass(frozen=True)
class Func:
    name: str
    args: tuple[Node, ...]


Node = Const | Param | Col | Cmp | In | And | Or | Not | Arith | Neg | Func

#: Functions a condition may call: name -> (number of arguments, what it does).
FUNCTIONS: dict[str, tuple[int, str]] = {
    "isblank": (1, "true when the value is empty"),
    "abs": (1, "absolute value of a number"),
    "min": (2, "the smaller of two numbers, ignoring a blank one"),
    "max": (2, "the larger of two numbers, ignoring a blank one"),
}

#: ``+ - *`` for any back end whose values overload them (pandas Series, SQLAlchemy columns,
#: Python numbers); division differs per back end (a blank for division by zero).
ARITH_OPS: dict[str, Callable[[Any, Any], Any]] = {"+": operator.add, "-": operator.sub, "*": operator.mul}

_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def parse(
    text: str,
    names: Mapping[str, Type],
    params: Mapping[str, float | str] | None = None,
    *,
    want: Type | None = Type.BOOL,
) -> Node:
    """Parse ``text`` into a node, checking names against ``names`` (columns and metrics,
    with their types) and ``params`` (thresholds), and the result type against ``want``."""
    if not isinstance(text, str):
        raise ExprError(f"a condition must be a string, not {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ExprError(f"the condition has {len(text):,} characters, over the {MAX_CHARS:,} "
                        "allowed; split it into METRICS")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"bad syntax: {exc.msg}", (exc.offset or 1) - 1) from None
    except (RecursionError, MemoryError):
        raise ExprError(_TOO_DEEP) from None
    _check_size(tree.body)
    node = _Builder(names, params or {}).build(tree.body)
    got = type_of(node, names)
    if want is not None and got is not want:
        raise ExprError(f"the expression is a {got.value}, but a {want.value} is needed here")
    return node


#: Limits of one condition, far above any real rule, so that every back end (pandas, SQL,
#: formulas, the reason texts) can handle it without running out of stack or memory.
MAX_CHARS = 20_000
MAX_TERMS = 2000  # names, numbers and operators
MAX_DEPTH = 50    # nesting of operators, parentheses and function calls
MAX_NUMBER = 1e15  # numbers (and thresholds) beyond this are not held exactly by a float
_TOO_DEEP = (f"the condition nests too deeply (more than {MAX_DEPTH} levels); simplify it or "
             "split it into METRICS")


def _check_size(root: ast.AST) -> None:
    """Refuse a condition too big or too deep for the back ends, before building anything."""
    terms = sum(1 for n in ast.walk(root) if isinstance(n, ast.expr))
    if terms > MAX_TERMS:
        raise ExprError(f"the condition has {terms:,} terms, over the {MAX_TERMS} allowed; "
                        "split it into METRICS (each metric can use the ones before it)")
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExprError(_TOO_DEEP, getattr(node, "col_offset", None))
        if isinstance(node, ast.BoolOp | ast.Compare):  # a flat list: one level for all
            children = node.values if isinstance(node, ast.BoolOp) else [node.left, *node.comparators]
            stack.extend((c, depth + 1) for c in children)
            continue
        stack.extend((c, depth + 1) for c in ast.iter_child_nodes(node)
                     if not isinstance(c, ast.expr_context | ast.operator | ast.unaryop
                                       | ast.cmpop | ast.boolop))


def check_number(value: object) -> str | None:
    """Why ``value`` (a number in a rule or a threshold) cannot be used, or ``None``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value != value or abs(value) >= MAX_NUMBER:
            shown = str(value) if len(str(value)) <= 20 else str(value)[:17] + "..."
            return (f"the number {shown} is out of range (numbers in rules must be below "
                    f"{MAX_NUMBER:,.0f})")
    return None


class _Builder:
    def __init__(self, names: Mapping[str, Type], params: Mapping[str, float | str]) -> None:
        self.names, self.params = names, params

    def build(self, node: ast.AST) -> Node:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise ExprError(f"{_describe(node)} is not allowed in a condition",
                            getattr(node, "col_offset", None))
        return method(node)

    def _Constant(self, node: ast.Constant) -> Node:
        why = check_number(node.value)
        if why:
            raise ExprError(why, node.col_offset)
        if isinstance(node.value, bool | int | float | str) and node.value is not ...:
            value = node.value if isinstance(node.value, bool | str) else float(node.value)
            return Const(value)
        raise ExprError(f"the constant {node.value!r} is not allowed", node.col_offset)

    def _Name(self, node: ast.Name) -> Node:
        name = node.id
        if name in ("true", "false"):
            return Const(name == "true")
        if name in self.names:
            return Col(name)
        if name in self.params:
            value = self.params[name]
            return Param(name, float(value) if isinstance(value, int | float) else value)
        import difflib

        known = list(self.names) + list(self.params)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ExprError(f"unknown column or threshold {name!r}{hint}", node.col_offset)

    def _BoolOp(self, node: ast.BoolOp) -> Node:
        items = tuple(self.build(v) for v in node.values)
        return And(items) if isinstance(node.op, ast.And) else Or(items)

    def _UnaryOp(self, node: ast.UnaryOp) -> Node:
        item = self.build(node.operand)
        if isinstance(node.op, ast.Not):
            return Not(item)
        if isinstance(node.op, ast.USub):
            if isinstance(item, Const) and isinstance(item.value, float):
                return Const(-item.value)
            return Neg(item)
        if isinstance(node.op, ast.UAdd):
            return item
        raise ExprError(f"{_describe(node.op)} is not allowed", node.col_offset)

    def _BinOp(self, node: ast.BinOp) -> Node:
        op = _ARITH.get(type(node.op))
        if op is None:
            raise ExprError(f"the operator {_describe(node.op)} is not allowed (use + - * /)",
                            node.col_offset)
        return Arith(op, self.build(node.left), self.build(node.right))

    def _Compare(self, node: ast.Compare) -> Node:
        if any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
            if len(node.ops) != 1:
                raise ExprError("'in' cannot be chained with other comparisons", node.col_offset)
            right = node.comparators[0]
            if not isinstance(right, ast.Tuple | ast.List | ast.Set):
                raise ExprError("'in' needs a list of values, e.g. stage in ('regular', 'adherent')",
                                right.col_offset)
            options = []
            for element in right.elts:
                built = self.build(element)
                if isinstance(built, Param):
                    built = Const(built.value)
                if not isinstance(built, Const):
                    raise ExprError("the list after 'in' may hold only literal values",
                                    element.col_offset)
                options.append(built)
            return In(self.build(node.left), tuple(options), isinstance(node.ops[0], ast.NotIn))
        ops = []
        for op in node.ops:
            if type(op) not in _CMP:
                raise ExprError(f"the comparison {_describe(op)} is not allowed", node.col_offset)
            ops.append(_CMP[type(op)])
        operands = (self.build(node.left), *(self.build(c) for c in node.comparators))
        return Cmp(tuple(ops), operands)

    def _Call(self, node: ast.Call) -> Node:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else _describe(node.func)
            allowed = ", ".join(FUNCTIONS)
            raise ExprError(f"the function {name!r} is not allowed (allowed: {allowed})",
                            node.col_offset)
        if node.keywords:
            raise ExprError(f"{node.func.id}() takes no keyword arguments", node.col_offset)
        arity = FUNCTIONS[node.func.id][0]
        if len(node.args) != arity:
            raise ExprError(f"{node.func.id}() takes {arity} argument(s), got {len(node.args)}",
                            node.col_offset)
        return Func(node.func.id, tuple(self.build(a) for a in node.args))


def _describe(node: ast.AST) -> str:
    names = {
        "Attribute": "attribute access ('.')", "Subscript": "indexing ('[]')",
        "Lambda": "lambda", "IfExp": "'x if c else y'", "Mod": "'%'", "Pow": "'**'",
        "FloorDiv": "'//'", "Is": "'is'", "IsNot": "'is not'", "NamedExpr": "':='",
        "JoinedStr": "an f-string", "Dict": "a dict", "ListComp": "a comprehension",
        "GeneratorExp": "a comprehension", "Await": "await", "Starred": "'*'",
        "Invert": "'~'", "BitAnd": "'&' (use 'and')", "BitOr": "'|' (use 'or')",
    }
    return names.get(type(node).__name__, type(node).__name__)


def type_of(node: Node, names: Mapping[str, Type]) -> Type:
    """The type of ``node``; raises :class:`ExprError` for a mismatch such as ``name > 5``."""
    match node:
        case Const(value=bool()):
            return Type.BOOL
        case Const(value=str()) | Param(value=str()):
            return Type.TEXT
        case Const() | Param():
            return Type.NUMBER
        case Col(name=name):
            return names[name]
        case Cmp(ops=ops, operands=operands):
            types = [type_of(o, names) for o in operands]
            for op, left, right in zip(ops, types, types[1:], strict=False):
                if left is not right:
                    raise ExprError(f"cannot compare a {left.value} with a {right.value} ({op})")
                if left is Type.DATE:
                    raise ExprError("dates cannot be compared directly; use recency_days or "
                                    "tenure_months")
                if left in (Type.TEXT, Type.BOOL) and op not in ("==", "!="):
                    raise ExprError(f"a {left.value} can only be compared with == or !=")
            return Type.BOOL
        case In(operand=operand, options=options):
            t = type_of(operand, names)
            for o in options:
                if type_of(o, names) is not t:
                    raise ExprError(f"'in' mixes a {t.value} with {o.value!r}")
            return Type.BOOL
        case And(items=items) | Or(items=items):
            for item in items:
                _expect(item, Type.BOOL, names, "'and'/'or'")
            return Type.BOOL
        case Not(item=item):
            _expect(item, Type.BOOL, names, "'not'")
            return Type.BOOL
        case Arith(left=left, right=right, op=op):
            _expect(left, Type.NUMBER, names, f"'{op}'")
            _expect(right, Type.NUMBER, names, f"'{op}'")
            return Type.NUMBER
        case Neg(item=item):
            _expect(item, Type.NUMBER, names, "'-'")
            return Type.NUMBER
        case Func(name="isblank", args=(arg,)):
            type_of(arg, names)
            return Type.BOOL
        case Func(name=name, args=args):
            for a in args:
                _expect(a, Type.NUMBER, names, f"{name}()")
            return Type.NUMBER
    raise ExprError(f"unexpected node {node!r}")  # pragma: no cover


def _expect(node: Node, want: Type, names: Mapping[str, Type], where: str) -> None:
    got = type_of(node, names)
    if got is not want:
        raise ExprError(f"{where} needs a {want.value}, got a {got.value}")


def columns_used(node: Node) -> set[str]:
    """The column and metric names a node reads."""
    match node:
        case Col(name=name):
            return {name}
        case Const() | Param():
            return set()
        case Cmp(operands=items) | And(items=items) | Or(items=items) | Func(args=items):
            return set().union(*(columns_used(i) for i in items))
        case In(operand=item) | Not(item=item) | Neg(item=item):
            return columns_used(item)
        case Arith(left=left, right=right):
            return columns_used(left) | columns_used(right)
    return set()  # pragma: no cover


_SYMBOL = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠",
           "+": "+", "-": "−", "*": "×", "/": "÷"}


def to_text(node: Node) -> str:
    """The node written back as a readable condition (for the Legend and error messages)."""
    match node:
        case Const(value=bool() as v):
            return "true" if v else "false"
        case Const(value=str() as v):
            return repr(v)
        case Const(value=v):
            return format_number(v)
        case Param(name=name):
            return name
        case Col(name=name):
            return name
        case Cmp(ops=ops, operands=operands):
            parts = [to_text(operands[0])]
            for op, o in zip(ops, operands[1:], strict=True):
                parts += [_SYMBOL[op], to_text(o)]
            return " ".join(parts)
        case In(operand=o, options=opts, negate=neg):
            return f"{to_text(o)} {'not in' if neg else 'in'} ({', '.join(to_text(x) for x in opts)})"
        case And(items=items):
            return " and ".join(_paren(i, Or) for i in items)
        case Or(items=items):
            return " or ".join(_paren(i, And) for i in items)
        case Not(item=item):
            return f"not ({to_text(item)})"
        case Arith(op=op, left=left, right=right):
            return f"{_paren(left, Arith)} {_SYMBOL[op]} {_paren(right, Arith)}"
        case Neg(item=item):
            return f"−{_paren(item, Arith)}"
        case Func(name=name, args=args):
            return f"{name}({', '.join(to_text(a) for a in args)})"
    return repr(node)  # pragma: no cover


def _paren(node: Node, kind: type) -> str:
    text = to_text(node)
    return f"({text})" if isinstance(node, kind) else text


def format_number(value: float) -> str:
    """A number for people: no ``.0`` on whole numbers, at most two decimals."""
    if value != value:  # NaN
        return "blank"
    rounded = round(float(value), 2)
    if rounded.is_integer():
        return str(int(rounded))
    return f"{rounded:.2f}".rstrip("0").rstrip(".")
