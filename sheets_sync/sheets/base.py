"""The sheet interface: read every tab we need at once, write one batch of changes.

A backend (``workbook.py`` for a local .xlsx, ``google.py`` for a Google Sheet) answers two
calls. :meth:`SheetBackend.read` returns the values of the named tabs as grids (row 0 is the
header row; ``None`` for a missing tab). :meth:`SheetBackend.write` applies a
:class:`WriteBatch`: header cells to add, changed cells, rows to append, and the layout
(formats, colours, dropdowns) when a tab is new or the rules changed. Before writing, the
backend checks the ``guard``: the header row as read and the id expected in each row it
updates; if the sheet changed under us it raises
:class:`~sheets_sync.errors.ConcurrentEditError` and writes nothing, and the sync pass
re-reads and re-plans (:mod:`sheets_sync.sheets.guard` has the checks and, for a change that
slips in while writing, the repair).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..serials import DateCells

Grid = list[list[Any]]


@dataclass(frozen=True)
class ColumnSpec:
    """One column of our layout: who owns it and how its values look."""

    name: str
    header: str
    role: str  # "crm" | "computed" | "owner"
    kind: str = "text"  # text | money | number | count | date | percent | bool
    note: str = ""


@dataclass(frozen=True)
class Layout:
    columns: Sequence[ColumnSpec]
    colours: Mapping[str, str]  # category code -> "#RRGGBB"
    coloured: Sequence[str] = ("category", "rule_category")
    dropdown: Mapping[str, Sequence[str]] = field(default_factory=dict)  # column -> codes
    legend: Sequence[Sequence[str]] = ()  # rows of the Legend tab (header first)


@dataclass
class TabWrite:
    """Changes to one tab. Rows and columns are 0-based positions in the grid as read
    (row 0 is the header); ``appends`` go after the last row."""

    tab: str
    header: list[str]
    created: bool = False
    new_columns: list[int] = field(default_factory=list)
    updates: list[tuple[int, int, Any]] = field(default_factory=list)
    appends: list[list[Any]] = field(default_factory=list)
    guard_col: int | None = None
    guard: dict[int, str] = field(default_factory=dict)
    #: the header row (0-based) and its cells as read; with ``guard_col`` the backend checks
    #: them before and after writing (see :mod:`sheets_sync.sheets.guard`)
    header_row: int = 0
    read_header: list[str] | None = None
    #: our column name -> its position in ``header`` (a renamed owner column keeps the owner's
    #: header, so headers cannot be looked up by our names)
    columns: dict[str, int] = field(default_factory=dict)
    kinds: dict[int, str] = field(default_factory=dict)  # column -> value kind for formats
    layout: Layout | None = None
    #: a bar chart to add when the tab has none: title, labels_col, values_col, first_row, last_row
    chart: dict[str, Any] | None = None
    #: live formulas: column -> template ("\x00" stands for the 1-based row), written into
    #: ``formula_rows`` (0-based rows) and into every appended row
    formula_templates: dict[int, str] = field(default_factory=dict)
    formula_rows: list[int] = field(default_factory=list)
    #: defined names on this tab: name -> (row, column), 0-based
    names: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: header cells of our columns relabelled in place (another language): column -> new header;
    #: the cells are among ``updates`` too, and the guard accepts either header there
    relabels: dict[int, str] = field(default_factory=dict)
    #: cell notes (the reason on each category cell) where a backend has them (Google): (row,
    #: column, text) of rows as read, and for appended rows (note column, the column whose value
    #: is the note)
    notes: list[tuple[int, int, str]] = field(default_factory=list)
    append_notes: tuple[int, int] | None = None
    #: our computed columns: a backend that can, protects them with a warning to owners
    protect: list[int] = field(default_factory=list)
    #: column widths (in characters) for a new tab
    widths: dict[int, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.created or self.new_columns or self.updates or self.appends
                    or self.layout or self.formula_rows or self.names)

    @property
    def cells(self) -> int:
        return len(self.updates) + sum(len(r) for r in self.appends) + len(self.new_columns)


@dataclass
class WriteBatch:
    tabs: list[TabWrite] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return all(t.empty for t in self.tabs)


class SheetBackend(Protocol):
    #: where the sheet is, for messages (a path or a spreadsheet title; never a secret)
    where: str

    def read(self, tabs: Sequence[str], dates: Mapping[str, DateCells] | None = None,
             head: Mapping[str, int] | None = None) -> dict[str, Grid | None]:
        """Every value of ``tabs`` (``None`` for a tab that does not exist); dates as ``date``
        or ``datetime``: a backend whose cells hold no types (Google's serial numbers) types the
        cells ``dates`` names (tab -> where its dates are). A tab named in ``head`` may be read
        only as far as its first ``head[tab]`` rows (a backend may return more)."""
        ...

    def write(self, batch: WriteBatch) -> None: ...
