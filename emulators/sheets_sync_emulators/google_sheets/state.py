"""In-memory state of the emulator: spreadsheets, sheets, cells, metadata, auth (and the core's
faults, log and clock).

Everything a test may want to poke at directly lives on :class:`EmulatorState`:
``state.create_spreadsheet()``, ``state.faults``, ``state.request_log``,
``state.before_next_write``, ``state.register_service_account()``, ``state.reset()``.
All mutation happens under ``state.lock`` (the HTTP handlers take it per request).
"""

from __future__ import annotations

import datetime as _dt
import random
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.clock import Clock, monotonic
from ..core.faults import Faults
from ..core.limits import SlidingWindow
from ..core.messages import RequestLog
from . import a1, formulas
from .errors import CELL_LIMIT, CELL_LIMIT_MESSAGE, ApiError, bad_request
from .values import (
    Cell,
    as_json_number,
    format_with_pattern,
    general_number,
    is_date_format,
)

SPREADSHEET_MIME = "application/vnd.google-apps.spreadsheet"

DEFAULT_FORMAT: dict[str, Any] = {
    "backgroundColor": {"red": 1, "green": 1, "blue": 1},
    "padding": {"top": 2, "right": 3, "bottom": 2, "left": 3},
    "verticalAlignment": "BOTTOM",
    "wrapStrategy": "OVERFLOW_CELL",
    "textFormat": {
        "foregroundColor": {},
        "fontFamily": "arial,sans,sans-serif",
        "fontSize": 10,
        "bold": False,
        "italic": False,
        "strikethrough": False,
        "underline": False,
        "foregroundColorStyle": {"rgbColor": {}},
    },
    "backgroundColorStyle": {"rgbColor": {"red": 1, "green": 1, "blue": 1}},
}


def _theme_color(kind: str, r: float, g: float, b: float) -> dict[str, Any]:
    rgb = {k: v for k, v in (("red", r), ("green", g), ("blue", b)) if v}
    return {"colorType": kind, "color": {"rgbColor": rgb}}


DEFAULT_THEME: dict[str, Any] = {
    "primaryFontFamily": "Arial",
    "themeColors": [
        _theme_color("TEXT", 0, 0, 0),
        _theme_color("BACKGROUND", 1, 1, 1),
        _theme_color("ACCENT1", 0.25882354, 0.52156866, 0.95686275),
        _theme_color("ACCENT2", 0.91764706, 0.2627451, 0.20784314),
        _theme_color("ACCENT3", 0.9843137, 0.7372549, 0.015686275),
        _theme_color("ACCENT4", 0.20392157, 0.65882355, 0.3254902),
        _theme_color("ACCENT5", 1, 0.42745098, 0.003921569),
        _theme_color("ACCENT6", 0.27450982, 0.7411765, 0.7764706),
        _theme_color("LINK", 0.06666667, 0.33333334, 0.8),
    ],
}

DEFAULT_ROW_PX = 21
DEFAULT_COL_PX = 100


def now_rfc3339() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def deep_copy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: deep_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [deep_copy(v) for v in obj]
    return obj


# ------------------------------------------------------------------------------ sheets


