"""A shared Google Sheet as the sheet, through gspread's HTTP client.

Request budget of one sync (planned, not only reacted to):

* read: **one** ``values:batchGet`` of every tab we use (unformatted values, serial dates), plus
  one metadata request only when a tab is missing;
* write: one ``values:batchGet`` of the header row and the id column right before writing (the
  guard: if an owner sorted, inserted, deleted, moved or renamed rows or columns meanwhile,
  nothing is written and the sync plans again); **one** ``values:batchUpdate`` of the changed
  cells (split into parts, each complete on its own, under Google's 2 MB guidance); the same
  check once more; one ``values:append`` per tab with new rows (and, after appending client
  rows, the header row once more); and one ``spreadsheets:batchUpdate`` only when the layout
  must be made (a new tab, new columns, new rules): frozen header, filter, number formats,
  colours, the dropdown, header notes.

A no-op sync is one request; a steady-state sync four (read, check, write, check).

**The window that remains.** Google has no conditional write, so a structural edit (a column
inserted, rows sorted) can land between our check and our write; the write then puts values
into other cells. The check right after the write sees it. Before the pass is planned again,
every cell the write clobbered (a cell that now belongs to another client or column and holds
what we wrote) gets back the value it had in the read the plan was made from
(:func:`~sheets_sync.sheets.guard.restorations`); a cell of a row or column that did not exist
then is emptied. What this cannot give back is an owner's edit typed into one of those very
cells after our read and before our write (a second or two): Google does not tell us the value
a write replaced. A manual category lost that way is never written to the CRM by this pass: the
pass plans again from the sheet as it is, and the state store still holds the value last seen.
Appends are not repeated blindly: a timed-out ``values:append`` is followed by a fresh read,
which shows which rows landed (see ``google_auth``).

Developer metadata on rows was weighed as the binding and left out: it costs one entry per
client (Google limits the total size of developer metadata), and a sort moves values within a
range rather than rows; the id column and the header row, checked before and after each write,
are the binding.

Text is written RAW, so a company named ``=HYPERLINK(...)`` or ``+7 495...`` stays text; numbers
and dates go in as numbers with number formats, so they show in the spreadsheet's own locale
and stay sortable.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

import requests
from google.auth.transport.requests import AuthorizedSession, Request
from gspread.utils import rowcol_to_a1

from ..config import SheetSettings
from ..errors import ConcurrentEditError, ConfigError, SheetError
from ..http import describe_answer, line
from ..i18n import _
from ..parsing import id_text
from ..serials import DateCells, to_serial, typed_dates
from .base import Grid, Layout, TabWrite, WriteBatch
from .google_auth import PacedHTTPClient, check_endpoint, load_credentials, to_endpoint
from .guard import Written, is_guarded, mismatch, planned_structure, restorations

MAX_CELLS = 10_000_000
NEW_TAB_ROWS = 1000  # rows of a tab we add; appended rows are inserted on top of them
MAX_PAYLOAD = 1_800_000  # bytes; Google recommends at most 2 MB per request
NOTES_PER_REQUEST = 2000  # rows of notes in one updateCells (a request stays well under MAX_PAYLOAD)
PROTECT_MARK = "sheets-sync"  # the description of our protected ranges starts with it
_KEY = re.compile(r"/spreadsheets/d/([a-zA-Z0-9-_]+)")
NUMBER_FORMATS = {
    "money": {"type": "NUMBER", "pattern": "#,##0.00"},
    "number": {"type": "NUMBER", "pattern": "0.##"},
    "count": {"type": "NUMBER", "pattern": "0"},
    "percent": {"type": "NUMBER", "pattern": "0.0"},
    "percent_share": {"type": "PERCENT", "pattern": "0.0%"},
    "date": {"type": "DATE"},
    "datetime": {"type": "DATE_TIME"},
}


class _BadRequest(SheetError):
    """Google answered 400 (in a read: a range names a tab that does not exist)."""


def spreadsheet_key(text: str) -> str:
    """The key of a spreadsheet given as a key or as its URL."""
    m = _KEY.search(text)
    key = m.group(1) if m else text.strip()
    if not re.fullmatch(r"[a-zA-Z0-9-_]{10,}", key):
        raise ConfigError(f"[sheet] google = {text!r} is neither a spreadsheet key nor its URL "
                          "(https://docs.google.com/spreadsheets/d/KEY/edit).")
    return key


def quote_tab(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def to_cell(value: Any) -> Any:
    """A Python value as a RAW cell value: dates as serial numbers, None as empty."""
    if value is None:
        return ""
    if isinstance(value, date):  # datetime too
        return to_serial(value)
    return value


class GoogleSheet:
    """A :class:`~sheets_sync.sheets.base.SheetBackend` over a Google spreadsheet."""

    def __init__(self, settings: SheetSettings) -> None:
        opts = settings.options
        self.key = spreadsheet_key(settings.target)
        loaded = load_credentials(opts, settings.base_dir)
        self.email = loaded.email
        self.credentials_file = loaded.path
        endpoint = check_endpoint(str(opts["endpoint"])) if opts.get("endpoint") else None
        refresh = requests.Session()
        if endpoint:
            to_endpoint(refresh, endpoint)
        session = AuthorizedSession(loaded.credentials, auth_request=Request(refresh))
        if endpoint:
            to_endpoint(session, endpoint)
        self.http = PacedHTTPClient(
            loaded.credentials, session, refuse=self._refuse,
            per_minute=int(opts.get("requests_per_minute", 60)),
            budget=float(opts.get("retry_budget", 120)), base_delay=float(opts.get("retry_base_delay", 1.0)))
        self.http.set_timeout(float(opts.get("timeout", 60)))
        self.where = f"Google spreadsheet {self.key}"
        self._meta: dict[str, Any] | None = None
        self._grids: dict[str, Grid | None] = {}

    # -- errors
    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from google.auth.exceptions import GoogleAuthError

        try:
            return fn(*args, **kwargs)
        except GoogleAuthError as exc:
            raise self._refused(exc) from None

    def _refused(self, exc: Exception) -> ConfigError:
        return ConfigError(f"Google refused the credentials in {self.credentials_file}: "
                           f"{_first_line(exc)}. Check that the key is current (not deleted in the "
                           "Google Cloud console).")

    def _refuse(self, where: str, response: requests.Response) -> Exception:
        """An error answer the HTTP funnel does not repeat, in the project's terms."""
        code = response.status_code
        message = line(describe_answer(response), 300)
        if code == 400:
            return _BadRequest(f"{self.where}: HTTP 400: {message}")
        if code == 403:
            who = f"the service account {self.email}" if self.email else "this Google account"
            return ConfigError(f"{self.where}: {who} has no access ({message}). Share the spreadsheet "
                               f"with {self.email or 'the account'} as Editor.")
        if code == 404:
            return ConfigError(f"{self.where} was not found. Check [sheet] google in the config.")
        if code == 401:
            return ConfigError(f"{self.where}: Google refused the credentials in {self.credentials_file}.")
        return SheetError(f"{self.where}: HTTP {code}: {message}")

    # -- metadata
    def metadata(self, refresh: bool = False) -> dict[str, Any]:
        if self._meta is None or refresh:
            fields = ("properties(title,locale),sheets(properties(sheetId,title,index,"
                      "gridProperties(rowCount,columnCount)),conditionalFormats,protectedRanges(protectedRangeId,description)),"
                      "namedRanges(namedRangeId,name,range)")
            self._meta = self._call(self.http.fetch_sheet_metadata, self.key, params={"fields": fields})
        return self._meta

    def _sheet(self, title: str) -> dict[str, Any] | None:
        for sheet in self.metadata().get("sheets", []):
            if sheet["properties"]["title"] == title:
                return sheet
        return None

    # -- read
    def read(self, tabs: Sequence[str], dates: Mapping[str, DateCells] | None = None,
             head: Mapping[str, int] | None = None) -> dict[str, Grid | None]:
        """Every tab in one request, unformatted; Google gives dates as serial numbers: those of
        the cells ``dates`` names are turned into dates here, so the rest sees dates. A tab in
        ``head`` only as far as its first rows (a range of rows: the History tab is not fetched
        whole at every sync)."""
        from google.auth.exceptions import GoogleAuthError

        head = head or {}

        def ranges(names: list[str]) -> list[str]:
            return [quote_tab(t) + (f"!1:{head[t]}" if t in head else "") for t in names]

        params = {"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER",
                  "majorDimension": "ROWS"}
        self._meta = None
        try:
            wanted = list(tabs)
            reply = self.http.values_batch_get(self.key, ranges(wanted), params=params)
        except GoogleAuthError as exc:
            raise self._refused(exc) from None
        except _BadRequest:  # a tab we asked for is missing
            existing = {s["properties"]["title"] for s in self.metadata().get("sheets", [])}
            wanted = [t for t in tabs if t in existing]
            reply = self._call(self.http.values_batch_get, self.key, ranges(wanted),
                               params=params) if wanted else {"valueRanges": []}
        out: dict[str, Grid | None] = dict.fromkeys(tabs)
        for tab, vr in zip(wanted, reply.get("valueRanges", []), strict=False):
            out[tab] = [list(row) for row in vr.get("values", [])]
        self._grids = dict(out)  # as Google has them (serial dates), for a repair after a race
        for tab, cells in (dates or {}).items():
            grid = out.get(tab)
            if grid:
                out[tab] = typed_dates([list(row) for row in grid], cells)
        return out

    # -- write
    def write(self, batch: WriteBatch) -> None:
        if batch.empty:
            return
        # the grid sizes are needed to make tabs and columns, and to check the cell limit before
        # appending many rows; a few History rows are not worth a request (an append over the
        # limit fails whole, and the rows are appended at the next run)
        appended = sum(len(t.appends) * max(len(t.header), 1) for t in batch.tabs)
        needs_meta = appended > 2_000 or any(t.created or t.new_columns or t.layout is not None or t.names
                                             for t in batch.tabs)
        if needs_meta:
            self.metadata(refresh=True)
            self._check_cell_limit(batch)
        self._check_guards(batch)
        structural = []
        for tw in batch.tabs:
            if tw.created and self._sheet(tw.tab) is None:
                # the append below inserts its own rows (INSERT_ROWS): sized for the rows, the tab
                # would end up twice as tall, and a big first sync over the cell limit
                structural.append({"addSheet": {"properties": {"title": tw.tab, "gridProperties": {
                    "rowCount": NEW_TAB_ROWS, "columnCount": max(26, len(tw.header))}}}})
            elif tw.new_columns:
                sheet = self._sheet(tw.tab)
                if sheet is not None:
                    have = sheet["properties"]["gridProperties"].get("columnCount", 26)
                    if len(tw.header) > have:
                        structural.append({"appendDimension": {"sheetId": sheet["properties"]["sheetId"],
                                                               "dimension": "COLUMNS",
                                                               "length": len(tw.header) - have}})
        if structural:
            self._call(self.http.batch_update, self.key, {"requests": structural})
            self.metadata(refresh=True)
        data = list(self._value_ranges(batch))
        for part in _split(data):
            self._call(self.http.values_batch_update, self.key,
                       {"valueInputOption": "RAW", "data": part})
        if data:
            # and once more after writing: a structural edit between our check and our write is
            # caught here, before anything is appended; the cells it made us clobber get their
            # values back, and the sync plans again
            self._check_guards(batch, repair=True)
        formulas: list[dict[str, Any]] = []
        notes_at: dict[str, list[int]] = {}
        for tw in batch.tabs:
            appended: list[int] = []
            if tw.appends:
                width = len(tw.header)
                rows = [[to_cell(v) for v in (row + [None] * (width - len(row)))[:width]] for row in tw.appends]
                for chunk in _split_rows(rows):
                    reply = self._call(self.http.values_append, self.key, f"{quote_tab(tw.tab)}!A1",
                                       params={"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
                                       body={"values": chunk, "majorDimension": "ROWS"})
                    first = _first_row(reply)
                    appended += list(range(first, first + len(chunk)))
                if tw.guard_col is not None and tw.read_header is not None:
                    self._check_appended(tw, appended)
            notes_at[tw.tab] = appended
            if tw.formula_templates:
                for row in [r + 1 for r in tw.formula_rows] + appended:
                    for start, values in _runs({c: t.replace("\x00", str(row))
                                                for c, t in tw.formula_templates.items()}):
                        formulas.append({"range": f"{quote_tab(tw.tab)}!{rowcol_to_a1(row, start + 1)}",
                                         "values": [["=" + v for v in values]]})
        for part in _split(formulas):  # live formulas: the only cells written USER_ENTERED
            self._call(self.http.values_batch_update, self.key, {"valueInputOption": "USER_ENTERED", "data": part})
        formatting = []
        for tw in batch.tabs:
            formatting += self._layout_requests(tw)
            formatting += self._name_requests(tw)
            formatting += self._note_requests(tw, notes_at.get(tw.tab, []))
        for part in _split(formatting):
            self._call(self.http.batch_update, self.key, {"requests": part})

    def _note_requests(self, tw: TabWrite, appended: list[int]) -> list[dict[str, Any]]:
        """The reason as a note on each category cell whose reason changed (``updateCells`` with
        ``fields: note``), one request per run of adjacent rows."""
        notes = {(r, c): text for r, c, text in tw.notes}
        if tw.append_notes is not None:
            target, source = tw.append_notes
            for row, line in zip(appended, tw.appends, strict=False):
                value = line[source] if source < len(line) else None
                if isinstance(value, str) and value:
                    notes[(row - 1, target)] = value
        if not notes:
            return []
        sheet = self._sheet(tw.tab) or (self.metadata(refresh=True) and self._sheet(tw.tab))
        if sheet is None:
            return []
        sid = sheet["properties"]["sheetId"]
        reqs: list[dict[str, Any]] = []
        for col in sorted({c for _r, c in notes}):
            rows = sorted(r for r, c in notes if c == col)
            start = prev = rows[0]
            for row in [*rows[1:], None]:
                if row is not None and row == prev + 1 and row - start < NOTES_PER_REQUEST:
                    prev = row
                    continue
                reqs.append({"updateCells": {
                    "range": {"sheetId": sid, "startRowIndex": start, "endRowIndex": prev + 1,
                              "startColumnIndex": col, "endColumnIndex": col + 1},
                    "rows": [{"values": [{"note": notes[(r, col)]}]} for r in range(start, prev + 1)],
                    "fields": "note"}})
                if row is not None:
                    start = prev = row
        return reqs

    def _check_cell_limit(self, batch: WriteBatch) -> None:
        total = sum(s["properties"]["gridProperties"].get("rowCount", 0) *
                    s["properties"]["gridProperties"].get("columnCount", 0)
                    for s in self.metadata().get("sheets", []))
        extra = 0
        for tw in batch.tabs:
            sheet = self._sheet(tw.tab)
            cols = max(len(tw.header), 26)
            if sheet is None:
                extra += (NEW_TAB_ROWS + len(tw.appends)) * cols
            else:
                grid = sheet["properties"]["gridProperties"]
                extra += len(tw.appends) * max(grid.get("columnCount", 26), cols)
                extra += max(0, len(tw.header) - grid.get("columnCount", 26)) * grid.get("rowCount", 0)
        if total + extra > MAX_CELLS:
            raise SheetError(f"{self.where}: this sync would grow the spreadsheet to {total + extra:,} cells, "
                             f"over Google's limit of {MAX_CELLS:,}. Nothing was written. Delete unused tabs, "
                             "rows or columns, or move old clients to another spreadsheet.")

    def _read_structure(self, tw: TabWrite) -> tuple[list[Any], list[Any]]:
        """The header row and the id column as they are now (one request)."""
        assert tw.guard_col is not None
        letter = rowcol_to_a1(1, tw.guard_col + 1)[:-1]
        row = tw.header_row + 1
        reply = self._call(self.http.values_batch_get, self.key,
                           [f"{quote_tab(tw.tab)}!{row}:{row}", f"{quote_tab(tw.tab)}!{letter}:{letter}"],
                           params={"valueRenderOption": "UNFORMATTED_VALUE", "majorDimension": "COLUMNS"})
        ranges = reply.get("valueRanges", [{}, {}])
        header = [col[0] if col else None for col in ranges[0].get("values", [])]
        column = (ranges[1].get("values") or [[]])[0] if len(ranges) > 1 else []
        return header, column

    def _check_guards(self, batch: WriteBatch, repair: bool = False) -> None:
        for tw in batch.tabs:
            if not is_guarded(tw):
                continue
            header, column = self._read_structure(tw)
            why = mismatch(planned_structure(tw), header, column)
            if why is None:
                continue
            if repair:
                self._repair(tw, [Written(r, c, to_cell(v), tw.guard.get(r, ""), tw.header[c])
                                  for r, c, v in tw.updates])
            raise ConcurrentEditError(f"{self.where} tab {tw.tab!r}: {why}; planning again")

    def _check_appended(self, tw: TabWrite, rows: list[int]) -> None:
        """After appending client rows: a column inserted or moved meanwhile shifted them; empty
        what landed in the wrong cells and plan again (the next pass appends them anew)."""
        header, _ = self._read_structure(tw)
        expected = planned_structure(tw)
        expected.ids = {}
        why = mismatch(expected, header, [])
        if why is None:
            return
        id_col = tw.guard_col or 0
        written = [Written(row - 1, c, to_cell(v), id_text(line[id_col]) if id_col < len(line) else "",
                           tw.header[c])
                   for row, line in zip(rows, tw.appends, strict=False) for c, v in enumerate(line)
                   if v not in (None, "")]
        self._repair(tw, written)
        raise ConcurrentEditError(f"{self.where} tab {tw.tab!r}: {why}; planning again")

    def _repair(self, tw: TabWrite, written: list[Written]) -> None:
        """Give back the cells a write put into another client's row or another column."""
        planned = self._grids.get(tw.tab) or []
        params = {"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER"}
        current = self._call(self.http.values_get, self.key, quote_tab(tw.tab), params=params).get("values", [])
        id_header = (tw.read_header or tw.header)[tw.guard_col or 0]
        fixes = restorations(written, planned, [list(r) for r in current], id_header, tw.header_row)
        data = [{"range": f"{quote_tab(tw.tab)}!{rowcol_to_a1(r + 1, c + 1)}", "values": [[to_cell(v)]]}
                for r, c, v in fixes]
        for part in _split(data):
            self._call(self.http.values_batch_update, self.key, {"valueInputOption": "RAW", "data": part})

    def _value_ranges(self, batch: WriteBatch) -> Iterator[dict[str, Any]]:
        for tw in batch.tabs:
            tab = quote_tab(tw.tab)
            header_cells = list(range(len(tw.header))) if tw.created else tw.new_columns
            for col in header_cells:
                yield {"range": f"{tab}!{rowcol_to_a1(tw.header_row + 1, col + 1)}",
                       "values": [[tw.header[col]]]}
            by_row: dict[int, dict[int, Any]] = {}
            for row, col, value in tw.updates:
                by_row.setdefault(row, {})[col] = value
            for row, cells in sorted(by_row.items()):
                for start, values in _runs(cells):
                    end = rowcol_to_a1(row + 1, start + len(values))
                    yield {"range": f"{tab}!{rowcol_to_a1(row + 1, start + 1)}:{end}",
                           "values": [[to_cell(v) for v in values]]}

    def _name_requests(self, tw: TabWrite) -> list[dict[str, Any]]:
        """Named cells (the live formulas' thresholds), made or moved to where they belong."""
        if not tw.names:
            return []
        sheet = self._sheet(tw.tab) or (self.metadata(refresh=True) and self._sheet(tw.tab))
        if sheet is None:
            return []
        sid = sheet["properties"]["sheetId"]
        existing = {n["name"]: n for n in self.metadata().get("namedRanges", [])}
        reqs: list[dict[str, Any]] = []
        for name, (row, col) in tw.names.items():
            want = _named_range(sid, row, col)
            have = existing.get(name)
            if have is None:
                reqs.append({"addNamedRange": {"namedRange": {"name": name, "range": want}}})
            elif {k: have["range"].get(k, 0) for k in want} != want:
                reqs.append({"updateNamedRange": {"namedRange": {"namedRangeId": have["namedRangeId"], "name": name,
                                                                 "range": want}, "fields": "range"}})
        return reqs

    def _layout_requests(self, tw: TabWrite) -> list[dict[str, Any]]:
        """Formatting of a tab: header and number formats when it is new; the full layout (filter,
        colours, dropdown, notes) when the batch carries one."""
        if tw.layout is None and not tw.created:
            return []
        sheet = self._sheet(tw.tab)
        if sheet is None:
            self.metadata(refresh=True)
            sheet = self._sheet(tw.tab)
        if sheet is None:
            return []
        sid = sheet["properties"]["sheetId"]
        width = len(tw.header)
        reqs: list[dict[str, Any]] = [
            {"updateSheetProperties": {"properties": {"sheetId": sid, "gridProperties": {"frozenRowCount": 1}},
                                       "fields": "gridProperties.frozenRowCount"}},
            {"repeatCell": {"range": {"sheetId": sid, "startRowIndex": 0, "endRowIndex": 1,
                                      "startColumnIndex": 0, "endColumnIndex": width},
                            "cell": {"userEnteredFormat": {"textFormat": {"bold": True},
                                                           "backgroundColor": _rgb("#D9E1F2")}},
                            "fields": "userEnteredFormat(textFormat.bold,backgroundColor)"}},
        ]
        for col, width in tw.widths.items() if tw.created else ():
            reqs.append({"updateDimensionProperties": {
                "range": {"sheetId": sid, "dimension": "COLUMNS", "startIndex": col, "endIndex": col + 1},
                "properties": {"pixelSize": width * 7}, "fields": "pixelSize"}})
        for col, kind in tw.kinds.items():
            if kind in NUMBER_FORMATS:
                reqs.append({"repeatCell": {"range": _column(sid, col),
                                            "cell": {"userEnteredFormat": {"numberFormat": NUMBER_FORMATS[kind]}},
                                            "fields": "userEnteredFormat.numberFormat"}})
        if tw.layout is None:
            return reqs
        layout: Layout = tw.layout
        reqs.append({"setBasicFilter": {"filter": {"range": {"sheetId": sid, "startRowIndex": 0,
                                                             "startColumnIndex": 0, "endColumnIndex": width}}}})
        by_header = {h: i for i, h in enumerate(tw.header)}
        ours: set[int] = set()
        for spec in layout.columns:
            col = by_header.get(spec.header)
            if col is None:
                continue
            if spec.note and (tw.created or col in tw.new_columns or col in tw.relabels):
                reqs.append({"updateCells": {"range": {"sheetId": sid, "startRowIndex": 0, "endRowIndex": 1,
                                                       "startColumnIndex": col, "endColumnIndex": col + 1},
                                             "rows": [{"values": [{"note": spec.note}]}], "fields": "note"}})
            if spec.name in layout.coloured:
                ours.add(col)
                for code, colour in layout.colours.items():
                    reqs.append({"addConditionalFormatRule": {"index": 0, "rule": {
                        "ranges": [_column(sid, col)],
                        "booleanRule": {"condition": {"type": "TEXT_EQ", "values": [{"userEnteredValue": code}]},
                                        "format": {"backgroundColor": _rgb(colour)}}}}})
            if spec.name in layout.dropdown:
                reqs.append({"setDataValidation": {"range": _column(sid, col), "rule": {
                    "condition": {"type": "ONE_OF_LIST",
                                  "values": [{"userEnteredValue": c} for c in layout.dropdown[spec.name]]},
                    "showCustomUi": True, "strict": False,
                    "inputMessage": "A category code, or empty to let the rules decide."}}})
        # computed columns: an owner who types over one is warned that the tool owns it
        for pr in sheet.get("protectedRanges", []):
            if pr.get("description", "").startswith(PROTECT_MARK):
                reqs.append({"deleteProtectedRange": {"protectedRangeId": pr["protectedRangeId"]}})
        for col in tw.protect:
            reqs.append({"addProtectedRange": {"protectedRange": {
                "range": {"sheetId": sid, "startRowIndex": tw.header_row, "startColumnIndex": col,
                          "endColumnIndex": col + 1},
                "description": f"{PROTECT_MARK}: " + _("computed at every sync; your edits here are "
                                                       "overwritten. Set a manual category instead."),
                "warningOnly": True}}})
        # our earlier colour rules (TEXT_EQ on one of our single columns) go before the new ones
        stale = [i for i, rule in enumerate(sheet.get("conditionalFormats", []))
                 if _is_ours(rule, ours)]
        deletes = [{"deleteConditionalFormatRule": {"sheetId": sid, "index": i}} for i in sorted(stale, reverse=True)]
        return deletes + reqs


def _first_row(reply: dict[str, Any]) -> int:
    """The first sheet row (1-based) a values.append wrote, from its updatedRange."""
    updated = reply.get("updates", {}).get("updatedRange", "")
    m = re.search(r"!\$?[A-Z]+\$?(\d+)", updated)
    if not m:
        raise SheetError(f"Google Sheets answered an append without the range it wrote ({updated!r}).")
    return int(m.group(1))


def _column(sid: int, col: int) -> dict[str, int]:
    return {"sheetId": sid, "startRowIndex": 1, "startColumnIndex": col, "endColumnIndex": col + 1}


def _is_ours(rule: dict[str, Any], columns: set[int]) -> bool:
    ranges = rule.get("ranges", [])
    if len(ranges) != 1 or rule.get("booleanRule", {}).get("condition", {}).get("type") != "TEXT_EQ":
        return False
    r = ranges[0]
    start = r.get("startColumnIndex", 0)
    return start in columns and r.get("endColumnIndex") == start + 1 and r.get("startRowIndex") == 1


def _named_range(sid: int, row: int, col: int) -> dict[str, int]:
    return {"sheetId": sid, "startRowIndex": row, "endRowIndex": row + 1, "startColumnIndex": col,
            "endColumnIndex": col + 1}


def _runs(cells: dict[int, Any]) -> Iterator[tuple[int, list[Any]]]:
    """Contiguous runs of columns in one row: (first column, values)."""
    start, values, last = None, [], None
    for col in sorted(cells):
        if last is not None and col == last + 1:
            values.append(cells[col])
        else:
            if start is not None:
                yield start, values
            start, values = col, [cells[col]]
        last = col
    if start is not None:
        yield start, values


def _split(data: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Parts of a values:batchUpdate (its ``data``) or of a spreadsheets:batchUpdate (its
    ``requests``, a first sync's notes), each under the payload limit and complete on its own."""
    part: list[dict[str, Any]] = []
    size = 0
    for item in data:
        n = len(json.dumps(item).encode()) + 2  # as sent (ASCII-escaped), with its separator
        if part and size + n > MAX_PAYLOAD:
            yield part
            part, size = [], 0
        part.append(item)
        size += n
    if part:
        yield part


def _split_rows(rows: list[list[Any]]) -> Iterator[list[list[Any]]]:
    chunk: list[list[Any]] = []
    size = 0
    for row in rows:
        n = len(json.dumps(row, ensure_ascii=False, default=str).encode())
        if chunk and size + n > MAX_PAYLOAD:
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += n
    if chunk:
        yield chunk


def _rgb(colour: str) -> dict[str, float]:
    return {"red": int(colour[1:3], 16) / 255, "green": int(colour[3:5], 16) / 255,
            "blue": int(colour[5:7], 16) / 255}


def _first_line(exc: BaseException) -> str:
    text = str(exc.args[0] if exc.args else exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__
