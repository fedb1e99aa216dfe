"""Reading a rules file (``rules.py``) into a :class:`RuleSet`, without executing it.

The file is Python syntax holding only literal assignments (see the default ``rules.py``):
``THRESHOLDS``, ``COLUMNS``, ``REQUIRED``, ``METRICS``, ``STAGES`` and ``CATEGORIES``. It is
read with :mod:`ast` and :func:`ast.literal_eval`, so it cannot run code, and every error
names the file, the line, the category code and what is wrong.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RulesError
from ..table import COLUMNS, Kind
from .expr import ExprError, Node, Type, check_number, parse, to_text

#: Metrics computed before any rule runs (documented in the README and in rules.py).
BUILTIN_METRICS: dict[str, str] = {
    "profit": "revenue − costs",
    "roi_pct": "profit ÷ costs × 100; blank when costs are blank or not above 0",
    "margin_pct": "profit ÷ revenue × 100; blank when revenue is blank or not above 0",
    "profit_share_cum": "Pareto: share of total profit made by the clients who earn more than "
                        "this one (0 for the top client); blank when profit ≤ 0",
    "tenure_months": "whole months since first_order",
    "recency_days": "days since last_order",
}

KIND_TYPES = {Kind.TEXT: Type.TEXT, Kind.MONEY: Type.NUMBER, Kind.NUMBER: Type.NUMBER,
              Kind.COUNT: Type.NUMBER, Kind.DATE: Type.DATE, Kind.BOOL: Type.BOOL}

RESERVED_CODES = {"unqualified"}
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]{0,15}$")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
#: A rules file bigger than this is refused before it is parsed (the default is about 6 kB).
MAX_RULES_BYTES = 1_000_000
_SETTINGS = ("THRESHOLDS", "COLUMNS", "REQUIRED", "METRICS", "STAGES", "CATEGORIES", "LABELS")
#: what a LABELS entry may hold: a label per language, and a unit
_LABEL_KEYS = ("en", "ru", "unit")


@dataclass(frozen=True)
class Metric:
    name: str
    node: Node
    type: Type
    text: str
    line: int | None = None


@dataclass(frozen=True)
class Category:
    code: str
    title: str
    node: Node
    text: str
    strategy: str = ""
    colour: str = ""
    line: int | None = None


@dataclass
class RuleSet:
    path: str
    thresholds: dict[str, float | str]
    columns: dict[str, Kind]  # extra columns the business declared
    required: list[str]
    metrics: list[Metric]
    stages: list[Category]
    categories: list[Category]
    names: dict[str, Type] = field(default_factory=dict)
    #: LABELS: name (column, metric, threshold, stage) -> {"en": ..., "ru": ..., "unit": ...}
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    #: the words of each language, built once (:func:`sheets_sync.rules.words.words_for`)
    words_cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def codes(self) -> list[str]:
        return [c.code for c in self.categories]

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def describe(self) -> list[str]:
        """One line per category: code, title, condition (for ``check`` and the Legend)."""
        return [f"{c.code:>4}  {c.title}: {to_text(c.node)}" for c in self.categories]


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a rules file; raise :class:`RulesError` naming what to fix."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_RULES_BYTES:
            raise RulesError(f"the rules file is {size / 1e6:,.1f} MB, over the "
                             f"{MAX_RULES_BYTES // 1000:,} kB a rules file may have (the default "
                             "is about 6 kB): is it the right file?", path=str(path))
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError("the rules file does not exist (run `sheets-sync demo` for an example)",
                         path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"cannot read the rules file: {exc}", path=str(path)) from exc
    return parse_rules(source, str(path))


def parse_rules(source: str, path: str = "rules.py") -> RuleSet:
    if len(source) > MAX_RULES_BYTES:
        raise RulesError(f"the rules text has {len(source):,} characters, over the "
                         f"{MAX_RULES_BYTES:,} allowed", path=path)
    try:
        module = ast.parse(source, filename=path)
    except SyntaxError as exc:
        raise RulesError(f"bad Python syntax: {exc.msg}", path=path, line=exc.lineno) from None
    except (RecursionError, MemoryError):
        raise RulesError("the rules file nests lists or dicts too deeply to read", path=path) \
            from None
    values: dict[str, tuple[ast.expr, int]] = {}
    for stmt in module.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if len(targets) == 1 and isinstance(targets[0], ast.Name) and stmt.value is not None:
                name = targets[0].id
                if name not in _SETTINGS:
                    raise RulesError(f"unknown setting {name!r} (known: {', '.join(_SETTINGS)})",
                                     path=path, line=stmt.lineno)
                if name in values:
                    raise RulesError(f"{name} is assigned twice (first on line "
                                     f"{values[name][1]}); keep one", path=path, line=stmt.lineno)
                values[name] = (stmt.value, stmt.lineno)
                continue
        raise RulesError(
            "only assignments of literal values (THRESHOLDS = {...}, CATEGORIES = [...]) are "
            "allowed; the rules file is read, never run", path=path, line=stmt.lineno)
    return _Reader(path, values).read()


class _Reader:
    def __init__(self, path: str, values: dict[str, tuple[ast.expr, int]]) -> None:
        self.path, self.values = path, values

    def fail(self, message: str, line: int | None, code: str | None = None) -> RulesError:
        return RulesError(message, path=self.path, line=line, code=code)

    def literal(self, name: str, default: Any) -> tuple[Any, ast.expr | None]:
        if name not in self.values:
            return default, None
        node, line = self.values[name]
        self.no_duplicate_keys(name, node)
        try:
            return ast.literal_eval(node), node
        except (ValueError, TypeError, SyntaxError):
            raise self.fail(f"{name} must hold only literal values (strings, numbers, lists, "
                            "dicts); no names or calls", line) from None
        except (RecursionError, MemoryError):
            raise self.fail(f"{name} nests too deeply to read", line) from None

    def no_duplicate_keys(self, name: str, node: ast.expr) -> None:
        """A key written twice in a dict (ast.literal_eval would silently keep the last)."""
        for d in ast.walk(node):
            if not isinstance(d, ast.Dict):
                continue
            seen: dict[object, int] = {}
            for key in d.keys:
                if not isinstance(key, ast.Constant):
                    continue
                try:
                    first = seen.get(key.value)
                except TypeError:
                    continue
                if first is not None:
                    raise self.fail(f"{name}: key {key.value!r} is written twice (first on line "
                                    f"{first}); keep one", key.lineno)
                seen[key.value] = key.lineno

    def read(self) -> RuleSet:
        thresholds, th_node = self.literal("THRESHOLDS", {})
        if not isinstance(thresholds, dict):
            raise self.fail("THRESHOLDS must be a dict of name: number", _line(th_node))
        for name, value in thresholds.items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise self.fail(f"threshold name {name!r} must be a lower-case identifier",
                                _line(th_node))
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise self.fail(f"threshold {name!r} must be a number or a string, not "
                                f"{_clip(value)}", _line(th_node))
            why = check_number(value)
            if why:
                raise self.fail(f"threshold {name!r}: {why}", _key_lines(th_node).get(
                    name, _line(th_node)))
        columns = self.read_columns()
        from ..orders.columns import ORDER_COLUMNS

        # the deals' columns (revenue_12m, xyz, rfm...) may be used like any column
        names: dict[str, Type] = {c: KIND_TYPES[k]
                                  for c, k in {**COLUMNS, **ORDER_COLUMNS, **columns}.items()}
        names.update(dict.fromkeys(BUILTIN_METRICS, Type.NUMBER))
        clash = set(thresholds) & set(names)
        if clash:
            raise self.fail(f"threshold {sorted(clash)[0]!r} has the name of a column",
                            _line(th_node))
        stages = self.read_classes("STAGES", names, thresholds, codes_are_names=True)
        names["stage"] = Type.TEXT
        metrics = self.read_metrics(names, thresholds)
        categories = self.read_classes("CATEGORIES", names, thresholds)
        if not categories:
            raise self.fail("CATEGORIES is missing or empty: declare at least one category",
                            None)
        required, req_node = self.literal("REQUIRED", [])
        if not isinstance(required, list | tuple) or not all(isinstance(r, str) for r in required):
            raise self.fail("REQUIRED must be a list of column names", _line(req_node))
        for r in required:
            if r not in names:
                raise self.fail(f"REQUIRED names unknown column {r!r}", _line(req_node))
        # a deals' column the rules use is a column of theirs (blank without an [orders]
        # source, filled from a company field where [fields] maps one); the others are not
        used = _columns_used([*(s.node for s in stages), *(m.node for m in metrics),
                              *(c.node for c in categories)]) | set(required)
        for name, kind in ORDER_COLUMNS.items():
            if name in columns:
                continue
            if name in used:
                columns[name] = kind
            else:
                names.pop(name, None)
        labels = self.read_labels(set(names) | set(thresholds) | {s.code for s in stages})
        return RuleSet(self.path, thresholds, columns, list(required), metrics, stages,
                       categories, names, labels)

    def read_labels(self, known: set[str]) -> dict[str, dict[str, str]]:
        """LABELS = {"roi_pct": {"en": "ROI", "ru": "рентабельность", "unit": "%"}, ...}"""
        labels, node = self.literal("LABELS", {})
        if not isinstance(labels, dict):
            raise self.fail('LABELS must be a dict of name: {"en": "...", "ru": "..."}', _line(node))
        lines = _key_lines(node)
        out: dict[str, dict[str, str]] = {}
        for name, entry in labels.items():
            line = lines.get(name, _line(node))
            if name not in known:
                from ..config import did_you_mean

                raise self.fail(f"LABELS: {name!r} is not a column, metric, threshold or stage"
                                f"{did_you_mean(name, known)}", line)
            if not isinstance(entry, dict) or not entry:
                raise self.fail(f'LABELS: {name!r} must be a dict like {{"en": "ROI", "ru": '
                                f'"рентабельность", "unit": "%"}}', line)
            for key, value in entry.items():
                if key not in _LABEL_KEYS:
                    raise self.fail(f"LABELS: {name!r} has unknown key {key!r} (use "
                                    f"{', '.join(_LABEL_KEYS)})", line)
                if not isinstance(value, str) or not value.strip():
                    raise self.fail(f"LABELS: {name!r} {key} must be text in quotes", line)
            out[name] = {k: v.strip() for k, v in entry.items()}
        return out

    def read_columns(self) -> dict[str, Kind]:
        columns, node = self.literal("COLUMNS", {})
        if not isinstance(columns, dict):
            raise self.fail("COLUMNS must be a dict of column name: kind", _line(node))
        out: dict[str, Kind] = {}
        for name, kind in columns.items():
            if not isinstance(name, str) or not _NAME.match(name) or name in COLUMNS:
                raise self.fail(f"COLUMNS: {name!r} must be a new lower-case column name",
                                _line(node))
            try:
                out[name] = Kind(kind)
            except ValueError:
                kinds = ", ".join(k.value for k in Kind)
                raise self.fail(f"COLUMNS: kind {kind!r} of {name!r} is not one of {kinds}",
                                _line(node)) from None
        return out

    def read_metrics(self, names: dict[str, Type], thresholds: dict) -> list[Metric]:
        metrics, node = self.literal("METRICS", {})
        if not isinstance(metrics, dict):
            raise self.fail("METRICS must be a dict of name: expression", _line(node))
        lines = _key_lines(node)
        out = []
        for name, text in metrics.items():
            line = lines.get(name, _line(node))
            if not isinstance(name, str) or not _NAME.match(name):
                raise self.fail(f"metric name {name!r} must be a lower-case identifier", line)
            if name in names or name in thresholds:
                raise self.fail(f"metric {name!r} has the name of a column or threshold", line)
            try:
                expr = parse(text, names, thresholds, want=None)
                from .expr import type_of

                kind = type_of(expr, names)
            except ExprError as exc:
                raise self.fail(f"metric {name!r}: {exc}", line) from None
            names[name] = kind
            out.append(Metric(name, expr, kind, text, line))
        return out

    def read_classes(self, setting: str, names: dict[str, Type], thresholds: dict,
                     codes_are_names: bool = False) -> list[Category]:
        items, node = self.literal(setting, [])
        if not isinstance(items, list | tuple):
            raise self.fail(f"{setting} must be a list of dicts", _line(node))
        elements = node.elts if isinstance(node, ast.List | ast.Tuple) else []
        out: list[Category] = []
        seen: dict[str, int | None] = {}
        for index, item in enumerate(items):
            line = elements[index].lineno if index < len(elements) else _line(node)
            if not isinstance(item, dict):
                raise self.fail(f"{setting}[{index}] must be a dict with code, title, when", line)
            code = item.get("code")
            unknown = set(item) - {"code", "title", "when", "strategy", "colour", "color"}
            if unknown:
                raise self.fail(f"unknown key {sorted(unknown)[0]!r} (use code, title, when, "
                                "strategy, colour)", line, code if isinstance(code, str) else None)
            pattern = _NAME if codes_are_names else _CODE
            if not isinstance(code, str) or not pattern.match(code) or code in RESERVED_CODES:
                raise self.fail(f"{setting}[{index}]: code {code!r} must be a short name of "
                                "letters and digits (e.g. 'A', 'AA', 'E')", line)
            if code in seen:
                raise self.fail(f"duplicate code {code!r} (first declared on line {seen[code]})",
                                line, code)
            seen[code] = line
            when = item.get("when")
            if when is None:
                raise self.fail("missing 'when' (the condition; use 'true' for a catch-all)",
                                line, code)
            when_line = _value_line(elements[index], "when") if index < len(elements) else line
            try:
                expr = parse(when, names, thresholds)
            except ExprError as exc:
                raise self.fail(f"condition {when!r}: {exc}", when_line, code) from None
            colour = item.get("colour", item.get("color", ""))
            if colour and (not isinstance(colour, str) or not _COLOUR.match(colour)):
                raise self.fail(f"colour {colour!r} must be like '#C6EFCE'", line, code)
            title = item.get("title", code)
            strategy = item.get("strategy", "")
            if not isinstance(title, str) or not isinstance(strategy, str):
                raise self.fail("title and strategy must be text", line, code)
            out.append(Category(code, title, expr, when, strategy, colour.upper(), when_line))
        return out


def _columns_used(nodes: list[Node]) -> set[str]:
    """Names of the columns the expressions read."""
    import dataclasses

    from .expr import Col

    out: set[str] = set()
    todo: list[Any] = list(nodes)
    while todo:
        node = todo.pop()
        if isinstance(node, Col):
            out.add(node.name)
        elif isinstance(node, tuple | list):
            todo.extend(node)
        elif dataclasses.is_dataclass(node):
            todo.extend(getattr(node, f.name) for f in dataclasses.fields(node))
    return out


def _clip(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _line(node: ast.AST | None) -> int | None:
    return getattr(node, "lineno", None)


def _key_lines(node: ast.expr | None) -> dict[str, int]:
    if not isinstance(node, ast.Dict):
        return {}
    return {k.value: v.lineno for k, v in zip(node.keys, node.values, strict=True)
            if isinstance(k, ast.Constant) and isinstance(k.value, str)}


def _value_line(node: ast.expr, key: str) -> int | None:
    return _key_lines(node).get(key, getattr(node, "lineno", None))
