"""One function per API action. Each takes a :class:`Call` and returns a :class:`Reply`.

Handlers run with ``state.lock`` held and raise :class:`ApiError` for Google-shaped errors.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from . import a1, auth, fieldmask, formulas
from .batch import batch_update
from .errors import NOT_FOUND, PERMISSION_DENIED, ApiError, bad_request, field_violation
from .render import spreadsheet_json
from .state import SPREADSHEET_MIME, EmulatorState, Sheet, Spreadsheet
from .values import parse_user_entered


@dataclass
class Call:
    state: EmulatorState
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str]
    email: str | None = None

    def q(self, name: str, default: str | None = None) -> str | None:
        vals = self.query.get(name)
        return vals[-1] if vals else default

    def q_bool(self, name: str, default: bool = False) -> bool:
        v = self.q(name)
        return default if v is None else v.lower() == "true"

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise bad_request("Invalid JSON payload received.") from None


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    content_type: str = "application/json; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


def _spreadsheet(call: Call) -> Spreadsheet:
    ss = call.state.get_spreadsheet(call.params["id"])
    if not call.state.can_access(ss, call.email):
        raise ApiError(403, PERMISSION_DENIED)
    return ss


# ----------------------------------------------------------------------- value helpers


def _major(body_or_query: Any) -> str:
    return (body_or_query or "ROWS").upper()


def read_value_range(ss: Spreadsheet, text: str, value_render: str, date_render: str,
                     major: str) -> dict[str, Any]:
    with formulas.caching():  # each formula cell computed once for this read
        return _read_value_range(ss, text, value_render, date_render, major)


def _read_value_range(ss: Spreadsheet, text: str, value_render: str, date_render: str,
                      major: str) -> dict[str, Any]:
    sheet, grid = ss.resolve_range(text)
    sr, er, sc, ec = ss.bounded(sheet, grid, text)
    out: dict[str, Any] = {"range": a1.format_range(sheet.title, sr, er, sc, ec), "majorDimension": major}
    fast = value_render == "UNFORMATTED_VALUE"
    grid_rows: list[list[Any]] = []
    data_rows = sorted(r for r in sheet.rows if sr <= r < er)
    if data_rows:
        for r in range(sr, data_rows[-1] + 1):
            row = sheet.rows.get(r)
            vals: list[Any] = []
            if row:
                cols = [c for c, cell in row.items() if sc <= c < ec and cell.kind is not None]
                if cols:
                    for c in range(sc, max(cols) + 1):
                        cell = row.get(c)
                        if cell is None or cell.kind is None:
                            vals.append("")
                        elif fast and cell.kind in "sb" and not cell.fmt:
                            vals.append(cell.value)
                        else:
                            v = sheet.render(r, c, value_render, date_render)
                            vals.append("" if v is None else v)
            grid_rows.append(vals)
        while grid_rows and not grid_rows[-1]:
            grid_rows.pop()
    if major == "COLUMNS" and grid_rows:
        width = max(len(row) for row in grid_rows)
        cols_out = []
        for c in range(width):
            col = [row[c] if c < len(row) else "" for row in grid_rows]
            while col and col[-1] == "":
                col.pop()
            cols_out.append(col)
        while cols_out and not cols_out[-1]:
            cols_out.pop()
        grid_rows = cols_out
    if grid_rows:
        out["values"] = grid_rows
    return out


def _check_values(values: Any, field_name: str) -> list[list[Any]]:
    if values is None:
        return []
    if not isinstance(values, list):
        desc = f"Invalid value at '{field_name}' (type.googleapis.com/google.protobuf.ListValue), {json.dumps(values)}"
        raise field_violation(field_name, desc)
    for i, row in enumerate(values):
        if not isinstance(row, list):
            desc = (f"Invalid value at '{field_name}[{i}]' (type.googleapis.com/google.protobuf.ListValue), "
                    f"{json.dumps(row)}")
            raise field_violation(f"{field_name}[{i}]", desc)
    return values


def _set_cell(sheet: Sheet, r: int, c: int, raw: Any, input_option: str, locale: str) -> None:
    if raw is None:
        return  # null means "leave this cell alone"
    if isinstance(raw, (dict, list)):
        raise bad_request(f"Invalid values[{r}][{c}]: {json.dumps(raw)}")
    if input_option == "RAW":
        if raw == "":
            kind, value, number_format = None, None, None
        elif isinstance(raw, bool):
            kind, value, number_format = "b", raw, None
        elif isinstance(raw, (int, float)):
            kind, value, number_format = "n", raw, None
        else:
            kind, value, number_format = "s", str(raw), None
    else:
        kind, value, number_format = parse_user_entered(raw, locale)
    if kind is None:
        cell = sheet.cell(r, c)
        if cell is not None:
            cell.kind = cell.value = None
            sheet.drop_if_blank(r, c)
        return
    cell = sheet.cell_for_write(r, c)
    cell.kind, cell.value = kind, value
    if number_format is not None:
        cell.fmt = dict(cell.fmt or {})
        cell.fmt["numberFormat"] = number_format


Touched = tuple[int, set[int], set[int]]  # (sheet id, rows, columns) a write changed


def write_values(ss: Spreadsheet, text: str, body: dict[str, Any], input_option: str | None,
                 field_name: str = "data.values", anchor: tuple[int, int] | None = None) -> dict[str, Any]:
    """values.update semantics; returns the UpdateValuesResponse (without updatedData)."""
    return _write_values(ss, text, body, input_option, field_name, anchor)[0]


def _write_values(ss: Spreadsheet, text: str, body: dict[str, Any], input_option: str | None,
                  field_name: str, anchor: tuple[int, int] | None) -> tuple[dict[str, Any], Touched]:
    if input_option not in ("RAW", "USER_ENTERED"):
        raise bad_request("'valueInputOption' is required but not specified" if not input_option
                          else f"Invalid valueInputOption: {input_option}")
    values = _check_values(body.get("values"), field_name)
    major = _major(body.get("majorDimension"))
    sheet, grid = ss.resolve_range(text)
    sr, er, sc, ec = grid.clamp(sheet.row_count, sheet.col_count)
    if anchor is not None:
        sr, sc = anchor
    single = grid.end_row is not None and grid.end_col is not None and \
        grid.end_row - (grid.start_row or 0) == 1 and grid.end_col - (grid.start_col or 0) == 1
    rows = values if major == "ROWS" else [list(x) for x in _transpose(values)]
    n_rows = len(rows)
    n_cols = max((len(r) for r in rows), default=0)
    if anchor is None and not single:
        limit_r = (grid.end_row - sr) if grid.end_row is not None else None
        limit_c = (grid.end_col - sc) if grid.end_col is not None else None
        target = a1.format_range(sheet.title, sr, er, sc, ec)
        if limit_r is not None and n_rows > limit_r:
            raise bad_request(f"Requested writing within range [{target}], but tried writing to row "
                              f"[{sr + limit_r + 1}]")
        if limit_c is not None and n_cols > limit_c:
            raise bad_request(f"Requested writing within range [{target}], but tried writing to column "
                              f"[{a1.col_to_letters(sc + limit_c)}]")
    if n_rows == 0 or n_cols == 0:
        return {"spreadsheetId": ss.id}, (sheet.id, set(), set())
    if sr + n_rows > sheet.row_count or sc + n_cols > sheet.col_count:
        bad_r = sr if sc + n_cols > sheet.col_count else sheet.row_count
        bad_c = sheet.col_count if sc + n_cols > sheet.col_count else sc
        raise bad_request(
            f"Range ({a1.quote_title(sheet.title)}!{a1.col_to_letters(bad_c)}{bad_r + 1}) exceeds grid limits. "
            f"Max rows: {sheet.row_count}, max columns: {sheet.col_count}"
        )
    locale = ss.props.get("locale", "en_US")
    touched_rows: set[int] = set()
    touched_cols: set[int] = set()
    cells = 0
    for i, row in enumerate(rows):
        for j, raw in enumerate(row):
            if raw is None:
                continue  # null leaves the cell alone and is not counted
            _set_cell(sheet, sr + i, sc + j, raw, input_option, locale)
            touched_rows.add(sr + i)
            touched_cols.add(sc + j)
            cells += 1
    ss.touch()
    out = {
        "spreadsheetId": ss.id,
        "updatedRange": a1.format_range(sheet.title, sr, sr + n_rows, sc, sc + n_cols),
        "updatedRows": len(touched_rows),
        "updatedColumns": len(touched_cols),
        "updatedCells": cells,
    }
    return out, (sheet.id, touched_rows, touched_cols)


def _transpose(values: list[list[Any]]) -> list[list[Any]]:
    width = max((len(v) for v in values), default=0)
    return [[col[i] if i < len(col) else None for col in values] for i in range(width)]


def _with_updated_data(call: Call, ss: Spreadsheet, resp: dict[str, Any]) -> dict[str, Any]:
    if call.q_bool("includeValuesInResponse") and "updatedRange" in resp:
        resp["updatedData"] = read_value_range(
            ss, resp["updatedRange"], call.q("responseValueRenderOption", "FORMATTED_VALUE"),
            call.q("responseDateTimeRenderOption", "SERIAL_NUMBER"), "ROWS")
    return resp


# ------------------------------------------------------------------------ values API


def values_get(call: Call) -> Reply:
    ss = _spreadsheet(call)
    return Reply(body=read_value_range(
        ss, unquote(call.params["range"]), (call.q("valueRenderOption") or "FORMATTED_VALUE").upper(),
        (call.q("dateTimeRenderOption") or "SERIAL_NUMBER").upper(), _major(call.q("majorDimension"))))


def values_batch_get(call: Call) -> Reply:
    ss = _spreadsheet(call)
    ranges = call.query.get("ranges", [])
    vr = (call.q("valueRenderOption") or "FORMATTED_VALUE").upper()
    dr = (call.q("dateTimeRenderOption") or "SERIAL_NUMBER").upper()
    major = _major(call.q("majorDimension"))
    out = {"spreadsheetId": ss.id, "valueRanges": [read_value_range(ss, r, vr, dr, major) for r in ranges]}
    return Reply(body=out)


def values_update(call: Call) -> Reply:
    ss = _spreadsheet(call)
    resp = write_values(ss, unquote(call.params["range"]), call.json(), call.q("valueInputOption"))
    return Reply(body=_with_updated_data(call, ss, resp))


def values_batch_update(call: Call) -> Reply:
    ss = _spreadsheet(call)
    body = call.json()
    data = body.get("data") or []
    responses = []
    marks: list[Touched] = []
    for i, vr in enumerate(data):
        resp, touched_cells = _write_values(ss, vr.get("range", ""), vr, body.get("valueInputOption"),
                                            f"data[{i}].values", None)
        responses.append(resp)
        if "updatedRange" in resp:
            marks.append(touched_cells)
    if body.get("includeValuesInResponse"):
        for resp in responses:
            if "updatedRange" in resp:
                resp["updatedData"] = read_value_range(
                    ss, resp["updatedRange"], body.get("responseValueRenderOption") or "FORMATTED_VALUE",
                    body.get("responseDateTimeRenderOption") or "SERIAL_NUMBER", "ROWS")
    out: dict[str, Any] = {"spreadsheetId": ss.id}
    touched = [r for r in responses if "updatedRange" in r]
    if touched:
        out["totalUpdatedRows"] = len({(sid, r) for sid, rows, _ in marks for r in rows})
        out["totalUpdatedColumns"] = len({(sid, c) for sid, _, cols in marks for c in cols})
        out["totalUpdatedCells"] = sum(r["updatedCells"] for r in touched)
        out["totalUpdatedSheets"] = len({sid for sid, _, _ in marks})
    if responses:
        out["responses"] = responses
    return Reply(body=out)


def _table_for_append(sheet: Sheet, sr: int, er: int, sc: int, ec: int,
                      whole: bool) -> tuple[int, int, int, int] | None:
    """Find the "table" values.append appends to (Google's heuristics, approximated)."""
    def filled(r: int, c: int) -> bool:
        cell = sheet.cell(r, c)
        return cell is not None and cell.kind is not None

    if not whole:
        if not filled(sr, sc):
            return None
        c_end = sc
        while c_end + 1 < sheet.col_count and filled(sr, c_end + 1):
            c_end += 1
        r_end = sr
        while r_end + 1 < sheet.row_count and any(filled(r_end + 1, c) for c in range(sc, c_end + 1)):
            r_end += 1
        return sr, r_end + 1, sc, c_end + 1
    rows = [r for r in sheet.rows if sr <= r < er and any(sc <= c < ec and x.kind is not None
                                                           for c, x in sheet.rows[r].items())]
    if not rows:
        return None
    last = max(rows)
    cols = sorted(c for c, x in sheet.rows[last].items() if sc <= c < ec and x.kind is not None)
    seg_end = cols[-1]
    seg_start = seg_end
    while seg_start - 1 >= sc and filled(last, seg_start - 1):
        seg_start -= 1
    top = last
    while top - 1 >= sr and any(filled(top - 1, c) for c in range(seg_start, seg_end + 1)):
        top -= 1
    return top, last + 1, seg_start, seg_end + 1


def values_append(call: Call) -> Reply:
    ss = _spreadsheet(call)
    text = unquote(call.params["range"])
    body = call.json()
    input_option = call.q("valueInputOption")
    sheet, grid = ss.resolve_range(text)
    sr, er, sc, ec = grid.clamp(sheet.row_count, sheet.col_count)
    whole = not (grid.end_row is not None and grid.end_col is not None and er - sr == 1 and ec - sc == 1)
    table = _table_for_append(sheet, sr, min(er, sheet.row_count), sc, min(ec, sheet.col_count), whole)
    values = _check_values(body.get("values"), "data.values")
    major = _major(body.get("majorDimension"))
    n_rows = len(values) if major == "ROWS" else max((len(v) for v in values), default=0)
    n_cols = max((len(v) for v in values), default=0) if major == "ROWS" else len(values)
    if table is None:
        start_r, start_c = sr, sc
    else:
        start_r, start_c = table[1], table[2]
    insert = (call.q("insertDataOption") or "OVERWRITE").upper() == "INSERT_ROWS"
    if start_c + n_cols > sheet.col_count:
        raise bad_request(
            f"Range ({a1.quote_title(sheet.title)}!{a1.col_to_letters(sheet.col_count)}{start_r + 1}) exceeds "
            f"grid limits. Max rows: {sheet.row_count}, max columns: {sheet.col_count}")
    grow = 0
    if insert and n_rows:
        from .batch import insert_dimension

        grow = n_rows
        ss.check_cell_limit(grow * sheet.col_count)
        insert_dimension(ss, sheet, "ROWS", min(start_r, sheet.row_count), n_rows, inherit_before=False)
    elif start_r + n_rows > sheet.row_count:
        grow = start_r + n_rows - sheet.row_count
        ss.check_cell_limit(grow * sheet.col_count)
        sheet.set_size(rows=sheet.row_count + grow)
    resp = write_values(ss, text, {"values": values, "majorDimension": major}, input_option,
                        anchor=(start_r, start_c))
    out: dict[str, Any] = {"spreadsheetId": ss.id}
    if table is not None:
        out["tableRange"] = a1.format_range(sheet.title, *table)
    out["updates"] = _with_updated_data(call, ss, resp)
    return Reply(body=out)


def clear_range(ss: Spreadsheet, text: str) -> str:
    sheet, grid = ss.resolve_range(text)
    sr, er, sc, ec = ss.bounded(sheet, grid, text)
    sheet.clear_values(sr, er, sc, ec)
    ss.touch()
    return a1.format_range(sheet.title, sr, er, sc, ec)


def values_clear(call: Call) -> Reply:
    ss = _spreadsheet(call)
    return Reply(body={"spreadsheetId": ss.id, "clearedRange": clear_range(ss, unquote(call.params["range"]))})


def values_batch_clear(call: Call) -> Reply:
    ss = _spreadsheet(call)
    ranges = call.json().get("ranges") or []
    cleared = [clear_range(ss, r) for r in ranges]
    out: dict[str, Any] = {"spreadsheetId": ss.id}
    if cleared:
        out["clearedRanges"] = cleared
    return Reply(body=out)


# ------------------------------------------------------------------ spreadsheets API


def spreadsheets_get(call: Call) -> Reply:
    ss = _spreadsheet(call)
    return Reply(body=spreadsheet_json(ss, call.q_bool("includeGridData"), call.query.get("ranges", []),
                                       call.q("fields")))


def spreadsheets_create(call: Call) -> Reply:
    body = call.json()
    props = body.get("properties") or {}
    sheets = body.get("sheets") or []
    titles = [s.get("properties", {}).get("title") or f"Sheet{i + 1}" for i, s in enumerate(sheets)] or None
    ss = call.state.create_spreadsheet(props.get("title") or "Untitled spreadsheet", owner=call.email,
                                       sheet_titles=titles, locale=props.get("locale", "en_US"))
    for key in ("timeZone", "autoRecalc"):
        if key in props:
            ss.props[key] = props[key]
    return Reply(body=spreadsheet_json(ss, False, [], call.q("fields")))


def spreadsheets_batch_update(call: Call) -> Reply:
    ss = _spreadsheet(call)
    return Reply(body=batch_update(call.state, ss, call.json()))


def developer_metadata_search(call: Call) -> Reply:
    from .batch import search_metadata

    ss = _spreadsheet(call)
    found = search_metadata(ss, call.json().get("dataFilters") or [])
    return Reply(body={"matchedDeveloperMetadata": found} if found else {})


def developer_metadata_get(call: Call) -> Reply:
    ss = _spreadsheet(call)
    md = ss.developer_metadata.get(int(call.params["metadata_id"]))
    if md is None:
        raise ApiError(404, f"No developer metadata with ID: {call.params['metadata_id']}")
    return Reply(body=md)


def values_batch_get_by_data_filter(call: Call) -> Reply:
    from .batch import metadata_ranges

    ss = _spreadsheet(call)
    body = call.json()
    vr = body.get("valueRenderOption") or "FORMATTED_VALUE"
    dr = body.get("dateTimeRenderOption") or "SERIAL_NUMBER"
    major = _major(body.get("majorDimension"))
    out = []
    for flt in body.get("dataFilters") or []:
        for text in metadata_ranges(ss, flt):
            out.append({"valueRange": read_value_range(ss, text, vr, dr, major), "dataFilters": [flt]})
    return Reply(body={"spreadsheetId": ss.id, "valueRanges": out} if out else {"spreadsheetId": ss.id})


# ---------------------------------------------------------------------------- Drive


def _file_json(ss: Spreadsheet, fields: str | None) -> dict[str, Any]:
    full = {
        "kind": "drive#file", "id": ss.id, "name": ss.title, "mimeType": ss.mime_type,
        "createdTime": ss.created, "modifiedTime": ss.modified, "trashed": ss.trashed,
        "parents": ss.parents, "owners": [{"emailAddress": ss.owner}] if ss.owner else [],
        "webViewLink": f"https://docs.google.com/spreadsheets/d/{ss.id}/edit?usp=drivesdk",
    }
    if not fields:
        return {k: full[k] for k in ("kind", "id", "name", "mimeType")}
    return fieldmask.apply(full, fieldmask.parse(fields))


def drive_create(call: Call) -> Reply:
    body = call.json()
    mime = body.get("mimeType") or SPREADSHEET_MIME
    if mime != SPREADSHEET_MIME:
        raise bad_request(f"The emulator only creates spreadsheets, not {mime}")
    ss = call.state.create_spreadsheet(body.get("name") or "Untitled spreadsheet", owner=call.email)
    ss.parents = list(body.get("parents") or [])
    return Reply(body=_file_json(ss, call.q("fields")))


def _drive_file(call: Call) -> Spreadsheet:
    ss = call.state.spreadsheets.get(call.params["id"])
    if ss is None or ss.trashed or not call.state.can_access(ss, call.email):
        raise ApiError(404, f"File not found: {call.params['id']}.", status="NOT_FOUND")
    return ss


def drive_get(call: Call) -> Reply:
    return Reply(body=_file_json(_drive_file(call), call.q("fields")))


def drive_delete(call: Call) -> Reply:
    ss = _drive_file(call)
    del call.state.spreadsheets[ss.id]
    return Reply(status=204, body=b"", content_type="text/html")


def drive_update(call: Call) -> Reply:
    ss = _drive_file(call)
    body = call.json()
    if "name" in body:
        ss.props["title"] = body["name"]
    if "trashed" in body:
        ss.trashed = bool(body["trashed"])
    ss.touch()
    return Reply(body=_file_json(ss, call.q("fields")))


def _parse_drive_query(q: str) -> dict[str, str]:
    """The few Drive ``q`` terms gspread sends: mimeType, name, parents."""
    out: dict[str, str] = {}
    for m in re.finditer(r"(mimeType|name)\s*=\s*(?:\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)')", q):
        out[m.group(1)] = (m.group(2) if m.group(2) is not None else m.group(3)).replace("\\", "")
    m = re.search(r"[\"']([^\"']+)[\"']\s+in\s+parents|parents\s+in\s+[\"']([^\"']+)[\"']", q)
    if m:
        out["parent"] = m.group(1) or m.group(2)
    return out


def drive_list(call: Call) -> Reply:
    files = []
    query = _parse_drive_query(call.q("q") or "")
    for ss in call.state.spreadsheets.values():
        if ss.trashed or ss.private or not call.state.can_access(ss, call.email):
            continue
        if query.get("name") is not None and ss.title != query["name"]:
            continue
        if query.get("mimeType") is not None and ss.mime_type != query["mimeType"]:
            continue
        if query.get("parent") is not None and query["parent"] not in ss.parents:
            continue
        files.append(ss)
    files.sort(key=lambda s: s.modified, reverse=True)
    fields = call.q("fields")
    file_mask = None
    if fields:
        file_mask = fieldmask.subtree(fieldmask.parse(fields), "files")
    items = [_file_json(ss, None) if file_mask in (None, False) else
             fieldmask.apply(_file_json(ss, "*"), file_mask) for ss in files]
    if file_mask is None and fields is None:
        items = [_file_json(ss, None) for ss in files]
    out = {"kind": "drive#fileList", "incompleteSearch": False, "files": items}
    if fields:
        out = fieldmask.apply(out, fieldmask.parse(fields))
    return Reply(body=out)


def drive_copy(call: Call) -> Reply:
    from .batch import copy_spreadsheet

    src = _drive_file(call)
    body = call.json()
    ss = copy_spreadsheet(call.state, src, body.get("name") or f"Copy of {src.title}", call.email)
    return Reply(body=_file_json(ss, call.q("fields")))


def drive_export(call: Call) -> Reply:
    ss = _drive_file(call)
    mime = call.q("mimeType")
    if mime not in ("text/csv", "text/tab-separated-values"):
        raise bad_request(f"Export to {mime} is not emulated (text/csv and TSV are).")
    sheet = ss.sheets[0]
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="," if mime == "text/csv" else "\t", lineterminator="\r\n")
    # Google's export has no line break after the last row.
    last_row = sheet.last_data_row()
    width = max((max(row) + 1 for row in sheet.rows.values() if row), default=0)
    with formulas.caching():
        for r in range(last_row):
            writer.writerow([sheet.render(r, c, "FORMATTED_VALUE", "FORMATTED_STRING") or "" for c in range(width)])
    return Reply(body=buf.getvalue().removesuffix("\r\n").encode(), content_type=mime)


