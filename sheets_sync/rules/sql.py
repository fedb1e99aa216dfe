"""The parsed rules compiled to one SQLAlchemy SELECT, so a database categorizes its own rows.

:func:`compile_rules` takes a FROM clause holding the raw CRM columns and returns a SELECT of
``id, category, rule_category, stage, qualified, reason`` computed exactly as
:func:`sheets_sync.categorize.categorize` computes them in pandas: parsing of raw values
(a value that cannot be read, or a REQUIRED value missing, makes the client unqualified),
the built-in metrics (``profit_share_cum`` is a window function), the stages, the rule file's
metrics, first match wins, and a valid manual category over all.

It is built in layers of subqueries: parsed columns, built-in metrics, the Pareto window,
the stage, the rule metrics, then the categories. PostgreSQL and SQLite are supported.

Semantic bridges between pandas and SQL (also in docs/sql.md):

* numbers are cast to double precision when read, so ``/`` never divides integers, and
  ``x / 0`` is ``x / NULLIF(0, 0)``: blank, as in pandas, where PostgreSQL would raise;
* the Pareto window orders by ``profit DESC NULLS LAST, id`` (ties by id, the order pandas
  reads the rows in); the total is summed over the same ordered frame, so both engines add
  the same numbers in the same order as numpy's ``cumsum``;
* dates: PostgreSQL subtracts DATEs; SQLite stores ISO text and uses ``julianday``; whole
  months come from year, month and day numbers on both;
* blank text: ``NULL`` or only spaces, tabs and line breaks (``trim`` with those characters);
* booleans are ``true/false`` in PostgreSQL and ``1/0`` in SQLite; comparisons with a
  constant are bound parameters (``= true``), never ``IS TRUE``, so NULL stays unknown.

Values the database reads more strictly than pandas (they make the client unqualified with
"not readable in the database"): text numbers other than plain ``-123.45`` (``1 234,5 ₽``),
text dates other than ISO ``2026-11-23`` or dotted ``23.11.2026`` (PostgreSQL also
``2026-1-5`` and ``5.1.26``; SQLite also Excel serial numbers), and NaN/Infinity.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import sqlalchemy as sa

from ..parsing import _FALSE, _TRUE, EMPTY_MARKERS, MAX_INTEGER_DIGITS, MAX_YEAR, MIN_YEAR, TWO_DIGIT_PIVOT
from ..serials import EPOCH, MAX_SERIAL
from ..table import COLUMNS, Kind
from .expr import ARITH_OPS, And, Arith, Cmp, Col, Const, Func, In, Neg, Node, Not, Or, Param, Type, to_text
from .loader import RuleSet

UNQUALIFIED = "unqualified"
SPACES = " \t\n\r\x0b\x0c"
NUMERIC_KINDS = (Kind.MONEY, Kind.NUMBER, Kind.COUNT)
NO_RULE = "category: no rule matched (add a catch-all category last, with when = 'true')"
_MARKERS = sorted(EMPTY_MARKERS)
_NUMBER_RE = r"^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)$"
# as parsing.py reads them: a date, then nothing or a time of day (not "2026-11-01 garbage")
_TIME_RE = r"([ T]\s*[0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?\s*(Z|[-+][0-9]{2}(:?[0-9]{2})?)?)?"
_DATE_RE = r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}" + _TIME_RE + "$"
_DOTTED_RE = r"^[0-9]{1,2}\.[0-9]{1,2}\.([0-9]{2}|[0-9]{4})" + _TIME_RE + "$"


class Unsupported(ValueError):
    """The database's dialect cannot run the compiled rules."""


def _num(value: float) -> sa.ColumnElement:
    return sa.literal(float(value), sa.Float)


def _str(value: str) -> sa.ColumnElement:
    return sa.literal(value, sa.String)


def _bool(value: bool) -> sa.ColumnElement:
    return sa.literal(value, sa.Boolean)


def _flag(cond: sa.ColumnElement) -> sa.ColumnElement:
    """A condition as a non-null boolean (unknown counts as false)."""
    return sa.case((cond, sa.true()), else_=sa.false())