class Sheet:
    """One tab: properties plus a sparse grid ``rows[r][c] -> Cell``."""

    def __init__(self, sheet_id: int, title: str, index: int, rows: int = 1000, cols: int = 26) -> None:
        self.props: dict[str, Any] = {
            "sheetId": sheet_id,
            "title": title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": {"rowCount": rows, "columnCount": cols},
        }
        self.rows: dict[int, dict[int, Cell]] = {}
        self.row_meta: dict[int, dict[str, Any]] = {}
        self.col_meta: dict[int, dict[str, Any]] = {}
        self.merges: list[dict[str, int]] = []
        self.conditional_formats: list[dict[str, Any]] = []
        self.basic_filter: dict[str, Any] | None = None
        self.protected_ranges: list[dict[str, Any]] = []
        self.row_groups: list[dict[str, Any]] = []
        self.column_groups: list[dict[str, Any]] = []
        self.locale = "en_US"
        self.book_ref: Any = None  # weakref to the Spreadsheet (set by formulas.attach)
        # During a batchUpdate: ids of the cells created or copied by it (copy-on-write, so the
        # snapshot taken before the batch keeps the original Cell objects intact).
        self.fresh: set[int] | None = None

    # -- geometry
    @property
    def id(self) -> int:
        return self.props["sheetId"]

    @property
    def title(self) -> str:
        return self.props["title"]

    @property
    def row_count(self) -> int:
        return self.props["gridProperties"]["rowCount"]

    @property
    def col_count(self) -> int:
        return self.props["gridProperties"]["columnCount"]

    def set_size(self, rows: int | None = None, cols: int | None = None) -> None:
        gp = self.props["gridProperties"]
        if rows is not None:
            if rows < 1:
                raise bad_request("Invalid requests: rowCount must be at least 1")
            for r in [r for r in self.rows if r >= rows]:
                del self.rows[r]
            gp["rowCount"] = rows
        if cols is not None:
            if cols < 1:
                raise bad_request("Invalid requests: columnCount must be at least 1")
            for row in self.rows.values():
                for c in [c for c in row if c >= cols]:
                    del row[c]
            gp["columnCount"] = cols

    # -- cells
    def cell(self, r: int, c: int) -> Cell | None:
        row = self.rows.get(r)
        return row.get(c) if row else None

    def cell_for_write(self, r: int, c: int) -> Cell:
        row = self.rows.setdefault(r, {})
        cell = row.get(c)
        if cell is None:
            cell = row[c] = Cell()
            if self.fresh is not None:
                self.fresh.add(id(cell))
        elif self.fresh is not None and id(cell) not in self.fresh:
            cell = row[c] = cell.copy()
            self.fresh.add(id(cell))
        return cell

    def drop_if_blank(self, r: int, c: int) -> None:
        row = self.rows.get(r)
        if row is not None:
            cell = row.get(c)
            if cell is not None and cell.is_blank():
                del row[c]
            if not row:
                del self.rows[r]

    def clear_values(self, sr: int, er: int, sc: int, ec: int) -> None:
        for r in [r for r in self.rows if sr <= r < er]:
            row = self.rows[r]
            for c in [c for c in row if sc <= c < ec]:
                row[c].kind = None
                row[c].value = None
                self.drop_if_blank(r, c)

    def effective(self, r: int, c: int) -> Any:
        """The cell's value (a formula's computed value; an error as its code, ``"#N/A"``)."""
        cell = self.cell(r, c)
        if cell is None or cell.kind is None:
            return None
        if cell.kind != "f":
            return cell.value
        value = formulas.cell_value(self, r, c)
        if isinstance(value, formulas.Err):
            return value.code
        if isinstance(value, float):
            return as_json_number(value)
        return "" if value is None else value

    def render(self, r: int, c: int, value_render: str, date_render: str) -> Any:
        """One value as the values API shows it; None for an empty cell."""
        cell = self.cell(r, c)
        if cell is None or cell.kind is None:
            return None
        if value_render == "FORMULA" and cell.kind == "f":
            return cell.value
        v = self.effective(r, c)
        if v is None:
            return None
        number_format = (cell.fmt or {}).get("numberFormat")
        if isinstance(v, bool):
            return v if value_render != "FORMATTED_VALUE" else ("TRUE" if v else "FALSE")
        if isinstance(v, (int, float)):
            if value_render == "FORMATTED_VALUE" or (
                date_render == "FORMATTED_STRING" and is_date_format(number_format)
            ):
                return self.format_number(v, number_format)
            return as_json_number(v)
        return v

    def format_number(self, v: float, number_format: dict[str, Any] | None) -> str:
        if number_format:
            return format_with_pattern(v, number_format, self.locale)
        return general_number(v, self.locale)

    def last_data_row(self) -> int:
        """1 + index of the last row holding a value (0 when empty)."""
        rows = [r for r, row in self.rows.items() if any(cell.kind is not None for cell in row.values())]
        return max(rows) + 1 if rows else 0

    def grid_range_json(self, sr: int, er: int, sc: int, ec: int) -> dict[str, int]:
        out: dict[str, int] = {}
        if self.id:
            out["sheetId"] = self.id
        out.update(startRowIndex=sr, endRowIndex=er, startColumnIndex=sc, endColumnIndex=ec)
        return out


# -------------------------------------------------------------------------- spreadsheets


