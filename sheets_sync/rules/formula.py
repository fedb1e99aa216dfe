"""The rule tree compiled to spreadsheet formulas, one set per row, that recompute live.

Every computed column of the client table becomes a formula over the row's cells: the derived
metrics (``profit``, ``roi_pct``, ``margin_pct``, ``profit_share_cum``, ``tenure_months``,
``recency_days``), ``stage``, the rule file's ``METRICS``, ``qualified`` and ``live_category``
(the owner's valid manual category, else ``unqualified`` for a client whose values cannot be
read, else the first matching category). A category condition reads the metric columns by
reference, so each formula stays short and an owner sees every intermediate value.

Blank values follow the pandas evaluator exactly (see :mod:`.expr`). Spreadsheets treat an
empty cell as 0 in a comparison, so nothing is compared without a guard:

* a number is present when ``ISNUMBER(cell)``; a value that could not be read is written as
  text, so it counts as blank, as it does in pandas (and makes the client unqualified);
* every condition compiles to two formulas that never raise an error: *is true* and *is
  false*; a blank comparison is neither, which gives SQL's three-valued logic
  (``NOT`` swaps the two, ``AND``/``OR`` follow Kleene's rules);
* text is compared with ``EXACT`` (``=`` ignores case in spreadsheets, pandas does not);
* a division by zero is blank; ``min``/``max`` ignore a blank argument;
* ``IF`` is the only function that evaluates lazily in all three engines, so every
  expression that could raise (``/``, arithmetic on a blank formula cell) sits in the
  branch of an ``IF`` whose condition proves it safe.

``profit_share_cum`` needs the whole table: in ``live`` mode it is ``SUMPRODUCT`` over a
helper column ``pareto_weight`` (the client's profit when qualified and positive, else 0);
ties are broken by row order, as pandas breaks them by position. That costs O(n²) per full
recalculation, so in ``fixed`` mode the share is written as a value at export time (the
category formulas read that column either way).

Functions used (all evaluated alike by Excel 2007+, LibreOffice and Google Sheets):
``IF AND OR NOT ISNUMBER ISLOGICAL ISBLANK N EXACT UPPER TRIM ABS MIN MAX YEAR MONTH DAY
INT SUMPRODUCT SUM ROW``. Formulas are refused at compile time when they exceed what every
engine accepts (8,192 characters, 64 nested functions).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from ..errors import RulesError
from ..metrics import RATIO_DECIMALS
from .expr import And, Arith, Cmp, Col, Const, Func, In, Neg, Node, Not, Or, Param, Type
from .loader import BUILTIN_METRICS, RuleSet

#: stands for the row number in a formula template (see :meth:`CompiledRules.formula`)
ROW = "\x00"
UNQUALIFIED = "unqualified"
MAX_LENGTH = 8192
MAX_NESTING = 64
#: the column names of the derived metrics computed by formulas, in dependency order
BUILTIN_FORMULAS = ("profit", "roi_pct", "margin_pct", "tenure_months", "recency_days")
AS_OF_NAME = "as_of"

FUNCTIONS_USED = ("IF", "AND", "OR", "NOT", "ISNUMBER", "ISLOGICAL", "ISBLANK", "N", "EXACT",
                  "UPPER", "TRIM", "ABS", "MIN", "MAX", "YEAR", "MONTH", "DAY", "INT",
                  "SUMPRODUCT", "SUM", "ROW", "ROUND")


class Pareto(str, Enum):
    """How ``profit_share_cum`` gets into the sheet."""

    LIVE = "live"  # a formula over the whole table (O(n²) per recalculation)
    FIXED = "fixed"  # the value computed at export


@dataclass(frozen=True)
class Column:
    """One formula column: ``template`` has no leading ``=`` and :data:`ROW` for the row."""

    name: str
    template: str
    type: Type


@dataclass
class CompiledRules:
    """The formula columns in dependency order, and the defined names they read."""

    columns: list[Column]
    names: dict[str, str]  # threshold (and ``as_of``) -> defined name
    inputs: list[str]  # the value columns the formulas read
    pareto: Pareto = Pareto.LIVE
    by_name: dict[str, Column] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {c.name: c for c in self.columns}

    def formula(self, column: str, row: int) -> str:
        """The formula of ``column`` in sheet row ``row`` (1-based), with its ``=``."""
        return "=" + self.by_name[column].template.replace(ROW, str(row))


@dataclass(frozen=True)
class SheetRefs:
    """Where the formulas find things.

    ``letters`` maps every column name to its column letter(s) on the clients sheet;
    ``first_row``/``last_row`` are the sheet rows of the first and last client (for the
    whole-table Pareto share); ``names`` maps thresholds and ``as_of`` to defined names.
    """

    letters: Mapping[str, str]
    first_row: int
    last_row: int
    names: Mapping[str, str]


_CELL_LIKE = re.compile(r"^([a-z]{1,3}[0-9]+|r[0-9]*c?[0-9]*|c[0-9]*|true|false)$", re.I)


def defined_names(rules: RuleSet) -> dict[str, str]:
    """A defined name for each threshold and for ``as_of`` (the day the metrics count from).

    The threshold's own name when every engine accepts it as a name, else ``th_`` + name
    (``a1`` would be a cell, ``r``/``c`` are R1C1 references)."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in [*rules.thresholds, AS_OF_NAME]:
        candidate = name if not _CELL_LIKE.match(name) else "th_" + name
        while candidate.lower() in taken:
            candidate = "th_" + candidate
        taken.add(candidate.lower())
        out[name] = candidate
    return out


