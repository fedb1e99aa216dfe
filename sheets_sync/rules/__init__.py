"""The rule language: parse (``expr``), load a rules file (``loader``), evaluate (``evaluate``)."""

from .expr import ExprError, Node, Type, parse, to_text
from .loader import BUILTIN_METRICS, Category, Metric, RuleSet, load_rules, parse_rules

__all__ = ["BUILTIN_METRICS", "Category", "ExprError", "Metric", "Node", "RuleSet", "Type",
           "load_rules", "parse", "parse_rules", "to_text"]