class Spreadsheet:
    def __init__(self, spreadsheet_id: str, title: str, owner: str | None) -> None:
        self.id = spreadsheet_id
        self.props: dict[str, Any] = {
            "title": title,
            "locale": "en_US",
            "autoRecalc": "ON_CHANGE",
            "timeZone": "Etc/GMT",
            "defaultFormat": deep_copy(DEFAULT_FORMAT),
            "spreadsheetTheme": deep_copy(DEFAULT_THEME),
        }
        self.sheets: list[Sheet] = []
        self.named_ranges: dict[str, dict[str, Any]] = {}
        self.developer_metadata: dict[int, dict[str, Any]] = {}
        self.owner = owner
        self.permissions: list[dict[str, Any]] = []
        self.created = now_rfc3339()
        self.modified = self.created
        self.mime_type = SPREADSHEET_MIME
        self.parents: list[str] = []
        self.trashed = False
        self.private = False  # exists but shared with nobody: every caller gets 403

    @property
    def title(self) -> str:
        return self.props["title"]

    def touch(self) -> None:
        self.modified = now_rfc3339()

    def sheet_by_id(self, sheet_id: int | None) -> Sheet:
        sheet_id = sheet_id or 0
        for sheet in self.sheets:
            if sheet.id == sheet_id:
                return sheet
        raise bad_request(f"No grid with id: {sheet_id}")

    def sheet_by_title(self, title: str) -> Sheet | None:
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        for sheet in self.sheets:
            if sheet.title.lower() == title.lower():
                return sheet
        return None

    def reindex(self) -> None:
        self.sheets.sort(key=lambda s: s.props["index"])
        for i, sheet in enumerate(self.sheets):
            sheet.props["index"] = i

    def total_cells(self) -> int:
        return sum(s.row_count * s.col_count for s in self.sheets)

    def check_cell_limit(self, extra: int) -> None:
        if extra > 0 and self.total_cells() + extra > CELL_LIMIT:
            raise bad_request(CELL_LIMIT_MESSAGE)

    def resolve_range(self, text: str) -> tuple[Sheet, a1.GridRange]:
        """Parse an A1 range or a named range; raise Google's 400 when it cannot be parsed."""
        try:
            title, cells = a1.split_sheet(text)
        except a1.A1Error:
            raise bad_request(f"Unable to parse range: {text}") from None
        if title is None:
            sheet = self.sheet_by_title(cells)
            if sheet is not None:
                return sheet, a1.GridRange(None, None, None, None)
            named = self._named_range(cells)
            if named is not None:
                return named
            if not self.sheets:
                raise bad_request(f"Unable to parse range: {text}")
            sheet = self.sheets[0]
        else:
            found = self.sheet_by_title(title)
            if found is None:
                raise bad_request(f"Unable to parse range: {text}")
            sheet = found
        try:
            return sheet, a1.parse_cells(cells)
        except a1.A1Error:
            named = self._named_range(cells)
            if named is not None:
                return named
            raise bad_request(f"Unable to parse range: {text}") from None

    def _named_range(self, name: str) -> tuple[Sheet, a1.GridRange] | None:
        for nr in self.named_ranges.values():
            if nr["name"] == name:
                rng = nr["range"]
                sheet = self.sheet_by_id(rng.get("sheetId", 0))
                return sheet, a1.GridRange(
                    rng.get("startRowIndex"), rng.get("endRowIndex"),
                    rng.get("startColumnIndex"), rng.get("endColumnIndex"),
                )
        return None

    def bounded(self, sheet: Sheet, grid: a1.GridRange, text: str, check: bool = True) -> tuple[int, int, int, int]:
        sr, er, sc, ec = grid.clamp(sheet.row_count, sheet.col_count)
        if check and (er > sheet.row_count or ec > sheet.col_count):
            raise bad_request(
                f"Range ({a1.quote_title(sheet.title)}!{a1.format_cells(sr, er, sc, ec)}) exceeds grid "
                f"limits. Max rows: {sheet.row_count}, max columns: {sheet.col_count}"
            )
        return sr, er, sc, ec

    # -- moving things when dimensions change
    def grid_ranges(self, sheet: Sheet) -> list[dict[str, Any]]:
        """Every stored GridRange dict that points into ``sheet`` (mutated in place on shifts)."""
        out: list[dict[str, Any]] = list(sheet.merges)
        out += [pr["range"] for pr in sheet.protected_ranges if "range" in pr]
        if sheet.basic_filter and "range" in sheet.basic_filter:
            out.append(sheet.basic_filter["range"])
        for rule in sheet.conditional_formats:
            out += rule.get("ranges", [])
        for nr in self.named_ranges.values():
            if nr["range"].get("sheetId", 0) == sheet.id:
                out.append(nr["range"])
        return out

    def dimension_ranges(self, sheet: Sheet, dimension: str) -> list[dict[str, Any]]:
        out = []
        for md in self.developer_metadata.values():
            dr = md["location"].get("dimensionRange")
            if dr and dr.get("sheetId", 0) == sheet.id and dr["dimension"] == dimension:
                out.append(dr)
        groups = sheet.row_groups if dimension == "ROWS" else sheet.column_groups
        out += [g["range"] for g in groups]
        return out


# ---------------------------------------------------------------------------- state


@dataclass
class ServiceAccount:
    email: str
    public_key_pem: bytes
    key_id: str | None = None