class _Parser:
    """Raw column -> (typed value, 'not readable' flag), per dialect."""

    def __init__(self, dialect: str, years: tuple[int, int] = (MIN_YEAR, MAX_YEAR)) -> None:
        self.years = years  # [parsing] min_year, max_year: dates outside are typos
        if dialect not in ("postgresql", "sqlite"):
            raise Unsupported(f"in-database categorizing supports PostgreSQL and SQLite, not "
                              f"{dialect}")
        self.pg = dialect == "postgresql"

    def round_ratio(self, value: sa.ColumnElement) -> sa.ColumnElement:
        """A derived ratio rounded as :func:`sheets_sync.metrics.round_ratio` rounds it (half
        away from zero; PostgreSQL rounds a double only through numeric)."""
        from ..metrics import RATIO_DECIMALS

        if self.pg:
            return sa.cast(sa.func.round(sa.cast(value, sa.Numeric), RATIO_DECIMALS), sa.Float)
        return sa.func.round(value, RATIO_DECIMALS)

    def trim(self, text: sa.ColumnElement) -> sa.ColumnElement:
        return sa.func.trim(text, SPACES) if not self.pg else sa.func.btrim(text, SPACES)

    def text(self, col: sa.ColumnElement) -> sa.ColumnElement:
        return sa.func.nullif(self.trim(sa.cast(col, sa.Text)), "")

    def is_number_typed(self, col: sa.ColumnElement) -> bool:
        kind = col.type
        return isinstance(kind, sa.Integer | sa.Float | sa.Numeric) and not isinstance(kind, sa.Boolean)

    def blank_raw(self, raw: sa.ColumnElement) -> sa.ColumnElement:
        """A raw value that reads as blank: NULL, or text such as '', '-', 'н/д'."""
        if self.pg:
            if self.is_number_typed(raw) or isinstance(raw.type, sa.Date | sa.Boolean):
                return raw.is_(None)
            return self.blank_text(self.trim(sa.cast(raw, sa.Text)))
        return sa.or_(raw.is_(None), sa.and_(sa.func.typeof(raw) == "text",
                                             sa.func.lower(self.trim(raw)).in_(_MARKERS)))

    def blank_text(self, s: sa.ColumnElement) -> sa.ColumnElement:
        return sa.or_(s.is_(None), sa.func.lower(s).in_(_MARKERS))

    def parse(self, col: sa.ColumnElement | None, kind: Kind
              ) -> tuple[sa.ColumnElement, sa.ColumnElement | None]:
        if col is None:
            return sa.cast(sa.null(), _SQL_TYPE[kind]), None
        if kind is Kind.TEXT:
            return self.text(col), None
        if kind in NUMERIC_KINDS:
            value, bad = self.number(col)
            if kind is Kind.COUNT:
                return sa.case((value >= 0, value)), sa.or_(bad, _flag(value < 0))
            return value, bad
        if kind is Kind.DATE:
            return self.date(col)
        return self.boolean(col)

    def number(self, col: sa.ColumnElement) -> tuple[sa.ColumnElement, sa.ColumnElement]:
        if self.pg:
            if self.is_number_typed(col):
                return sa.cast(col, sa.Float), sa.false()
            s = self.trim(sa.cast(col, sa.Text))
            ok = s.regexp_match(_NUMBER_RE)
            return (sa.case((ok, sa.cast(s, sa.Float))),
                    _flag(sa.and_(sa.not_(self.blank_text(s)), sa.not_(ok))))
        t = sa.func.typeof(col)
        numeric = t.in_(["integer", "real"])
        s = self.trim(col)
        body = sa.case((sa.func.substr(s, 1, 1).in_(["-", "+"]), sa.func.substr(s, 2)), else_=s)
        ok = sa.and_(t == "text", body != "", sa.not_(body.op("GLOB")("*[^0-9.]*")),
                     body.op("GLOB")("*[0-9]*"),
                     sa.func.length(body) - sa.func.length(sa.func.replace(body, ".", "")) <= 1)
        blank = sa.or_(col.is_(None), sa.and_(t == "text", sa.func.lower(s).in_(_MARKERS)))
        value = sa.case((numeric, sa.cast(col, sa.Float)), (ok, sa.cast(s, sa.Float)))
        bad = sa.case((blank, sa.false()), (numeric, sa.false()), (ok, sa.false()),
                      else_=sa.true())
        return value, bad

    def _ymd_valid(self, y: sa.ColumnElement, m: sa.ColumnElement,
                   d: sa.ColumnElement) -> sa.ColumnElement:
        leap = sa.or_(sa.and_(y % 4 == 0, y % 100 != 0), y % 400 == 0)
        days = sa.case((m.in_([1, 3, 5, 7, 8, 10, 12]), 31), (m.in_([4, 6, 9, 11]), 30),
                       (leap, 29), else_=28)
        return sa.and_(y >= 1, m >= 1, m <= 12, d >= 1, d <= days)

    def date(self, col: sa.ColumnElement) -> tuple[sa.ColumnElement, sa.ColumnElement]:
        if self.pg:
            if isinstance(col.type, sa.Date) and not isinstance(col.type, sa.DateTime):
                return col, sa.false()
            if isinstance(col.type, sa.DateTime):
                return sa.cast(col, sa.Date), sa.false()
            s = self.trim(sa.cast(col, sa.Text))
            iso = s.regexp_match(_DATE_RE)
            dotted = s.regexp_match(_DOTTED_RE)
            y = sa.case((iso, sa.cast(sa.func.split_part(s, "-", 1), sa.Integer)),
                        (dotted, sa.cast(sa.func.substring(s, r"^\d+\.\d+\.(\d+)"), sa.Integer)))
            y = sa.case((sa.and_(dotted, y < TWO_DIGIT_PIVOT), y + 2000),
                        (sa.and_(dotted, y < 100), y + 1900), else_=y)
            m = sa.case((iso, sa.cast(sa.func.split_part(s, "-", 2), sa.Integer)),
                        (dotted, sa.cast(sa.func.split_part(s, ".", 2), sa.Integer)))
            d = sa.case((iso, sa.cast(sa.func.substring(sa.func.split_part(s, "-", 3), "^[0-9]+"),
                                      sa.Integer)),
                        (dotted, sa.cast(sa.func.split_part(s, ".", 1), sa.Integer)))
            ok = sa.or_(iso, dotted)
            valid = sa.case((ok, self._ymd_valid(y, m, d)), else_=sa.false())
            value = sa.case((valid, sa.func.make_date(y, m, d)))
            return value, _flag(sa.and_(sa.not_(self.blank_text(s)), sa.not_(valid)))
        t = sa.func.typeof(col)
        s = self.trim(col)
        head = sa.func.substr(s, 1, 10)
        iso = sa.and_(t == "text",
                      head.op("GLOB")("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"),
                      self._time_tail(sa.func.substr(s, 11)))
        y = sa.cast(sa.func.substr(s, 1, 4), sa.Integer)
        m = sa.cast(sa.func.substr(s, 6, 2), sa.Integer)
        d = sa.cast(sa.func.substr(s, 9, 2), sa.Integer)
        iso_ok = sa.and_(iso, self._ymd_valid(y, m, d))
        dotted = sa.and_(t == "text",
                         head.op("GLOB")("[0-9][0-9].[0-9][0-9].[0-9][0-9][0-9][0-9]"),
                         self._time_tail(sa.func.substr(s, 11)))
        dy = sa.cast(sa.func.substr(s, 7, 4), sa.Integer)
        dm = sa.cast(sa.func.substr(s, 4, 2), sa.Integer)
        dd = sa.cast(sa.func.substr(s, 1, 2), sa.Integer)
        dotted_ok = sa.and_(dotted, self._ymd_valid(dy, dm, dd))
        as_dotted = (sa.func.substr(s, 7, 4) + _str("-") + sa.func.substr(s, 4, 2) + _str("-")
                     + sa.func.substr(s, 1, 2))
        digits = sa.and_(t == "text", s != "", sa.not_(s.op("GLOB")("*[^0-9]*")))
        serial = sa.case((t.in_(["integer", "real"]), col), (digits, sa.cast(s, sa.Integer)))
        serial_ok = sa.and_(serial >= 1, serial <= MAX_SERIAL)
        as_serial = sa.func.date(EPOCH.isoformat(), sa.literal("+", sa.String) + sa.cast(
            sa.cast(serial, sa.Integer), sa.String) + sa.literal(" days", sa.String))
        value = sa.case((iso_ok, head), (dotted_ok, as_dotted), (serial_ok, as_serial))
        blank = sa.or_(col.is_(None), sa.and_(t == "text", sa.func.lower(s).in_(_MARKERS)))
        bad = sa.case((blank, sa.false()), (iso_ok, sa.false()), (dotted_ok, sa.false()),
                      (serial_ok, sa.false()), else_=sa.true())
        return value, bad

    @staticmethod
    def _time_tail(rest: sa.ColumnElement) -> sa.ColumnElement:
        """SQLite: what follows a date is nothing or a time of day (``10:00``...)."""
        return sa.or_(rest == "", rest.op("GLOB")("[ T][0-9]:[0-9][0-9]*"),
                      rest.op("GLOB")("[ T][0-9][0-9]:[0-9][0-9]*"))

    def year(self, d: sa.ColumnElement) -> sa.ColumnElement:
        if self.pg:
            return sa.cast(sa.extract("year", d), sa.Integer)
        return sa.cast(sa.func.substr(d, 1, 4), sa.Integer)

    def checked(self, name: str, kind: Kind, value: sa.ColumnElement, as_of: date
                ) -> sa.ColumnElement:
        """``value`` as pandas keeps it, NULL (so: not readable) where parsing.py refuses it:
        more than 15 digits or infinite, a count not whole, a date outside the years or an
        order date after ``as_of``."""
        if kind in NUMERIC_KINDS:
            limit = 10.0 ** MAX_INTEGER_DIGITS
            conditions = [sa.func.abs(value) < limit]
            if kind is Kind.COUNT:
                whole = sa.cast(value, sa.BigInteger) if self.pg else sa.cast(value, sa.Integer)
                return sa.case((sa.func.abs(value) >= limit, sa.null()),
                               (value != whole, sa.null()), else_=value)
            return sa.case((sa.and_(*conditions), value))
        if kind is Kind.DATE:
            ok = sa.and_(self.year(value) >= self.years[0], self.year(value) <= self.years[1])
            if name in ("first_order", "last_order"):
                day = sa.literal(as_of, sa.Date) if self.pg else sa.literal(as_of.isoformat())
                ok = sa.and_(ok, value <= day)
            return sa.case((ok, value))
        return value

    def boolean(self, col: sa.ColumnElement) -> tuple[sa.ColumnElement, sa.ColumnElement]:
        if self.pg and isinstance(col.type, sa.Boolean):
            return col, sa.false()
        if self.pg and self.is_number_typed(col):
            value = sa.case((col == 1, sa.true()), (col == 0, sa.false()))
            return value, _flag(sa.and_(col.is_not(None), col.not_in([0, 1])))
        s = sa.func.lower(self.trim(sa.cast(col, sa.Text)))
        words_true, words_false = sorted(_TRUE), sorted(_FALSE)
        if self.pg:
            value = sa.case((s.in_(words_true), sa.true()), (s.in_(words_false), sa.false()))
            known = sa.or_(s.is_(None), s.in_(words_true + words_false + _MARKERS))
            return value, _flag(sa.not_(known))
        t = sa.func.typeof(col)
        numeric = t.in_(["integer", "real"])
        value = sa.case((sa.and_(numeric, col == 1), sa.true()),
                        (sa.and_(numeric, col == 0), sa.false()),
                        (sa.and_(t == "text", s.in_(words_true)), sa.true()),
                        (sa.and_(t == "text", s.in_(words_false)), sa.false()))
        known = sa.or_(col.is_(None), sa.and_(numeric, col.in_([0, 1])),
                       sa.and_(t == "text", s.in_(words_true + words_false + _MARKERS)))
        return value, _flag(sa.not_(known))

    def month_number(self, d: sa.ColumnElement) -> tuple[sa.ColumnElement, sa.ColumnElement]:
        """(year * 12 + month, day) of a parsed date."""
        if self.pg:
            y = sa.cast(sa.extract("year", d), sa.Integer)
            m = sa.cast(sa.extract("month", d), sa.Integer)
            return y * 12 + m, sa.cast(sa.extract("day", d), sa.Integer)
        y = sa.cast(sa.func.substr(d, 1, 4), sa.Integer)
        m = sa.cast(sa.func.substr(d, 6, 2), sa.Integer)
        return y * 12 + m, sa.cast(sa.func.substr(d, 9, 2), sa.Integer)

    def days_since(self, d: sa.ColumnElement, as_of: date) -> sa.ColumnElement:
        if self.pg:
            return sa.cast(sa.literal(as_of, sa.Date) - d, sa.Float)
        return sa.cast(sa.func.julianday(sa.literal(as_of.isoformat(), sa.String))
                       - sa.func.julianday(d), sa.Float)