def formula_columns(rules: RuleSet, pareto: Pareto = Pareto.LIVE) -> list[str]:
    """Names of the columns that hold formulas, in dependency order."""
    share = ["pareto_weight", "profit_share_cum"] if pareto is Pareto.LIVE else []
    return ["profit", "roi_pct", "margin_pct", "tenure_months", "recency_days", "stage",
            "qualified", *share, *(m.name for m in rules.metrics), "live_category"]


def compile_rules(rules: RuleSet, refs: SheetRefs, pareto: Pareto = Pareto.LIVE) -> CompiledRules:
    """Compile ``rules`` to formula templates; raise :class:`RulesError` for a rule that no
    spreadsheet could evaluate (naming the category and why)."""
    typed = {name: kind for name, kind in rules.names.items()}
    typed.setdefault("pareto_weight", Type.NUMBER)
    formula_names = set(formula_columns(rules, pareto))
    inputs = [name for name in rules.names if name not in formula_names and name != "stage"]
    missing = [n for n in [*inputs, *formula_names] if n not in refs.letters]
    if missing:
        raise RulesError(f"the sheet has no column for {', '.join(missing)}; the live formulas "
                         "need every column the rules read")

    def ref(name: str) -> str:
        return f"${refs.letters[name]}{ROW}"

    params = {name: refs.names[name] for name in rules.thresholds}
    c = _Compiler(typed, ref, params, formula_names)
    as_of = refs.names[AS_OF_NAME]
    columns: list[Column] = []

    def add(name: str, template: str, kind: Type, what: str) -> None:
        _check_limits(template, what)
        columns.append(Column(name, template, kind))

    rev, cost, prof = ref("revenue"), ref("costs"), ref("profit")
    first, last = ref("first_order"), ref("last_order")
    add("profit", f'IF(AND(ISNUMBER({rev}),ISNUMBER({cost})),{rev}-{cost},"")', Type.NUMBER,
        "profit")
    dec = RATIO_DECIMALS  # rounded as pandas and SQL round them: 3.30 on 2.20 is 50 exactly
    add("roi_pct", f'IF(AND(ISNUMBER({prof}),ISNUMBER({cost})),'
                   f'IF({cost}>0,ROUND({prof}/{cost}*100,{dec}),""),"")', Type.NUMBER, "roi_pct")
    add("margin_pct", f'IF(AND(ISNUMBER({prof}),ISNUMBER({rev})),'
                      f'IF({rev}>0,ROUND({prof}/{rev}*100,{dec}),""),"")', Type.NUMBER, "margin_pct")
    add("tenure_months",
        f'IF(ISNUMBER({first}),(YEAR({as_of})-YEAR({first}))*12+(MONTH({as_of})-MONTH({first}))'
        f'-IF(DAY({first})>DAY({as_of}),1,0),"")', Type.NUMBER, "tenure_months")
    add("recency_days", f'IF(ISNUMBER({last}),INT({as_of}-{last}),"")', Type.NUMBER, "recency_days")
    add("stage", _chain([(c.true(s.node), s.code) for s in rules.stages], '""'), Type.TEXT,
        "STAGES")
    add("qualified", _qualified(rules, inputs, ref), Type.BOOL, "REQUIRED")
    if pareto is Pareto.LIVE:
        weight = ref("pareto_weight")
        letter = refs.letters["pareto_weight"]
        span = f"${letter}${refs.first_row}:${letter}${refs.last_row}"
        add("pareto_weight", f'IF(AND({ref("qualified")},ISNUMBER({prof})),MAX({prof},0),0)',
            Type.NUMBER, "profit_share_cum")
        add("profit_share_cum",
            f'IF({weight}>0,(SUMPRODUCT(({span}>{weight})*{span})+SUMPRODUCT(({span}={weight})'
            f'*(ROW({span})<ROW())*{span}))/SUM({span}),"")', Type.NUMBER, "profit_share_cum")
    for metric in rules.metrics:
        if metric.type is Type.BOOL:
            template = f'IF({c.true(metric.node)},TRUE,IF({c.false(metric.node)},FALSE,""))'
        else:
            value, ok = c.value(metric.node)
            template = value if ok is None else f'IF({ok},{value},"")'
        add(metric.name, template, metric.type, f"metric {metric.name!r}")
    add("live_category", _live_category(rules, c, ref), Type.TEXT, "CATEGORIES")
    names = {**params, AS_OF_NAME: as_of}
    return CompiledRules(columns, names, inputs, pareto)