class EmulatorState:
    """All emulator data. Safe to share between the server threads and the test."""

    def __init__(self, accept_any_token: bool = False, seed: int | None = None) -> None:
        self.lock = threading.RLock()
        self.accept_any_token = accept_any_token
        self._seed = seed
        self.default_owner_email = "emulator-owner@sheets-sync-emulator.iam.gserviceaccount.com"
        self.service_accounts: dict[str, ServiceAccount] = {}
        # the core's fault switches, request log and clock (the same for every service)
        self.faults = Faults()
        self.request_log = RequestLog()
        self.clock: Clock = monotonic  # quotas, token lifetimes, the log; reset() keeps it
        self.reset()

    def reset(self) -> None:
        """Forget spreadsheets, tokens, faults, hooks and the log (registered keys and the clock
        stay)."""
        with self.lock:
            self.rng = random.Random(self._seed)
            self.spreadsheets: dict[str, Spreadsheet] = {}
            self.tokens: dict[str, tuple[str | None, float]] = {}
            self.refresh_tokens: dict[str, str] = {}
            self.faults.reset()
            self.request_log.clear()
            self.before_next_write: Callable[[EmulatorState], Any] | None = None
            self.before_next_request: Callable[[EmulatorState], Any] | None = None
            self.token_requests = 0
            # Optional per-minute quotas per caller, read and write requests counted apart as
            # Google does (60 of each per user by default); ``quota_per_minute`` sets both.
            self.quota_per_minute: int | None = None
            self.read_quota_per_minute: int | None = None
            self.write_quota_per_minute: int | None = None
            self._quotas: dict[tuple[str, str], SlidingWindow] = {}

    # -- ids
    def new_spreadsheet_id(self) -> str:
        alphabet = string.ascii_letters + string.digits + "-_"
        return "1" + "".join(self.rng.choice(alphabet) for _ in range(43))

    def new_int_id(self) -> int:
        return self.rng.randint(10_000_000, 2_147_483_000)

    # -- auth registry
    def register_service_account(self, email: str, public_key_pem: bytes | str, key_id: str | None = None) -> None:
        """Trust JWT assertions from ``email`` signed with the private half of this key."""
        if isinstance(public_key_pem, str):
            public_key_pem = public_key_pem.encode()
        with self.lock:
            self.service_accounts[email] = ServiceAccount(email, public_key_pem, key_id)

    def register_refresh_token(self, refresh_token: str, email: str) -> None:
        """Accept an OAuth user refresh token (gspread's ``oauth()`` flow) for ``email``."""
        with self.lock:
            self.refresh_tokens[refresh_token] = email

    def issue_token(self, email: str | None, lifetime: int = 3600) -> str:
        import secrets

        token = "ya29.emu-" + secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = (email, self.clock() + lifetime)
        return token

    def expire_tokens(self) -> None:
        """Make every issued token invalid (the next call gets 401, clients refresh)."""
        with self.lock:
            self.tokens.clear()

    def email_for_token(self, token: str) -> tuple[bool, str | None]:
        entry = self.tokens.get(token)
        if entry is None or entry[1] < self.clock():
            return False, None
        return True, entry[0]

    def quota_exceeded(self, caller: str | None, bucket: str = "read", now: float | None = None) -> bool:
        """Count one Sheets API request in ``bucket`` ("read" or "write") against its per-minute
        quota (a sliding minute on ``clock``); True when it is over the limit."""
        limit = (self.read_quota_per_minute if bucket == "read" else self.write_quota_per_minute) \
            or self.quota_per_minute
        if not limit:
            return False
        with self.lock:
            window = self._quotas.setdefault((caller or "", bucket), SlidingWindow(limit, 60.0))
            window.limit = limit
            return not window.hit(self.clock() if now is None else now)

    # -- log
    def clear_log(self) -> None:
        self.request_log.clear()

    def log_summary(self) -> dict[str, int]:
        """Requests and bytes in the log (the emulator's control endpoints are not logged)."""
        return self.request_log.summary()

    # -- spreadsheets
    def create_spreadsheet(
        self,
        title: str = "Untitled spreadsheet",
        owner: str | None = None,
        spreadsheet_id: str | None = None,
        sheet_titles: list[str] | None = None,
        rows: int = 1000,
        cols: int = 26,
        locale: str = "en_US",
    ) -> Spreadsheet:
        """Create a spreadsheet the way Drive does (one ``Sheet1``, 1000 x 26, en_US)."""
        with self.lock:
            sid = spreadsheet_id or self.new_spreadsheet_id()
            ss = Spreadsheet(sid, title, owner)
            ss.props["locale"] = locale
            for i, t in enumerate(sheet_titles or ["Sheet1"]):
                sheet = Sheet(0 if i == 0 else self.new_int_id(), t, i, rows, cols)
                sheet.locale = locale
                ss.sheets.append(sheet)
            formulas.attach(ss)
            self.spreadsheets[sid] = ss
            return ss

    def get_spreadsheet(self, spreadsheet_id: str) -> Spreadsheet:
        ss = self.spreadsheets.get(spreadsheet_id)
        if ss is None or ss.trashed:
            from .errors import NOT_FOUND

            raise ApiError(404, NOT_FOUND)
        return ss

    def add_private_spreadsheet(self, spreadsheet_id: str, title: str = "Private") -> Spreadsheet:
        """A spreadsheet that exists but is shared with nobody: every call gets 403."""
        ss = self.create_spreadsheet(title, owner="someone-else@example.com", spreadsheet_id=spreadsheet_id)
        ss.private = True
        return ss

    def can_access(self, ss: Spreadsheet, email: str | None) -> bool:
        if ss.private:
            return False
        if email is None or ss.owner is None or ss.owner == email:
            return True
        for perm in ss.permissions:
            if perm.get("type") == "anyone" or perm.get("emailAddress", "").lower() == email.lower():
                return True
        return False

    # -- Python-level shortcuts used by tests to play the spreadsheet owner
    def owner_update_values(self, spreadsheet_id: str, range_: str, values: list[list[Any]],
                            value_input_option: str = "USER_ENTERED") -> dict[str, Any]:
        """Write values as a person would (no auth, no log, no faults)."""
        from .handlers import write_values

        with self.lock:
            ss = self.get_spreadsheet(spreadsheet_id)
            return write_values(ss, range_, {"values": values}, value_input_option)

    def owner_batch_update(self, spreadsheet_id: str, requests: list[dict[str, Any]]) -> dict[str, Any]:
        """Run ``spreadsheets.batchUpdate`` requests as the owner (sort, insert rows, ...)."""
        from .batch import batch_update

        with self.lock:
            ss = self.get_spreadsheet(spreadsheet_id)
            return batch_update(self, ss, {"requests": requests})

    def owner_sort(self, spreadsheet_id: str, sheet_title: str, column: int, ascending: bool = True,
                   header_rows: int = 1) -> None:
        """Sort the whole sheet below ``header_rows`` by a 0-based column."""
        ss = self.get_spreadsheet(spreadsheet_id)
        sheet = ss.sheet_by_title(sheet_title)
        if sheet is None:
            raise KeyError(sheet_title)
        self.owner_batch_update(spreadsheet_id, [{"sortRange": {
            "range": {"sheetId": sheet.id, "startRowIndex": header_rows, "endRowIndex": sheet.row_count,
                      "startColumnIndex": 0, "endColumnIndex": sheet.col_count},
            "sortSpecs": [{"dimensionIndex": column, "sortOrder": "ASCENDING" if ascending else "DESCENDING"}],
        }}])

    def owner_insert_rows(self, spreadsheet_id: str, sheet_title: str, start: int, count: int = 1) -> None:
        """Insert ``count`` empty rows before 0-based row ``start``."""
        ss = self.get_spreadsheet(spreadsheet_id)
        sheet = ss.sheet_by_title(sheet_title)
        if sheet is None:
            raise KeyError(sheet_title)
        self.owner_batch_update(spreadsheet_id, [{"insertDimension": {
            "range": {"sheetId": sheet.id, "dimension": "ROWS", "startIndex": start, "endIndex": start + count},
            "inheritFromBefore": start > 0,
        }}])

    def owner_delete_rows(self, spreadsheet_id: str, sheet_title: str, start: int, count: int = 1) -> None:
        ss = self.get_spreadsheet(spreadsheet_id)
        sheet = ss.sheet_by_title(sheet_title)
        if sheet is None:
            raise KeyError(sheet_title)
        self.owner_batch_update(spreadsheet_id, [{"deleteDimension": {
            "range": {"sheetId": sheet.id, "dimension": "ROWS", "startIndex": start, "endIndex": start + count},
        }}])

    def read_values(self, spreadsheet_id: str, range_: str, value_render: str = "UNFORMATTED_VALUE") -> list[list[Any]]:
        """The ``values`` a values.get would return (``[]`` when empty)."""
        from .handlers import read_value_range

        with self.lock:
            ss = self.get_spreadsheet(spreadsheet_id)
            return read_value_range(ss, range_, value_render, "SERIAL_NUMBER", "ROWS").get("values", [])