_SQL_TYPE = {Kind.TEXT: sa.Text(), Kind.MONEY: sa.Float(), Kind.NUMBER: sa.Float(),
             Kind.COUNT: sa.Float(), Kind.DATE: sa.Date(), Kind.BOOL: sa.Boolean()}


class _Compiler:
    """A rule node -> SQL expression, with names resolved in ``env``."""

    def __init__(self, env: Mapping[str, sa.ColumnElement], names: Mapping[str, Type]) -> None:
        self.env, self.names = env, names

    def __call__(self, node: Node) -> sa.ColumnElement:
        from .expr import type_of

        match node:
            case Const(value=bool() as v) | Param(value=bool() as v):
                return _bool(v)
            case Const(value=str() as v) | Param(value=str() as v):
                return _str(v)
            case Const(value=v) | Param(value=v):
                return _num(float(v))
            case Col(name=name):
                return self.env[name]
            case Cmp(ops=ops, operands=operands):
                values = [self(o) for o in operands]
                parts = [_compare(op, a, b) for op, a, b in zip(ops, values, values[1:],
                                                                strict=False)]
                return parts[0] if len(parts) == 1 else sa.and_(*parts)
            case In(operand=operand, options=options, negate=negate):
                value = self(operand)
                literals = [o.value if not isinstance(o.value, int | float) or isinstance(
                    o.value, bool) else float(o.value) for o in options]
                return value.not_in(literals) if negate else value.in_(literals)
            case And(items=items):
                return sa.and_(*(self(i) for i in items))
            case Or(items=items):
                return sa.or_(*(self(i) for i in items))
            case Not(item=item):
                return sa.not_(self(item))
            case Arith(op=op, left=left, right=right):
                a, b = self(left), self(right)
                if op in ARITH_OPS:
                    return ARITH_OPS[op](a, b)
                return a / sa.func.nullif(b, _num(0.0), type_=sa.Float)
            case Neg(item=item):
                return -self(item)
            case Func(name="isblank", args=(arg,)):
                value = self(arg)
                if type_of(arg, self.names) is Type.TEXT:
                    return sa.or_(value.is_(None), sa.func.trim(value) == "")
                return value.is_(None)
            case Func(name="abs", args=(arg,)):
                return sa.func.abs(self(arg), type_=sa.Float)
            case Func(name=("min" | "max") as name, args=(x, y)):
                a, b = self(x), self(y)
                pick_a = a <= b if name == "min" else a >= b
                return sa.case((a.is_(None), b), (b.is_(None), a), (pick_a, a), else_=b)
        raise TypeError(f"cannot compile {node!r}")  # pragma: no cover