def _qualified(rules: RuleSet, inputs: list[str], ref: Callable[[str], str]) -> str:
    """Qualified: every typed value readable (a number, a date, yes/no, or empty) and every
    REQUIRED value present, as :func:`sheets_sync.categorize.categorize` decides."""
    parts = []
    for name in rules.required:
        cell = ref(name)
        kind = rules.names[name]
        parts.append(f'TRIM({cell})<>""' if kind is Type.TEXT else
                     f"OR(ISLOGICAL({cell}),ISNUMBER({cell}))" if kind is Type.BOOL else
                     f"ISNUMBER({cell})")
    for name in inputs:
        if name in BUILTIN_METRICS:
            continue
        kind = rules.names[name]
        if kind in (Type.NUMBER, Type.DATE):
            parts.append(f"OR(ISBLANK({ref(name)}),ISNUMBER({ref(name)}))")
        elif kind is Type.BOOL:
            cell = ref(name)
            parts.append(f"OR(ISBLANK({cell}),ISLOGICAL({cell}),ISNUMBER({cell}))")
    return _and(parts) or "TRUE"


def _live_category(rules: RuleSet, c: _Compiler, ref: Callable[[str], str]) -> str:
    chain = _chain([(c.true(cat.node), cat.code) for cat in rules.categories], _text(UNQUALIFIED))
    body = f"IF({ref('qualified')},{chain},{_text(UNQUALIFIED)})"
    manual = f"UPPER(TRIM({ref('manual_category')}))"
    codes = rules.codes
    if all(code == code.upper() for code in codes):
        hit = _or([f"EXACT({manual},{_text(code)})" for code in codes])
        return f"IF({hit},{manual},{body})"
    return _chain([(f"EXACT({manual},{_text(code.upper())})", code) for code in codes], body)


def _chain(branches: list[tuple[str, str]], otherwise: str) -> str:
    """First match: ``IF(c1,"A",IF(c2,"B",...otherwise))``; stops at an always-true branch."""
    out = otherwise
    for condition, code in reversed(branches):
        out = _text(code) if condition == "TRUE" else f"IF({condition},{_text(code)},{out})"
    return out


