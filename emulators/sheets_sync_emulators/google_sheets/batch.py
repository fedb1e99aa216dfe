"""``spreadsheets.batchUpdate``: one function per request kind.

Each ``_kind(ctx, req)`` mutates the spreadsheet and returns the reply (``{}`` when the
real API sends an empty reply). The batch is all-or-nothing like Google's: the
spreadsheet's structure is snapshotted first (row dicts copied, Cell objects shared and
copied on first write during the batch) and restored if any request fails.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

from . import fieldmask, formulas, metadata
from .common import Ctx, apply_fields, bounds, dim_bounds, dim_range_json, get_path, set_path
from .errors import ApiError, bad_request, field_violation
from .metadata import copy_spreadsheet, metadata_ranges, search_metadata
from .render import normalise_color, normalise_format
from .state import EmulatorState, Sheet, Spreadsheet, deep_copy
from .values import Cell

__all__ = ["batch_update", "copy_spreadsheet", "insert_dimension", "metadata_ranges", "search_metadata"]

_SHEET_FIELDS = ("props", "row_meta", "col_meta", "merges", "conditional_formats", "basic_filter",
                 "protected_ranges", "row_groups", "column_groups", "locale")


def _snapshot(ss: Spreadsheet) -> dict[str, Any]:
    sheets = []
    for sheet in ss.sheets:
        saved = {name: copy.deepcopy(getattr(sheet, name)) for name in _SHEET_FIELDS}
        saved["rows"] = {r: dict(row) for r, row in sheet.rows.items()}
        sheets.append((sheet, saved))
        sheet.fresh = set()  # copy-on-write for the cells this batch touches
    return {"sheets": sheets, "order": list(ss.sheets), "props": copy.deepcopy(ss.props),
            "named_ranges": copy.deepcopy(ss.named_ranges),
            "developer_metadata": copy.deepcopy(ss.developer_metadata)}


def _restore(ss: Spreadsheet, snap: dict[str, Any]) -> None:
    ss.sheets = snap["order"]
    ss.props, ss.named_ranges, ss.developer_metadata = snap["props"], snap["named_ranges"], snap["developer_metadata"]
    for sheet, saved in snap["sheets"]:
        for name, value in saved.items():
            setattr(sheet, name, value)


def _flatten(requests: list[Any]) -> list[Any]:
    """Nested ``requests`` arrays (pygsheets, gspread-formatting send them) as one flat list,
    which is what Google accepts them as."""
    out: list[Any] = []
    for req in requests:
        out.extend(_flatten(req) if isinstance(req, list) else [req])
    return out


def batch_update(state: EmulatorState, ss: Spreadsheet, body: dict[str, Any]) -> dict[str, Any]:
    requests = body.get("requests")
    if isinstance(requests, list):
        requests = _flatten(requests)
    if not isinstance(requests, list) or not requests:
        raise bad_request("Must specify at least one request.")
    snapshot = _snapshot(ss)
    ctx = Ctx(state, ss)
    replies = []
    try:
        for i, req in enumerate(requests):
            if not isinstance(req, dict) or len(req) != 1:
                raise bad_request(f"Invalid requests[{i}]: exactly one request kind must be set.")
            kind, payload = next(iter(req.items()))
            fn = KINDS.get(kind)
            if fn is None and kind in REAL_KINDS:
                raise ApiError(501, f"not emulated: {kind} (requests[{i}]); the emulator implements "
                               f"{', '.join(sorted(KINDS))}", status="UNIMPLEMENTED")
            if fn is None:
                msg = f"Invalid JSON payload received. Unknown name \"{kind}\" at 'requests[{i}]': Cannot find field."
                raise field_violation(f"requests[{i}]", msg)
            try:
                replies.append(fn(ctx, payload or {}))
            except ApiError as err:
                if err.code == 400 and not err.message.startswith("Invalid"):
                    err.message = f"Invalid requests[{i}].{kind}: {err.message}"
                raise
            except (KeyError, TypeError, ValueError, IndexError) as err:
                raise bad_request(f"Invalid requests[{i}].{kind}: {type(err).__name__}: {err}") from None
    except ApiError:
        _restore(ss, snapshot)
        raise
    finally:
        for sheet in ss.sheets:
            sheet.fresh = None
    ss.touch()
    out: dict[str, Any] = {"spreadsheetId": ss.id, "replies": replies}
    if body.get("includeSpreadsheetInResponse"):
        from .render import spreadsheet_json

        out["updatedSpreadsheet"] = spreadsheet_json(ss, bool(body.get("responseIncludeGridData")),
                                                     body.get("responseRanges") or [], None)
    return out

def _shift(x: int | None, start: int, count: int) -> int | None:
    """Index after inserting ``count`` at ``start`` (count < 0: deleting [start, start-count))."""
    if x is None:
        return None
    if count >= 0:
        return x + count if x >= start else x
    end = start - count
    if x <= start:
        return x
    return start if x <= end else x + count


# --------------------------------------------------------------------------- dimensions


def insert_dimension(ss: Spreadsheet, sheet: Sheet, dim: str, start: int, count: int, inherit_before: bool) -> None:
    ss.check_cell_limit(count * (sheet.col_count if dim == "ROWS" else sheet.row_count))
    _move_dimension(ss, sheet, dim, start, count)
    gp = sheet.props["gridProperties"]
    gp["rowCount" if dim == "ROWS" else "columnCount"] += count
    src = start - 1 if inherit_before else start + count
    if 0 <= src < (sheet.row_count if dim == "ROWS" else sheet.col_count):
        for i in range(start, start + count):
            if dim == "ROWS":
                for c, cell in (sheet.rows.get(src) or {}).items():
                    if cell.fmt or cell.validation:
                        new = sheet.cell_for_write(i, c)
                        new.fmt, new.validation = deep_copy(cell.fmt), deep_copy(cell.validation)
            else:
                for r, row in list(sheet.rows.items()):
                    cell = row.get(src)
                    if cell is not None and (cell.fmt or cell.validation):
                        new = sheet.cell_for_write(r, i)
                        new.fmt, new.validation = deep_copy(cell.fmt), deep_copy(cell.validation)


def _move_dimension(ss: Spreadsheet, sheet: Sheet, dim: str, start: int, count: int) -> None:
    """Shift cells, metadata and ranges for an insert (count > 0) or delete (count < 0)."""
    end = start - count if count < 0 else start

    def keep(i: int) -> bool:
        return not (count < 0 and start <= i < end)

    if dim == "ROWS":
        sheet.rows = {_shift(r, start, count): row for r, row in sheet.rows.items() if keep(r)}
        sheet.row_meta = {_shift(r, start, count): m for r, m in sheet.row_meta.items() if keep(r)}
        keys = ("startRowIndex", "endRowIndex")
    else:
        sheet.rows = {r: {_shift(c, start, count): cell for c, cell in row.items() if keep(c)}
                      for r, row in sheet.rows.items()}
        sheet.rows = {r: row for r, row in sheet.rows.items() if row}
        sheet.col_meta = {_shift(c, start, count): m for c, m in sheet.col_meta.items() if keep(c)}
        keys = ("startColumnIndex", "endColumnIndex")
    for rng in ss.grid_ranges(sheet):
        for key in keys:
            if key in rng:
                rng[key] = _shift(rng[key], start, count)
    for dr in ss.dimension_ranges(sheet, dim):
        dr["startIndex"] = _shift(dr["startIndex"], start, count)
        dr["endIndex"] = _shift(dr["endIndex"], start, count)
    if count < 0:
        _drop_empty_ranges(ss, sheet, keys)


def _drop_empty_ranges(ss: Spreadsheet, sheet: Sheet, keys: tuple[str, str]) -> None:
    def empty(rng: dict[str, Any]) -> bool:
        return keys[0] in rng and keys[1] in rng and rng[keys[0]] >= rng[keys[1]]

    sheet.merges = [m for m in sheet.merges if not empty(m)]
    sheet.protected_ranges = [p for p in sheet.protected_ranges if not empty(p.get("range", {}))]
    for rule in sheet.conditional_formats:
        rule["ranges"] = [r for r in rule.get("ranges", []) if not empty(r)]
    sheet.conditional_formats = [r for r in sheet.conditional_formats if r.get("ranges")]
    for md_id in [k for k, md in ss.developer_metadata.items()
                  if (dr := md["location"].get("dimensionRange")) and dr["startIndex"] >= dr["endIndex"]]:
        del ss.developer_metadata[md_id]
    for groups in (sheet.row_groups, sheet.column_groups):
        groups[:] = [g for g in groups if g["range"]["startIndex"] < g["range"]["endIndex"]]


def _insert_dimension(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    rng = req["range"]
    sheet = ctx.ss.sheet_by_id(rng.get("sheetId", 0))
    dim = rng["dimension"]
    start, end = rng.get("startIndex") or 0, rng["endIndex"]
    size = sheet.row_count if dim == "ROWS" else sheet.col_count
    if start > size or end <= start:
        raise bad_request(f"Invalid dimension range {start}:{end}.")
    if req.get("inheritFromBefore") and start == 0:
        raise bad_request("Cannot inherit from before the first row/column.")
    insert_dimension(ctx.ss, sheet, dim, start, end - start, bool(req.get("inheritFromBefore")))
    return {}


def _append_dimension(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    sheet = ctx.ss.sheet_by_id(req.get("sheetId", 0))
    dim, length = req["dimension"], int(req["length"])
    if length < 1:
        raise bad_request("length must be at least 1")
    size = sheet.row_count if dim == "ROWS" else sheet.col_count
    insert_dimension(ctx.ss, sheet, dim, size, length, inherit_before=False)
    return {}


def _delete_dimension(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    sheet, dim, start, end = dim_bounds(ctx, req["range"])
    size = sheet.row_count if dim == "ROWS" else sheet.col_count
    if end - start >= size:
        raise bad_request(f"You can't delete all the {dim.lower()} on the sheet.")
    _move_dimension(ctx.ss, sheet, dim, start, start - end)
    sheet.props["gridProperties"]["rowCount" if dim == "ROWS" else "columnCount"] -= end - start
    return {}


def _update_dimension_properties(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    sheet, dim, start, end = dim_bounds(ctx, req["range"])
    store = sheet.row_meta if dim == "ROWS" else sheet.col_meta
    for i in range(start, end):
        meta = store.setdefault(i, {})
        apply_fields(meta, req.get("properties") or {}, req.get("fields", ""))
        if not meta:
            del store[i]
    return {}


def _text_width(text: str) -> int:
    return round(sum(8.48 if ch.isupper() else 3.5 if ch == " " else 6.9 for ch in text) + 7)


def _auto_resize(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    sheet, dim, start, end = dim_bounds(ctx, req["dimensions"])
    with formulas.caching():
        _resize(sheet, dim, start, end)
    return {}


def _resize(sheet: Sheet, dim: str, start: int, end: int) -> None:
    for i in range(start, end):
        if dim == "COLUMNS":
            texts = [str(sheet.render(r, i, "FORMATTED_VALUE", "FORMATTED_STRING") or "") for r in sheet.rows]
            size = max([_text_width(max(t.split("\n"), key=len)) for t in texts if t], default=100)
            sheet.col_meta.setdefault(i, {})["pixelSize"] = size
        else:
            lines = max([str(sheet.render(i, c, "FORMATTED_VALUE", "FORMATTED_STRING") or "").count("\n") + 1
                         for c in (sheet.rows.get(i) or {})], default=1)
            sheet.row_meta.setdefault(i, {})["pixelSize"] = 21 * lines


def _dimension_group(ctx: Ctx, req: dict[str, Any], add: bool) -> dict[str, Any]:
    sheet, dim, start, end = dim_bounds(ctx, req["range"])
    groups = sheet.row_groups if dim == "ROWS" else sheet.column_groups
    rng = dim_range_json(sheet, dim, start, end)
    if add:
        depth = 1 + sum(1 for g in groups if g["range"]["startIndex"] <= start and end <= g["range"]["endIndex"])
        groups.append({"range": rng, "depth": depth})
        key = "rowGroupControlAfter" if dim == "ROWS" else "columnGroupControlAfter"
        sheet.props["gridProperties"][key] = True
    else:
        match = [g for g in groups if g["range"]["startIndex"] == start and g["range"]["endIndex"] == end]
        if not match:
            raise bad_request("No dimension group matches that range.")
        groups.remove(max(match, key=lambda g: g["depth"]))
    name = "addDimensionGroup" if add else "deleteDimensionGroup"
    return {name: {"dimensionGroups": deep_copy(groups)} if groups else {}}


# -------------------------------------------------------------------------------- sheets


def _check_title(ss: Spreadsheet, title: str, exclude: Sheet | None = None) -> None:
    for sheet in ss.sheets:
        if sheet is not exclude and sheet.title.lower() == title.lower():
            raise bad_request(f'A sheet with the name "{title}" already exists. Please enter another name.')


def _add_sheet(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    ss = ctx.ss
    props = req.get("properties") or {}
    n = len(ss.sheets) + 1
    title = props.get("title")
    if not title:
        while ss.sheet_by_title(f"Sheet{n}"):
            n += 1
        title = f"Sheet{n}"
    _check_title(ss, title)
    sheet_id = props.get("sheetId")
    if sheet_id is None:
        sheet_id = ctx.state.new_int_id()
    elif any(s.id == sheet_id for s in ss.sheets):
        raise bad_request(f"Sheet with id {sheet_id} already exists.")
    gp = props.get("gridProperties") or {}
    rows, cols = gp.get("rowCount", 1000), gp.get("columnCount", 26)
    ss.check_cell_limit(rows * cols)
    index = props.get("index", len(ss.sheets))
    for s in ss.sheets:
        if s.props["index"] >= index:
            s.props["index"] += 1
    sheet = Sheet(sheet_id, title, index, rows, cols)
    sheet.locale = ss.props.get("locale", "en_US")
    for key, value in props.items():
        if key not in ("sheetId", "title", "index", "gridProperties"):
            set_path(sheet.props, [key], value)
    for key, value in gp.items():
        if key not in ("rowCount", "columnCount"):
            set_path(sheet.props["gridProperties"], [key], value)
    _normalise_tab_color(sheet.props)
    ss.sheets.append(sheet)
    formulas.attach(ss)
    ss.reindex()
    return {"addSheet": {"properties": deep_copy(sheet.props)}}


def _delete_sheet(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    ss = ctx.ss
    sheet = ss.sheet_by_id(req.get("sheetId", 0))
    if len(ss.sheets) == 1:
        raise bad_request("You can't remove all the sheets in a document.")
    ss.sheets.remove(sheet)
    ss.named_ranges = {k: v for k, v in ss.named_ranges.items() if v["range"].get("sheetId", 0) != sheet.id}
    ss.developer_metadata = {
        k: md for k, md in ss.developer_metadata.items()
        if md["location"].get("sheetId", (md["location"].get("dimensionRange") or {}).get("sheetId", -1)) != sheet.id
        or md["location"].get("locationType") == "SPREADSHEET"
    }
    ss.reindex()
    if all(s.props.get("hidden") for s in ss.sheets):
        ss.sheets[0].props.pop("hidden", None)
    return {}


def _normalise_tab_color(props: dict[str, Any]) -> None:
    style = props.get("tabColorStyle")
    if isinstance(style, dict) and style.get("rgbColor") is None and "themeColor" not in style:
        props.pop("tabColorStyle", None)
        props.pop("tabColor", None)
        return
    if isinstance(style, dict) and isinstance(style.get("rgbColor"), dict):
        style["rgbColor"] = normalise_color(style["rgbColor"])
        props["tabColor"] = deep_copy(style["rgbColor"])
    elif isinstance(props.get("tabColor"), dict):
        props["tabColor"] = normalise_color(props["tabColor"])
        props["tabColorStyle"] = {"rgbColor": deep_copy(props["tabColor"])}


def _update_sheet_properties(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    ss = ctx.ss
    props = req.get("properties") or {}
    sheet = ss.sheet_by_id(props.get("sheetId", 0))
    paths = fieldmask.split_update_paths(req.get("fields", ""))
    if not req.get("fields"):
        raise bad_request("At least one field must be specified.")
    for path in paths:
        if path == ["*"]:
            paths = [[k] for k in props if k != "sheetId"]
            break
    new_props = deep_copy(sheet.props)
    for path in paths:
        if path[0] == "sheetId":
            continue
        if path[0] in ("tabColor", "tabColorStyle"):
            new_props.pop("tabColor", None)
            new_props.pop("tabColorStyle", None)
        set_path(new_props, path, get_path(props, path))
    _normalise_tab_color(new_props)
    gp_old, gp_new = sheet.props["gridProperties"], new_props.setdefault("gridProperties", {})
    rows, cols = gp_new.get("rowCount", gp_old["rowCount"]), gp_new.get("columnCount", gp_old["columnCount"])
    if new_props.get("title") != sheet.title:
        if not new_props.get("title"):
            raise bad_request("The sheet title cannot be empty.")
        _check_title(ss, new_props["title"], exclude=sheet)
    if new_props.get("hidden") and all(s.props.get("hidden") or s is sheet for s in ss.sheets):
        raise bad_request("You can't hide all the sheets in a document.")
    ss.check_cell_limit(rows * cols - gp_old["rowCount"] * gp_old["columnCount"])
    new_index = new_props.get("index", sheet.props["index"])
    gp_new["rowCount"], gp_new["columnCount"] = gp_old["rowCount"], gp_old["columnCount"]
    sheet.props = new_props
    sheet.set_size(rows, cols)
    old_index = ss.sheets.index(sheet)
    if new_index != old_index:
        # Google counts the target index "before the move": S1 ahead of S2 in (S1, S2, S3) is index 2.
        ss.sheets.remove(sheet)
        target = new_index if new_index <= old_index else new_index - 1
        ss.sheets.insert(min(max(target, 0), len(ss.sheets)), sheet)
    for i, s in enumerate(ss.sheets):
        s.props["index"] = i
    return {}


def _update_spreadsheet_properties(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    apply_fields(ctx.ss.props, req.get("properties") or {}, req.get("fields", ""))
    if not ctx.ss.props.get("title"):
        raise bad_request("The spreadsheet title cannot be empty.")
    for sheet in ctx.ss.sheets:
        sheet.locale = ctx.ss.props.get("locale", "en_US")
    return {}


# -------------------------------------------------------------------------------- cells


def _apply_cell(cell: Cell, data: dict[str, Any], paths: list[list[str]], locale: str) -> None:
    for path in paths:
        head = path[0]
        if head == "*":
            _apply_cell(cell, data, [["userEnteredValue"], ["userEnteredFormat"], ["note"], ["dataValidation"],
                                     ["textFormatRuns"]], locale)
        elif head == "userEnteredValue":
            uev = data.get("userEnteredValue") or {}
            if "stringValue" in uev:
                cell.kind, cell.value = "s", uev["stringValue"]
            elif "numberValue" in uev:
                cell.kind, cell.value = "n", uev["numberValue"]
            elif "boolValue" in uev:
                cell.kind, cell.value = "b", uev["boolValue"]
            elif "formulaValue" in uev:
                cell.kind, cell.value = "f", uev["formulaValue"]
            else:
                cell.kind = cell.value = None
            if cell.kind == "s" and cell.value == "":
                cell.kind = cell.value = None
        elif head == "userEnteredFormat":
            fmt = dict(cell.fmt or {})
            src = {"userEnteredFormat": data.get("userEnteredFormat") or {}}
            if len(path) == 1:
                fmt = deep_copy(src["userEnteredFormat"])
            else:
                set_path(fmt, path[1:], get_path(src, path))
                if path[1] in ("backgroundColor", "backgroundColorStyle"):
                    fmt.pop("backgroundColorStyle" if path[1] == "backgroundColor" else "backgroundColor", None)
            cell.fmt = normalise_format(fmt) if fmt else None
        elif head == "note":
            cell.note = data.get("note") or None
        elif head == "dataValidation":
            cell.validation = deep_copy(data.get("dataValidation")) or None
        elif head == "textFormatRuns":
            cell.runs = [_format_run(run) for run in data.get("textFormatRuns") or []] or None


def _format_run(run: dict[str, Any]) -> dict[str, Any]:
    """One run as Google echoes it: ``startIndex`` 0 omitted, colours quantised with twins."""
    out: dict[str, Any] = {}
    if run.get("startIndex"):
        out["startIndex"] = run["startIndex"]
    fmt = normalise_format({"textFormat": run.get("format") or {}})["textFormat"]
    out["format"] = fmt
    return out


def _write_cells(sheet: Sheet, sr: int, sc: int, rows: list[dict[str, Any]], fields: str,
                 fill: tuple[int, int] | None, locale: str) -> None:
    paths = fieldmask.split_update_paths(fields)
    if not fields:
        raise bad_request("At least one field must be specified.")
    height = fill[0] if fill else len(rows)
    for i in range(height):
        values = (rows[i].get("values") or []) if i < len(rows) else []
        width = fill[1] if fill else len(values)
        for j in range(width):
            data = values[j] if j < len(values) else {}
            cell = sheet.cell_for_write(sr + i, sc + j)
            _apply_cell(cell, data or {}, paths, locale)
            sheet.drop_if_blank(sr + i, sc + j)


def _update_cells(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    rows = req.get("rows") or []
    if "range" in req:
        sheet, sr, er, sc, ec = bounds(ctx, req["range"])
        fill: tuple[int, int] | None = (er - sr, ec - sc)
    else:
        start = req.get("start") or {}
        sheet = ctx.ss.sheet_by_id(start.get("sheetId", 0))
        sr, sc = start.get("rowIndex") or 0, start.get("columnIndex") or 0
        fill = None
        width = max((len(r.get("values") or []) for r in rows), default=0)
        if sr + len(rows) > sheet.row_count or sc + width > sheet.col_count:
            raise bad_request(f"Range exceeds grid limits. Max rows: {sheet.row_count}, max columns: {sheet.col_count}")
    _write_cells(sheet, sr, sc, rows, req.get("fields", ""), fill, sheet.locale)
    return {}


def _repeat_cell(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    sheet, sr, er, sc, ec = bounds(ctx, req["range"])
    paths = fieldmask.split_update_paths(req.get("fields", ""))
    if not req.get("fields"):
        raise bad_request("At least one field must be specified.")
    data = req.get("cell") or {}
    for r in range(sr, er):
        for c in range(sc, ec):
            _apply_cell(sheet.cell_for_write(r, c), data, paths, sheet.locale)
            sheet.drop_if_blank(r, c)
    return {}


def _set_data_validation(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    sheet, sr, er, sc, ec = bounds(ctx, req["range"])
    rule = req.get("rule")
    for r in range(sr, er):
        for c in range(sc, ec):
            sheet.cell_for_write(r, c).validation = deep_copy(rule) if rule else None
            sheet.drop_if_blank(r, c)
    return {}


def _sort_key(v: Any) -> tuple[int, Any]:
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, (int, float)):
        return (0, v)
    return (1, str(v).lower())


def _sort_range(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    sheet, sr, er, sc, ec = bounds(ctx, req["range"])
    specs = req.get("sortSpecs") or [{"dimensionIndex": sc, "sortOrder": "ASCENDING"}]
    last = max([r for r in sheet.rows if sr <= r < er], default=sr - 1)
    order = list(range(sr, last + 1))
    snapshot = {r: {c: sheet.rows[r][c] for c in (sheet.rows.get(r) or {}) if sc <= c < ec} for r in order}
    with formulas.caching():
        values = {r: {s["dimensionIndex"]: sheet.effective(r, s["dimensionIndex"]) for s in specs} for r in order}

    def compare(a: int, b: int) -> int:
        for spec in specs:
            col = spec["dimensionIndex"]
            va, vb = values[a][col], values[b][col]
            ea, eb = va in (None, ""), vb in (None, "")
            if ea or eb:
                if ea != eb:
                    return 1 if ea else -1  # blanks always last
                continue
            ka, kb = _sort_key(va), _sort_key(vb)
            if ka != kb:
                result = -1 if ka < kb else 1
                return -result if spec.get("sortOrder") == "DESCENDING" else result
        return 0

    new_order = sorted(order, key=functools.cmp_to_key(compare))
    full_width = sc == 0 and ec >= sheet.col_count
    moved_meta = {old: new for new, old in zip(order, new_order, strict=True)} if full_width else {}
    for r in order:
        row = sheet.rows.get(r)
        if row:
            for c in [c for c in row if sc <= c < ec]:
                del row[c]
            if not row:
                del sheet.rows[r]
    for new_r, old_r in zip(order, new_order, strict=True):
        for c, cell in snapshot[old_r].items():
            sheet.rows.setdefault(new_r, {})[c] = cell
    if moved_meta:
        for md in ctx.ss.developer_metadata.values():
            dr = md["location"].get("dimensionRange")
            if dr and dr.get("sheetId", 0) == sheet.id and dr["dimension"] == "ROWS" \
                    and dr["endIndex"] - dr["startIndex"] == 1 and dr["startIndex"] in moved_meta:
                dr["startIndex"] = moved_meta[dr["startIndex"]]
                dr["endIndex"] = dr["startIndex"] + 1
        old_meta = dict(sheet.row_meta)
        for new in moved_meta.values():
            sheet.row_meta.pop(new, None)
        for old, new in moved_meta.items():
            if old in old_meta:
                sheet.row_meta[new] = old_meta[old]
    return {}


def _paste(ctx: Ctx, req: dict[str, Any], cut: bool) -> dict[str, Any]:
    sheet, sr, er, sc, ec = bounds(ctx, req["source"])
    dest = req["destination"]
    dsheet = ctx.ss.sheet_by_id(dest.get("sheetId", 0))
    if cut:
        dr, dc = dest.get("rowIndex") or 0, dest.get("columnIndex") or 0
        der, dec = dr + er - sr, dc + ec - sc
    else:
        _, dr, der, dc, dec = bounds(ctx, dest)
    paste_type = req.get("pasteType", "PASTE_NORMAL")
    src = {(r - sr, c - sc): sheet.cell(r, c).copy() for r in range(sr, er) for c in range(sc, ec)
           if sheet.cell(r, c) is not None}
    if cut:
        for r in range(sr, er):
            for c in range(sc, ec):
                if sheet.cell(r, c) is not None:
                    del sheet.rows[r][c]
                    if not sheet.rows[r]:
                        del sheet.rows[r]
    h, w = er - sr, ec - sc
    der, dec = max(der, dr + h), max(dec, dc + w)
    if der > dsheet.row_count or dec > dsheet.col_count:
        raise bad_request("The destination exceeds grid limits.")
    for r in range(dr, der):
        for c in range(dc, dec):
            cell = src.get(((r - dr) % h, (c - dc) % w))
            target = dsheet.cell_for_write(r, c)
            if paste_type in ("PASTE_NORMAL", "PASTE_VALUES"):
                target.kind, target.value = (cell.kind, cell.value) if cell else (None, None)
            if paste_type in ("PASTE_NORMAL", "PASTE_FORMAT"):
                target.fmt = deep_copy(cell.fmt) if cell else None
            if paste_type in ("PASTE_NORMAL", "PASTE_DATA_VALIDATION"):
                target.validation = deep_copy(cell.validation) if cell else None
            dsheet.drop_if_blank(r, c)
    return {}


def _merge_cells(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    sheet, sr, er, sc, ec = bounds(ctx, req["range"])
    mtype = req.get("mergeType", "MERGE_ALL")
    if mtype == "MERGE_ROWS":
        regions = [(r, r + 1, sc, ec) for r in range(sr, er)]
    elif mtype == "MERGE_COLUMNS":
        regions = [(sr, er, c, c + 1) for c in range(sc, ec)]
    else:
        regions = [(sr, er, sc, ec)]
    sheet.merges = [m for m in sheet.merges if not _overlaps(m, sr, er, sc, ec)]
    for r0, r1, c0, c1 in regions:
        if (r1 - r0) * (c1 - c0) < 2:
            continue
        sheet.merges.append(sheet.grid_range_json(r0, r1, c0, c1))
        for r in range(r0, r1):
            for c in range(c0, c1):
                if (r, c) != (r0, c0) and sheet.cell(r, c) is not None:
                    cell = sheet.cell_for_write(r, c)
                    cell.kind = cell.value = None
                    sheet.drop_if_blank(r, c)
    return {}


def _overlaps(m: dict[str, Any], sr: int, er: int, sc: int, ec: int) -> bool:
    return m["startRowIndex"] < er and sr < m["endRowIndex"] and m["startColumnIndex"] < ec and sc < m["endColumnIndex"]


def _unmerge_cells(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    sheet, sr, er, sc, ec = bounds(ctx, req["range"])
    sheet.merges = [m for m in sheet.merges if not _overlaps(m, sr, er, sc, ec)]
    return {}

KINDS: dict[str, Callable[[Ctx, dict[str, Any]], dict[str, Any]]] = {
    "addSheet": _add_sheet,
    "deleteSheet": _delete_sheet,
    "updateSheetProperties": _update_sheet_properties,
    "updateSpreadsheetProperties": _update_spreadsheet_properties,
    "updateCells": _update_cells,
    "repeatCell": _repeat_cell,
    "setDataValidation": _set_data_validation,
    "addConditionalFormatRule": metadata.add_conditional_format,
    "updateConditionalFormatRule": metadata.update_conditional_format,
    "deleteConditionalFormatRule": metadata.delete_conditional_format,
    "appendDimension": _append_dimension,
    "insertDimension": _insert_dimension,
    "deleteDimension": _delete_dimension,
    "updateDimensionProperties": _update_dimension_properties,
    "autoResizeDimensions": _auto_resize,
    "addDimensionGroup": lambda ctx, req: _dimension_group(ctx, req, True),
    "deleteDimensionGroup": lambda ctx, req: _dimension_group(ctx, req, False),
    "setBasicFilter": metadata.set_basic_filter,
    "clearBasicFilter": metadata.clear_basic_filter,
    "sortRange": _sort_range,
    "copyPaste": lambda ctx, req: _paste(ctx, req, False),
    "cutPaste": lambda ctx, req: _paste(ctx, req, True),
    "mergeCells": _merge_cells,
    "unmergeCells": _unmerge_cells,
    "addNamedRange": metadata.add_named_range,
    "updateNamedRange": metadata.update_named_range,
    "deleteNamedRange": metadata.delete_named_range,
    "addProtectedRange": metadata.add_protected_range,
    "deleteProtectedRange": metadata.delete_protected_range,
    "createDeveloperMetadata": metadata.create_developer_metadata,
    "updateDeveloperMetadata": metadata.update_developer_metadata,
    "deleteDeveloperMetadata": metadata.delete_developer_metadata,
}

#: every request kind of the real API (the ``Request`` union in the v4 reference): a kind here but
#: not in :data:`KINDS` is a 501 "not emulated"; any other name is Google's 400 "Unknown name".
REAL_KINDS = frozenset({
    "updateSpreadsheetProperties", "updateSheetProperties", "updateDimensionProperties",
    "updateNamedRange", "repeatCell", "addNamedRange", "deleteNamedRange", "addSheet", "deleteSheet",
    "autoFill", "cutPaste", "copyPaste", "mergeCells", "unmergeCells", "updateBorders", "updateCells",
    "addFilterView", "appendCells", "clearBasicFilter", "deleteDimension", "deleteEmbeddedObject",
    "deleteFilterView", "duplicateFilterView", "duplicateSheet", "findReplace", "insertDimension",
    "insertRange", "moveDimension", "updateEmbeddedObjectPosition", "pasteData", "textToColumns",
    "updateFilterView", "deleteRange", "appendDimension", "addConditionalFormatRule",
    "updateConditionalFormatRule", "deleteConditionalFormatRule", "sortRange", "setDataValidation",
    "setBasicFilter", "addProtectedRange", "updateProtectedRange", "deleteProtectedRange",
    "autoResizeDimensions", "addChart", "updateChartSpec", "updateBanding", "addBanding", "deleteBanding",
    "createDeveloperMetadata", "updateDeveloperMetadata", "deleteDeveloperMetadata", "randomizeRange",
    "addDimensionGroup", "deleteDimensionGroup", "updateDimensionGroup", "trimWhitespace",
    "deleteDuplicates", "updateEmbeddedObjectBorder", "addSlicer", "updateSlicerSpec", "addDataSource",
    "updateDataSource", "deleteDataSource", "refreshDataSource", "cancelDataSourceRefresh", "addTable",
    "updateTable", "deleteTable",
})