def drive_upload_csv(call: Call) -> Reply:
    """Drive media upload with conversion (gspread's ``import_csv``): the CSV replaces every sheet."""
    ss = _drive_file(call)
    if "csv" not in call.headers.get("content-type", "text/csv"):
        raise bad_request("Only text/csv uploads are emulated.")
    rows = list(csv.reader(io.StringIO(call.body.decode("utf-8-sig"))))
    sheet = Sheet(call.state.new_int_id(), ss.title, 0, max(1000, len(rows)),
                  max([26] + [len(r) for r in rows]))
    sheet.locale = ss.props.get("locale", "en_US")
    ss.sheets = [sheet]
    formulas.attach(ss)
    ss.props["timeZone"] = "America/Los_Angeles"  # what Drive's conversion sets
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            _set_cell(sheet, r, c, text, "USER_ENTERED", sheet.locale)
    ss.touch()
    return Reply(body={"kind": "drive#file", "id": ss.id, "title": ss.title, "mimeType": ss.mime_type})


def drive_comments(call: Call) -> Reply:
    _drive_file(call)
    return Reply(body={"comments": []})


def permissions_create(call: Call) -> Reply:
    ss = _drive_file(call)
    body = call.json()
    perm = {"kind": "drive#permission", "id": str(call.state.new_int_id()), "type": body.get("type", "user"),
            "role": body.get("role", "reader")}
    for key in ("emailAddress", "domain"):
        if body.get(key):
            perm[key] = body[key]
    ss.permissions.append(perm)
    return Reply(body={k: perm[k] for k in ("kind", "id", "type", "role")})


def permissions_list(call: Call) -> Reply:
    ss = _drive_file(call)
    perms = list(ss.permissions)
    if ss.owner:
        perms.insert(0, {"kind": "drive#permission", "id": "owner", "type": "user", "role": "owner",
                         "emailAddress": ss.owner})
    return Reply(body={"kind": "drive#permissionList", "permissions": perms})


def permissions_delete(call: Call) -> Reply:
    ss = _drive_file(call)
    before = len(ss.permissions)
    ss.permissions = [p for p in ss.permissions if p["id"] != call.params["permission_id"]]
    if len(ss.permissions) == before:
        raise ApiError(404, f"Permission not found: {call.params['permission_id']}.")
    return Reply(status=204, body=b"", content_type="text/html")


# ----------------------------------------------------------------------------- OAuth


def token(call: Call) -> Reply:
    status, body = auth.token_endpoint(call.state, call.body, call.headers.get("content-type", ""))
    return Reply(status=status, body=body)


def not_found(call: Call) -> Reply:
    raise ApiError(404, NOT_FOUND)
