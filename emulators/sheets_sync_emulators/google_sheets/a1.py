"""A1 notation: parsing requested ranges and echoing them the way Google does.

Google echoes ranges as ``Sheet1!A1:D4`` (title unquoted when it is a plain
identifier) or ``'My sheet'!A1:D4`` (quoted when it has spaces or punctuation, or
when the title itself looks like a cell reference such as ``D3``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CELL_RE = re.compile(r"^\$?([A-Za-z]{0,3})\$?(\d*)$")
_PLAIN_TITLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CELL_LIKE_RE = re.compile(r"^[A-Za-z]{1,3}\d+$")
_R1C1_LIKE_RE = re.compile(r"^[Rr]\d*[Cc]\d*$")


class A1Error(ValueError):
    """The text is not a range this emulator can parse."""


def col_to_letters(col: int) -> str:
    """0-based column index to letters (0 -> A, 26 -> AA)."""
    letters = ""
    n = col + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def letters_to_col(letters: str) -> int:
    """Letters to a 0-based column index (A -> 0)."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def quote_title(title: str) -> str:
    """Quote a sheet title the way Google does in echoed ranges."""
    if (
        _PLAIN_TITLE_RE.match(title)
        and not _CELL_LIKE_RE.match(title)
        and not _R1C1_LIKE_RE.match(title)
        and title.upper() not in {"TRUE", "FALSE"}
    ):
        return title
    return "'" + title.replace("'", "''") + "'"


def split_sheet(text: str) -> tuple[str | None, str]:
    """Split ``'Sheet 1'!A1:B2`` into (title, "A1:B2"); title None when absent.

    A text without ``!`` is either a sheet title or a bare range; the caller decides.
    """
    text = text.strip()
    if text.startswith("'"):
        i = 1
        out = []
        while i < len(text):
            ch = text[i]
            if ch == "'":
                if i + 1 < len(text) and text[i + 1] == "'":
                    out.append("'")
                    i += 2
                    continue
                rest = text[i + 1 :]
                if rest == "":
                    return "".join(out), ""
                if rest.startswith("!"):
                    return "".join(out), rest[1:]
                raise A1Error(text)
            out.append(ch)
            i += 1
        raise A1Error(text)
    if "!" in text:
        title, _, rest = text.rpartition("!")
        return title, rest
    return None, text


@dataclass
class GridRange:
    """Half-open 0-based bounds; None means unbounded on that side."""

    start_row: int | None
    end_row: int | None
    start_col: int | None
    end_col: int | None

    def clamp(self, rows: int, cols: int) -> tuple[int, int, int, int]:
        """Concrete bounds within a grid of rows x cols."""
        sr = self.start_row if self.start_row is not None else 0
        er = self.end_row if self.end_row is not None else rows
        sc = self.start_col if self.start_col is not None else 0
        ec = self.end_col if self.end_col is not None else cols
        return sr, er, sc, ec


def parse_cells(ref: str) -> GridRange:
    """Parse ``A1``, ``A1:B2``, ``A:A``, ``1:1``, ``A2:2``, ``B1:B``; reversed corners are fixed."""
    ref = ref.strip()
    if ref == "":
        return GridRange(None, None, None, None)
    parts = ref.split(":")
    if len(parts) > 2:
        raise A1Error(ref)
    cells = []
    for part in parts:
        m = _CELL_RE.match(part)
        if not m or (m.group(1) == "" and m.group(2) == ""):
            raise A1Error(ref)
        col = letters_to_col(m.group(1)) if m.group(1) else None
        row = int(m.group(2)) - 1 if m.group(2) else None
        if row is not None and row < 0:
            raise A1Error(ref)
        cells.append((row, col))
    if len(cells) == 1:
        row, col = cells[0]
        if row is None or col is None:
            raise A1Error(ref)
        return GridRange(row, row + 1, col, col + 1)
    (r1, c1), (r2, c2) = cells
    if r1 is not None and r2 is not None and r1 > r2:
        r1, r2 = r2, r1
    if c1 is not None and c2 is not None and c1 > c2:
        c1, c2 = c2, c1
    # "A1:B" -> rows from 1 to the end; "A:B" -> all rows; "1:2" -> all columns.
    start_row = r1 if r1 is not None else (0 if r2 is not None else None)
    end_row = r2 + 1 if r2 is not None else None
    start_col = c1 if c1 is not None else (0 if c2 is not None else None)
    end_col = c2 + 1 if c2 is not None else None
    if r1 is not None and r2 is None:
        start_row = r1
    if c1 is not None and c2 is None:
        start_col = c1
    return GridRange(start_row, end_row, start_col, end_col)


def format_cells(sr: int, er: int, sc: int, ec: int) -> str:
    """Concrete bounds to ``A1`` or ``A1:B2`` (a single cell collapses)."""
    first = f"{col_to_letters(sc)}{sr + 1}"
    if er - sr == 1 and ec - sc == 1:
        return first
    return f"{first}:{col_to_letters(ec - 1)}{er}"


def format_range(title: str, sr: int, er: int, sc: int, ec: int) -> str:
    """``Sheet1!A1:D4`` with Google's quoting of the title."""
    return f"{quote_title(title)}!{format_cells(sr, er, sc, ec)}"