def _check_limits(template: str, what: str) -> None:
    length = len(template) + 8  # the row number
    if length > MAX_LENGTH:
        raise RulesError(f"{what}: cannot be written as a spreadsheet formula: it would be "
                         f"{length} characters long, over the {MAX_LENGTH} that Excel accepts. "
                         "Split it into METRICS and refer to them by name.")
    depth = nesting(template)
    if depth > MAX_NESTING:
        raise RulesError(f"{what}: cannot be written as a spreadsheet formula: it nests "
                         f"{depth} functions, over the {MAX_NESTING} that Excel accepts. Use fewer "
                         "categories or stages, or move shared parts into METRICS.")


def nesting(formula: str) -> int:
    """How deeply functions nest in ``formula`` (parentheses outside string literals)."""
    depth = best = 0
    in_text = False
    for ch in formula:
        if ch == '"':
            in_text = not in_text
        elif not in_text and ch == "(":
            depth += 1
            best = max(best, depth)
        elif not in_text and ch == ")":
            depth -= 1
    return best


def _text(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _number(value: float) -> str:
    text = repr(float(value))
    if text.endswith(".0"):
        text = text[:-2]
    if text in ("inf", "-inf", "nan"):
        raise RulesError(f"the number {text} cannot be written in a spreadsheet formula")
    return f"({text})" if text.startswith("-") else text


def _and(parts: list[str]) -> str:
    parts = [p for p in parts if p != "TRUE"]
    if "FALSE" in parts:
        return "FALSE"
    if not parts:
        return ""
    return parts[0] if len(parts) == 1 else f"AND({','.join(parts)})"


def _or(parts: list[str]) -> str:
    parts = [p for p in parts if p != "FALSE"]
    if "TRUE" in parts:
        return "TRUE"
    if not parts:
        return "FALSE"
    return parts[0] if len(parts) == 1 else f"OR({','.join(parts)})"


def _guard(ok: str | None, formula: str) -> str:
    """``formula`` where the operands exist, FALSE where one is blank."""
    return formula if ok is None else f"IF({ok},{formula},FALSE)"


def _both(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return f"AND({a},{b})"


_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "=", "!=": "<>"}


class _Compiler:
    """Compiles nodes: :meth:`value` for numbers, text and dates, :meth:`true` and
    :meth:`false` for conditions (both plain TRUE/FALSE formulas that never raise)."""

    def __init__(self, types: Mapping[str, Type], ref: Callable[[str], str],
                 params: Mapping[str, str], formula_columns: set[str]) -> None:
        self.types, self.ref, self.params = types, ref, params
        self.formula_columns = formula_columns

    def type(self, node: Node) -> Type:
        from .expr import type_of

        return type_of(node, self.types)

    # ------------------------------------------------------------------ values
    def value(self, node: Node) -> tuple[str, str | None]:
        """``(formula, ok)``: ``ok`` is a formula true where the value exists (``None``: always);
        ``formula`` is evaluated only where ``ok`` holds."""
        match node:
            case Const(value=bool() as v):
                return ("TRUE" if v else "FALSE"), None
            case Const(value=str() as v):
                return _text(v), None
            case Const(value=v):
                return _number(float(v)), None
            case Param(name=name):
                return self.params[name], None
            case Col(name=name):
                cell = self.ref(name)
                kind = self.types[name]
                if kind is Type.BOOL:
                    return f"(N({cell})<>0)", f"OR(ISLOGICAL({cell}),ISNUMBER({cell}))"
                if kind is Type.TEXT:
                    # a formula's text (stage) is never blank in pandas, only empty
                    return cell, None if name in self.formula_columns else f'{cell}<>""'
                return cell, f"ISNUMBER({cell})"
            case Arith(op=op, left=left, right=right):
                (a, ok_a), (b, ok_b) = self.value(left), self.value(right)
                ok = _both(ok_a, ok_b)
                if op == "/" and isinstance(right, Const):
                    ok = ok if right.value != 0 else "FALSE"
                elif op == "/":
                    ok = f"{b}<>0" if ok is None else f"IF({ok},{b}<>0,FALSE)"
                return f"({a}{op}{b})", ok
            case Neg(item=item):
                a, ok = self.value(item)
                return f"(-{a})", ok
            case Func(name="abs", args=(arg,)):
                a, ok = self.value(arg)
                return f"ABS({a})", ok
            case Func(name=("min" | "max") as name, args=(left, right)):
                (a, ok_a), (b, ok_b) = self.value(left), self.value(right)
                both = f"{name.upper()}({a},{b})"
                if ok_a is None and ok_b is None:
                    return both, None
                if ok_a is None:
                    return f"IF({ok_b},{both},{a})", None
                if ok_b is None:
                    return f"IF({ok_a},{both},{b})", None
                return f"IF({ok_a},IF({ok_b},{both},{a}),{b})", f"OR({ok_a},{ok_b})"
        # a condition used as a value (compared with ==, or in 'in'): TRUE/FALSE, blank if unknown
        t, f = self.true(node), self.false(node)
        return t, _or([t, f])

    # ------------------------------------------------------------------ conditions
    def true(self, node: Node) -> str:
        return self._truth(node, True)

    def false(self, node: Node) -> str:
        return self._truth(node, False)

    def _truth(self, node: Node, want: bool) -> str:
        match node:
            case Const(value=bool() as v):
                return "TRUE" if v is want else "FALSE"
            case Col(name=name) if self.types[name] is Type.BOOL:
                cell = self.ref(name)
                test = f"N({cell})<>0" if want else f"N({cell})=0"
                return f"AND(OR(ISLOGICAL({cell}),ISNUMBER({cell})),{test})"
            case Cmp(ops=ops, operands=operands):
                parts = [self._compare(op, a, b, want)
                         for op, a, b in zip(ops, operands, operands[1:], strict=False)]
                return _and(parts) if want else _or(parts)
            case In(operand=operand, options=options, negate=negate):
                value, ok = self.value(operand)
                text = self.type(operand) is Type.TEXT
                hits = [f"EXACT({value},{self.value(o)[0]})" if text else
                        f"{value}={self.value(o)[0]}" for o in options]
                hit = _or(hits)
                holds = hit if want != negate else f"NOT({hit})"
                return _guard(ok, holds)
            case And(items=items):
                parts = [self._truth(i, want) for i in items]
                return _and(parts) if want else _or(parts)
            case Or(items=items):
                parts = [self._truth(i, want) for i in items]
                return _or(parts) if want else _and(parts)
            case Not(item=item):
                return self._truth(item, not want)
            case Func(name="isblank", args=(arg,)):
                blank = self._blank(arg)
                return blank if want else ("TRUE" if blank == "FALSE" else f"NOT({blank})")
        raise RulesError(f"the condition {node!r} cannot be written as a spreadsheet formula")

    def _compare(self, op: str, left: Node, right: Node, want: bool) -> str:
        (a, ok_a), (b, ok_b) = self.value(left), self.value(right)
        if self.type(left) is Type.TEXT:
            test = f"EXACT({a},{b})"
            if op == "!=":
                test = f"NOT({test})"
        else:
            test = f"{a}{_OPS[op]}{b}"
        return _guard(_both(ok_a, ok_b), test if want else f"NOT({test})")

    def _blank(self, node: Node) -> str:
        """Whether ``node`` is blank, as pandas' ``isblank`` says (text of spaces is blank)."""
        kind = self.type(node)
        if isinstance(node, Col) and kind is Type.TEXT:
            return f'TRIM({self.ref(node.name)})=""'
        if isinstance(node, Const | Param):
            return "FALSE"
        if kind is Type.BOOL and not isinstance(node, Col):
            return f"NOT({_or([self.true(node), self.false(node)])})"
        _, ok = self.value(node)
        return "FALSE" if ok is None else f"NOT({ok})"