def _compare(op: str, a: sa.ColumnElement, b: sa.ColumnElement) -> sa.ColumnElement:
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b,
            "!=": a != b}[op]


def compile_rules(rules: RuleSet, source: sa.FromClause, mapping: Mapping[str, str],
                  key: str, as_of: date, dialect: str,
                  years: tuple[int, int] = (MIN_YEAR, MAX_YEAR)) -> sa.Select:
    """The SELECT (``id, category, rule_category, stage, qualified, reason``) that categorizes
    every row of ``source``; ``mapping`` maps canonical columns to ``source``'s columns
    (as :func:`sheets_sync.table.resolve_mapping` gives it) and ``key`` is the id column;
    ``years`` are the years dates are read in (``[parsing] min_year``/``max_year``)."""
    parser = _Parser(dialect, years)
    kinds = {**COLUMNS, **rules.columns}

    # 1. raw -> typed values, and a 'not readable' flag per column
    # (a value is unreadable where the raw value is not blank and the parsed one is NULL:
    # computed a layer later, so each value is parsed once)
    cols: list[sa.ColumnElement] = [source.c[key].label("_key")]
    bad_names: list[str] = []
    for name, kind in kinds.items():
        raw = source.c[mapping[name]] if name in mapping else None
        value, bad = parser.parse(raw, kind)
        if raw is not None and kind in (*NUMERIC_KINDS, Kind.DATE):  # limited a layer later
            bad = sa.true() if bad is None or isinstance(bad, sa.sql.elements.False_) else bad
        cols.append(value.label(name))
        if raw is not None and bad is not None and not isinstance(bad, sa.sql.elements.False_):
            cols.append(raw.label(f"_raw_{name}"))
            bad_names.append(name)
    parsed = _fenced(sa.select(*cols)).subquery("parsed")
    limited = [parser.checked(c.name, kinds[c.name], c, as_of).label(c.name)
               if c.name in bad_names and kinds[c.name] in (*NUMERIC_KINDS, Kind.DATE) else c
               for c in parsed.c]
    parsed = _fenced(sa.select(*limited)).subquery("limited")
    flags = [sa.case((parsed.c[n].is_not(None), sa.false()),
                     (parser.blank_raw(parsed.c[f"_raw_{n}"]), sa.false()),
                     else_=sa.true()).label(f"_bad_{n}") for n in bad_names]
    checked = _fenced(sa.select(*parsed.c, *flags)).subquery("checked")

    # 2. built-in metrics, and who is qualified
    p = checked.c
    blank_required = {}
    for name in rules.required:
        value = p[name]
        blank = value.is_(None)
        if kinds.get(name) is Kind.TEXT:
            blank = sa.or_(blank, parser.trim(value) == "")
        if name in bad_names:
            blank = sa.and_(blank, sa.not_(p[f"_bad_{name}"] == sa.true()))
        blank_required[name] = _flag(blank)
    unreadable = [p[f"_bad_{n}"] for n in bad_names] + list(blank_required.values())
    qualified = _flag(sa.not_(sa.or_(*unreadable))) if unreadable else sa.true()
    profit = p.revenue - p.costs
    first_month, first_day = parser.month_number(p.first_order)
    tenure = sa.cast(as_of.year * 12 + as_of.month - first_month
                     - sa.case((first_day > as_of.day, 1), else_=0), sa.Float)
    problems = [sa.case((p[f"_bad_{n}"], _str(f"{n}: not readable in the database; ")),
                        else_=_str("")) for n in bad_names]
    problems += [sa.case((flag, _str(f"{n}: empty (required); ")), else_=_str(""))
                 for n, flag in blank_required.items()]
    problem_text = _concat(problems)
    base: sa.Select = sa.select(
        *p, qualified.label("_qualified"), problem_text.label("_problems"),
        profit.label("profit"),
        sa.case((p.costs > 0, parser.round_ratio(profit / p.costs * 100))).label("roi_pct"),
        sa.case((p.revenue > 0, parser.round_ratio(profit / p.revenue * 100))).label("margin_pct"),
        tenure.label("tenure_months"),
        parser.days_since(p.last_order, as_of).label("recency_days"),
    )
    base = _fenced(base).subquery("metrics")

    # 3. Pareto position: a window over the qualified clients with a positive profit
    m = base.c
    positive = sa.case((sa.and_(m._qualified == sa.true(), m.profit > 0), m.profit))
    ordered = sa.select(*m, positive.label("_pp")).subquery("ranked")
    r = ordered.c
    order = [r._pp.desc().nulls_last(), r._key.asc()]
    running = sa.func.sum(r._pp).over(order_by=order, rows=(None, 0))
    total = sa.func.sum(r._pp).over(order_by=order, rows=(None, None))
    share = sa.case((r._pp.is_not(None), (running - r._pp) / total))
    windowed = sa.select(*r, share.label("profit_share_cum")).subquery("pareto")

    # 4. the stage (first match, '' when none), 5. the rule file's metrics
    w = windowed.c
    env = {c.name: c for c in w}
    stage = _first_match([(s.code, _Compiler(env, rules.names)(s.node)) for s in rules.stages],
                         _str(""))
    staged = _fenced(sa.select(*w, stage.label("stage"))).subquery("staged")
    env = {c.name: c for c in staged.c}
    metric_cols = []
    for metric in rules.metrics:
        expr = _Compiler(env, rules.names)(metric.node)
        env[metric.name] = expr
        metric_cols.append(expr.label(metric.name))
    measured = _fenced(sa.select(*staged.c, *metric_cols)).subquery("measured")

    # 6. categories: first match among the qualified; a valid manual category over all
    q = measured.c
    env = {c.name: c for c in q}
    compile_node = _Compiler(env, rules.names)
    conditions = [(c.code, compile_node(c.node)) for c in rules.categories]
    qualified_now = q._qualified == sa.true()
    rule_category = sa.case(
        (sa.not_(qualified_now), _str(UNQUALIFIED)),
        *((cond, _str(code)) for code, cond in conditions), else_=_str(UNQUALIFIED))
    manual = sa.case({code.upper(): _str(code) for code in rules.codes},
                     value=sa.func.upper(q.manual_category))
    category = sa.case((manual.is_not(None), manual), else_=rule_category)
    no_rule = sa.and_(qualified_now, sa.not_(sa.or_(*(_flag(c) == sa.true()
                                                       for _, c in conditions))))
    unq_text = _str(f"{UNQUALIFIED}: ") + sa.func.rtrim(
        q._problems + sa.case((no_rule, _str(NO_RULE)), else_=_str("")), "; ", type_=sa.String)
    rule_reason = sa.case(
        (sa.not_(qualified_now), unq_text),
        *((cond, _str(f"{c.code}: {to_text(c.node)}"))
          for c, (_, cond) in zip(rules.categories, conditions, strict=True)),
        else_=unq_text)
    reason = sa.case((manual.is_not(None), _str("manual ") + manual
                      + _str(" set by the owner (rules: ") + rule_reason + _str(")")),
                     else_=rule_reason)
    return sa.select(q._key.label("id"), category.label("category"),
                     rule_category.label("rule_category"), q.stage.label("stage"),
                     q._qualified.label("qualified"), reason.label("reason"))


def _fenced(select: sa.Select) -> sa.Select:
    """``OFFSET 0``: an optimisation fence, so the database computes this layer once per row
    instead of copying its expressions into every place the next layer uses them."""
    return select.offset(0)


def _first_match(items: list[tuple[str, sa.ColumnElement]],
                 default: sa.ColumnElement) -> sa.ColumnElement:
    if not items:
        return default
    return sa.case(*((cond, _str(code)) for code, cond in items), else_=default)


def _concat(parts: list[sa.ColumnElement]) -> sa.ColumnElement:
    if not parts:
        return _str("")
    out = parts[0]
    for part in parts[1:]:
        out = out + part
    return out
