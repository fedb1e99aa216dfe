"""The words conditions are told in, to people: labels and units of names, and connectives.

A reason (``A: ROI 208.64% ≥ 50% and ...``, rendered with each client's values by
:func:`sheets_sync.rules.evaluate.render`) and a Legend condition (:func:`describe`, with no
values) use the same :class:`Words`: a column, metric or threshold is shown by its label in the
language in force (the rules file's ``LABELS`` first, then the built-in ones from the catalog,
then its name), a number with its unit (``%``; a ``share`` is shown as a percentage), a stage by
its title. Built per rule set and language, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..i18n import N_, _, language, localise_number, translate
from .expr import (
    And,
    Arith,
    Cmp,
    Col,
    Const,
    Func,
    In,
    Neg,
    Node,
    Not,
    Or,
    Param,
    format_number,
)

if TYPE_CHECKING:
    from .loader import RuleSet

#: labels and units of the built-in columns and metrics (a rules file's LABELS win)
BUILTIN_LABELS: dict[str, tuple[str, str]] = {
    "id": (N_("id"), ""),
    "name": (N_("company"), ""),
    "revenue": (N_("revenue"), ""),
    "costs": (N_("costs"), ""),
    "orders_12m": (N_("orders in 12 months"), ""),
    "first_order": (N_("first order"), ""),
    "last_order": (N_("last order"), ""),
    "overdue_days": (N_("days overdue"), ""),
    "referrals": (N_("referrals"), ""),
    "potential": (N_("potential"), ""),
    "nps": (N_("NPS"), ""),
    "blacklisted": (N_("blacklisted"), ""),
    "manual_category": (N_("manual category"), ""),
    "profit": (N_("profit"), ""),
    "roi_pct": (N_("ROI"), "%"),
    "margin_pct": (N_("margin"), "%"),
    "profit_share_cum": (N_("profit share of the clients above"), "share"),
    "tenure_months": (N_("months as a client"), ""),
    "recency_days": (N_("days since the last order"), ""),
    "stage": (N_("stage"), ""),
}
#: units a rules file may give in LABELS besides free text ("₽", "days")
UNITS = ("%", "share")
SYMBOL = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠",
          "+": "+", "-": "−", "*": "×", "/": "÷"}


@dataclass
class Words:
    """Labels, units and connectives of one rule set in one language."""

    lang: str
    labels: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)  # a text value (a stage code) -> its title
    and_: str = " and "
    or_: str = " or "
    not_: str = "not "
    blank: str = "blank"
    is_blank: str = " blank"
    not_blank: str = " not blank"
    one_of: str = " one of "
    none_of: str = " none of "
    yes: str = "yes"
    no: str = "no"
    rest: str = "matched none of the categories above"
    anyone: str = "all the others"

    def label(self, name: str) -> str:
        return self.labels.get(name, name)

    def unit(self, name: str) -> str:
        return self.units.get(name, "")

    def suffix(self, unit: str) -> str:
        """What follows a number of this unit: ``%`` (Russian: a no-break space before it)."""
        if unit in ("%", "share"):
            return "\u00a0%" if self.lang == "ru" else "%"
        return f"\u00a0{unit}" if unit else ""

    def number(self, value: float, unit: str = "") -> str:
        if value != value:
            return self.blank
        shown = value * 100 if unit == "share" else value
        return localise_number(format_number(shown)) + self.suffix(unit)

    def text_value(self, value: str) -> str:
        return f"«{self.values.get(value, value)}»" if self.lang == "ru" else \
            f"'{self.values.get(value, value)}'"


def words_for(rules: RuleSet | None) -> Words:
    """The :class:`Words` of ``rules`` in the language in force (cached on the rule set)."""
    lang = language()
    if rules is not None and lang in rules.words_cache:
        return rules.words_cache[lang]
    w = Words(lang, and_=_(" and "), or_=_(" or "), not_=_("not "), blank=_("blank"),
              is_blank=_(" blank"), not_blank=_(" not blank"), one_of=_(" one of "),
              none_of=_(" none of "), yes=_("yes"), no=_("no"),
              rest=_("matched none of the categories above"), anyone=_("all the others"))
    for name, (text, unit) in BUILTIN_LABELS.items():
        w.labels[name] = translate(text)
        if unit:
            w.units[name] = unit
    if rules is not None:
        for stage in rules.stages:
            w.values[stage.code] = stage.title
        for name, entry in rules.labels.items():
            if lang in entry:
                if name in {s.code for s in rules.stages}:
                    w.values[name] = entry[lang]
                else:
                    w.labels[name] = entry[lang]
            if "unit" in entry:
                w.units[name] = entry["unit"]
        rules.words_cache[lang] = w
    return w


def describe(node: Node, rules: RuleSet | None = None, words: Words | None = None) -> str:
    """A condition in words, without values (the Legend): ``ROI ≥ 50% and ...``; a boolean
    metric is shown by its definition, as in the reasons."""
    w = words or words_for(rules)
    expand = {m.name: m.node for m in rules.metrics if m.type.value == "bool"} if rules else {}
    if node == Const(True):
        return w.anyone
    return _describe(node, w, expand, "")


def _describe(node: Node, w: Words, expand: dict[str, Node], unit: str) -> str:
    match node:
        case Const(value=bool() as v):
            return w.yes if v else w.no
        case Const(value=str() as v) | Param(value=str() as v):
            return w.text_value(v)
        case Const(value=v) | Param(value=v):
            return w.number(float(v), unit)
        case Col(name=name) if name in expand:
            return _describe(expand[name], w, expand, "")
        case Col(name=name):
            return w.label(name)
        case Cmp(ops=ops, operands=operands):
            unit = next((w.unit(o.name) for o in operands if isinstance(o, Col) and w.unit(o.name)), "")
            parts = [_describe(operands[0], w, expand, unit)]
            for op, o in zip(ops, operands[1:], strict=True):
                parts += [SYMBOL[op], _describe(o, w, expand, unit)]
            return " ".join(parts)
        case In(operand=o, options=opts, negate=neg):
            listed = ", ".join(_describe(x, w, expand, "") for x in opts)
            return f"{_describe(o, w, expand, '')}{w.none_of if neg else w.one_of}({listed})"
        case And(items=items):
            return w.and_.join(_paren(i, Or, w, expand) for i in items)
        case Or(items=items):
            return w.or_.join(_paren(i, And, w, expand) for i in items)
        case Not(item=item):
            return f"{w.not_}({_describe(item, w, expand, '')})"
        case Arith(op=op, left=left, right=right):
            return f"{_paren(left, Arith, w, expand)} {SYMBOL[op]} {_paren(right, Arith, w, expand)}"
        case Neg(item=item):
            return f"−{_paren(item, Arith, w, expand)}"
        case Func(name="isblank", args=(arg,)):
            return _describe(arg, w, expand, "") + w.is_blank
        case Func(name=name, args=args):
            return f"{name}({', '.join(_describe(a, w, expand, '') for a in args)})"
    return repr(node)  # pragma: no cover


def _paren(node: Node, kind: type, w: Words, expand: dict[str, Node]) -> str:
    text = _describe(node, w, expand, "")
    shown = expand.get(node.name, node) if isinstance(node, Col) else node  # a metric by its definition
    return f"({text})" if isinstance(shown, kind) else text
