"""The layout of the Clients, History and Legend tabs, and reading a Clients grid back.

Columns belong to someone: CRM columns are overwritten from the CRM, computed columns are
ours, owner columns (manual category, notes) are never overwritten. Headers are matched by
name (case and spacing do not matter), never by position; columns the owner adds are theirs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .i18n import N_, NC_, _, all_languages, pgettext, translate, translations
from .parsing import id_text
from .rules.loader import RuleSet
from .sheets.base import ColumnSpec, Grid, Layout
from .table import COLUMNS, Kind, header_key

CRM_ORDER = ["id", "name", "revenue", "costs", "orders_12m", "first_order", "last_order",
             "overdue_days", "referrals", "potential", "nps", "blacklisted"]
COMPUTED_NOTE = N_("Computed by sheets-sync: overwritten at every sync. Set manual_category instead.")
CRM_NOTE = N_("From the CRM: overwritten at every sync. Edit the value in the CRM.")

COMPUTED: dict[str, tuple[str, str]] = {
    "category": ("text", N_("The category in force: your manual category if set, else the rules'.")),
    "rule_category": ("text", N_("What the rules say.")),
    "stage": ("text", N_("The step of the loyalty ladder (the stages are on the Legend).")),
    "reason": ("text", N_("Why the rules chose this category.")),
    "profit": ("money", N_("revenue − costs")),
    "roi_pct": ("percent", N_("profit ÷ costs × 100 (blank when costs are not above 0)")),
    "problems": ("text", N_("Values that could not be read; the client is unqualified until fixed.")),
    "changed_at": ("date", N_("When the category last changed.")),
    "crm_status": ("text", N_("Empty while the client is in the CRM; marked when it is gone.")),
}
OWNER: dict[str, str] = {
    "manual_category": N_("Yours: set a code to override the rules (it is written to the CRM)."),
    "notes": N_("Yours: never overwritten."),
}
#: the headers of our columns: the column's name in English, the catalog's word in another
#: language (``pgettext("header", name)``); listed here so that Babel extracts them
HEADERS = (
    NC_("header", "id"), NC_("header", "name"), NC_("header", "revenue"), NC_("header", "costs"),
    NC_("header", "orders_12m"), NC_("header", "first_order"), NC_("header", "last_order"),
    NC_("header", "overdue_days"), NC_("header", "referrals"), NC_("header", "potential"),
    NC_("header", "nps"), NC_("header", "blacklisted"), NC_("header", "manual_category"),
    NC_("header", "notes"), NC_("header", "category"), NC_("header", "rule_category"),
    NC_("header", "stage"), NC_("header", "reason"), NC_("header", "profit"), NC_("header", "roi_pct"),
    NC_("header", "problems"), NC_("header", "changed_at"), NC_("header", "crm_status"),
    # History and Legend
    NC_("header", "from"), NC_("header", "to"), NC_("header", "source"), NC_("header", "seq"),
    NC_("header", "code"), NC_("header", "title"), NC_("header", "condition"), NC_("header", "rule"),
    NC_("header", "strategy"), NC_("header", "colour"),
)
HISTORY_COLUMNS = ["changed_at", "id", "name", "from", "to", "source", "reason", "seq"]
HISTORY_HEADER = HISTORY_COLUMNS  # (the English header; :func:`history_header` in the language)
LEGEND_COLUMNS = ["code", "title", "condition", "strategy", "colour", "rule"]
#: the words of the History tab's ``source`` column
SOURCES = {"rule": N_("rule"), "manual": N_("manual"), "sheet edit replaced": N_("sheet edit replaced")}


def header(name: str) -> str:
    """The header of our column ``name`` in the language in force."""
    return pgettext("header", name) if name in HEADERS else name


def known_headers(name: str, languages: Sequence[str] | None = None) -> list[str]:
    """The headers our column ``name`` has in ``languages`` (default: every one), its name first."""
    if name not in HEADERS:
        return [name]
    if languages is None:
        return [name, *all_languages(name, "header")]
    return list(dict.fromkeys([name, *(translations(lang).pgettext("header", name) for lang in languages)]))


def history_header() -> list[str]:
    return [header(c) for c in HISTORY_COLUMNS]


def clients_columns(crm_columns: Sequence[str], headers: Mapping[str, str],
                    extra: Mapping[str, Kind] | None = None) -> list[ColumnSpec]:
    """Our columns in the order a new Clients tab gets them, with headers and notes in the
    language in force (``headers``, the config's ``[sheet.headers]``, win)."""
    kinds = {**COLUMNS, **(extra or {})}

    def spec(name: str, role: str, kind: str, note: str) -> ColumnSpec:
        return ColumnSpec(name, headers.get(name, header(name)), role, kind, note)

    crm_note = translate(CRM_NOTE)
    crm = [c for c in CRM_ORDER if c in crm_columns] + \
          [c for c in crm_columns if c not in CRM_ORDER]
    cols = [spec(c, "crm", _kind(kinds.get(c, Kind.TEXT)), crm_note) for c in crm[:2]]
    cols.append(spec("category", "computed", "text", translate(COMPUTED["category"][1]) + " " +
                     translate(COMPUTED_NOTE)))
    cols.append(spec("manual_category", "owner", "text", translate(OWNER["manual_category"])))
    for name in ("rule_category", "stage", "reason"):
        cols.append(spec(name, "computed", COMPUTED[name][0], translate(COMPUTED[name][1])))
    cols.append(spec("notes", "owner", "text", translate(OWNER["notes"])))
    cols += [spec(c, "crm", _kind(kinds.get(c, Kind.TEXT)), crm_note) for c in crm[2:]]
    for name in ("profit", "roi_pct", "problems", "changed_at", "crm_status"):
        cols.append(spec(name, "computed", COMPUTED[name][0], translate(COMPUTED[name][1])))
    return cols


def _kind(kind: Kind) -> str:
    return "text" if kind is Kind.TEXT else kind.value


def legend_rows(rules: RuleSet) -> list[list[str]]:
    """The Legend tab: each category and stage with its condition in words (as the reasons say
    it) and as written in the rules file (``rule``: text the rules file accepts)."""
    from .rules.words import describe

    head = [header(c) for c in LEGEND_COLUMNS]
    rows = [head] + [[c.code, c.title, describe(c.node, rules), c.strategy, c.colour, c.text]
                     for c in rules.categories]
    rows += [[], [header("stage"), head[1], head[2], head[3], "", head[5]]]
    rows += [[s.code, s.title, describe(s.node, rules), s.strategy, "", s.text] for s in rules.stages]
    return rows


def build_layout(columns: Sequence[ColumnSpec], rules: RuleSet) -> Layout:
    return Layout(columns, {c.code: c.colour for c in rules.categories if c.colour},
                  dropdown={"manual_category": rules.codes}, legend=legend_rows(rules))


@dataclass
class SheetProblem:
    row: int  # 1-based, as the owner sees it
    column: str
    value: object
    why: str

    def __str__(self) -> str:
        return _("row {row}, column {column!r}: {value!r} {why}").format(
            row=self.row, column=self.column, value=self.value, why=self.why)


@dataclass
class ClientsGrid:
    """A Clients tab as read: where its header row and our columns are, which row holds which
    client, and what is wrong with it."""

    header: list[str]
    positions: dict[str, int]  # our column name -> 0-based column
    rows: dict[str, int]  # client id -> 0-based row in the grid (ids found in one row only)
    grid: Grid
    problems: list[SheetProblem] = field(default_factory=list)
    header_row: int = 0  # 0-based; rows above it (a title, say) belong to the owner
    #: the tab holds values but no row within the first HEADER_SCAN rows has our id header
    headerless: bool = False
    #: client id -> every 0-based row holding it, for ids found in more than one row
    duplicates: dict[str, list[int]] = field(default_factory=dict)

    def value(self, client_id: str, column: str) -> Any:
        col = self.positions.get(column)
        row = self.rows.get(client_id)
        if col is None or row is None:
            return None
        line = self.grid[row]
        return line[col] if col < len(line) else None

    @property
    def empty(self) -> bool:
        return not self.header and not self.headerless


def unknown_codes(sheet: ClientsGrid, codes: list[str]) -> list[SheetProblem]:
    """Manual categories in the sheet that are no code of the rules, even read forgivingly
    (trimmed, any case, Cyrillic look-alikes as Latin): the row and the value of each."""
    from .categorize import manual_code

    col = sheet.positions.get("manual_category")
    if col is None:
        return []
    rows = sorted({*sheet.rows.values(), *(r for found in sheet.duplicates.values() for r in found)})
    out = []
    for r in rows:
        line = sheet.grid[r]
        value = line[col] if col < len(line) else None
        if value is None or not str(value).strip() or manual_code(value, codes) is not None:
            continue
        out.append(SheetProblem(r + 1, sheet.header[col], value, _(
            "is not a category code (use one of {codes}); ignored, the rules decide").format(
                codes=", ".join(codes))))
    return out


HEADER_SCAN = 10  # rows searched for the header row (owners put a title or two above it)


def _blank(line: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in line)


def _match_header(line: Sequence[Any], wanted: Mapping[str, str], by_alias: Mapping[str, str]) -> dict[str, int]:
    """Our columns in a header row: by our headers first; an alias (a header an owner gave one
    of ours) only for a column not found under its own."""
    keys = [header_key("" if h is None else str(h)) for h in line]
    positions: dict[str, int] = {}
    for i, key in enumerate(keys):
        name = wanted.get(key)
        if name is not None and name not in positions:
            positions[name] = i
    taken = set(positions.values())
    for i, key in enumerate(keys):
        name = by_alias.get(key)
        if name is not None and name not in positions and i not in taken:
            positions[name] = i
            taken.add(i)
    return positions


def read_clients(grid: Grid | None, columns: Sequence[ColumnSpec],
                 aliases: Mapping[str, str] | None = None, was: str = "") -> ClientsGrid:
    """Find the header row (within the first rows), our columns by header name (or by an
    alias recorded when an owner renamed one of ours), and each client's row by id. ``was``:
    the language the sheet was last written in, when another: our columns are recognised under
    its headers too (and relabelled when written)."""
    if not grid or all(_blank(line) for line in grid):
        return ClientsGrid([], {}, {}, list(grid or []))
    wanted: dict[str, str] = {}
    for spec in columns:
        wanted.setdefault(header_key(spec.header), spec.name)
    for spec in columns:  # under its header in the sheet's former language (relabelled when written)
        for text in known_headers(spec.name, [was] if was else []):
            wanted.setdefault(header_key(text), spec.name)
    by_alias = {header_key(alias): name for name, alias in (aliases or {}).items()}
    best: tuple[int, int, dict[str, int]] | None = None  # (matches, row, positions)
    for r, line in enumerate(grid[:HEADER_SCAN]):
        found = _match_header(line, wanted, by_alias)
        if "id" in found and len(found) >= 2 and (best is None or len(found) > best[0]):
            best = (len(found), r, found)
    if best is None:
        return ClientsGrid([], {}, {}, grid, headerless=True)
    _, hr, positions = best
    header = ["" if h is None else str(h) for h in grid[hr]]
    out = ClientsGrid(header, positions, {}, grid, header_row=hr)
    id_col = positions["id"]
    seen: dict[str, list[int]] = {}
    for r in range(hr + 1, len(grid)):
        line = grid[r]
        raw = line[id_col] if id_col < len(line) else None
        cid = id_text(raw)
        if not cid:
            if not _blank(line):
                out.problems.append(SheetProblem(r + 1, header[id_col], raw,
                                                 "is blank: a row needs an id; row ignored"))
            continue
        seen.setdefault(cid, []).append(r)
    for cid, found in seen.items():
        if len(found) == 1:
            out.rows[cid] = found[0]
            continue
        out.duplicates[cid] = found
        where = ", ".join(str(r + 1) for r in found)
        out.problems.append(SheetProblem(
            found[1] + 1, header[id_col], cid,
            f"is in rows {where}: delete the copies. Until then these rows are not updated and "
            "their manual category and notes are not used (the last ones sheets-sync saw are)"))
    return out


_PLAIN = frozenset({str, int, float, bool, date, datetime, type(None)})
_NUMBERS = frozenset({int, float})


def same(a: Any, b: Any) -> bool:
    """Whether a sheet value and a wanted value show the same thing."""
    ta, tb = type(a), type(b)
    if (ta is tb and ta in _PLAIN or ta in _NUMBERS and tb in _NUMBERS) and a == b:
        return True  # the common case (equal plain values, 12 read back for 12.0), answered early
    a, b = _norm(a), _norm(b)
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b


def _norm(v: Any) -> Any:
    if v is None or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, str):
        return v if v.strip() else None
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, datetime):
        return v.date() if v.time() == datetime.min.time() else v
    if isinstance(v, date):
        return v
    return v


def snapshot_text(v: Any) -> str:
    """A value as stored in the state snapshot."""
    if type(v) is float and v == v:  # the common cases, answered early
        return repr(v)
    if type(v) is str:
        return v if v.strip() else ""
    v = _norm(v)
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, date):
        return v.isoformat()
    return str(v)
