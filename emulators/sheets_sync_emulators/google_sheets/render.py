"""Spreadsheet resources as JSON: ``spreadsheets.get`` bodies, GridData, CellData."""

from __future__ import annotations

import math
import re
import struct
from typing import Any

from . import fieldmask, formulas
from .a1 import A1Error
from .conditional import conditional_format
from .errors import bad_request
from .state import DEFAULT_COL_PX, DEFAULT_ROW_PX, Sheet, Spreadsheet, deep_copy
from .values import ERRORS, Cell, as_json_number

COLOR_KEYS = ("red", "green", "blue", "alpha")


def _f32(v: float) -> float:
    return struct.unpack("f", struct.pack("f", v))[0]


def float32(v: float) -> float | int:
    """The shortest decimal that survives a float32 round trip (Google stores colours as float32)."""
    if isinstance(v, int) or float(v).is_integer():
        return int(v)
    target = struct.unpack("f", struct.pack("f", v))[0]
    for digits in range(1, 10):
        cand = float(f"{target:.{digits}g}")
        if struct.unpack("f", struct.pack("f", cand))[0] == target:
            return cand
    return target


def normalise_color(color: dict[str, Any] | None) -> dict[str, Any]:
    """Quantise a colour to 8 bits per channel like Sheets does; zero channels vanish."""
    out: dict[str, Any] = {}
    for key in COLOR_KEYS:
        v = (color or {}).get(key)
        if v is None:
            continue
        if key != "alpha":  # float32 like Google, then truncated to 8 bits: 0.5 -> 127/255
            v = math.floor(_f32(_f32(float(v)) * 255)) / 255
        v = float32(v)
        if v:
            out[key] = v
    return out


def normalise_format(fmt: dict[str, Any]) -> dict[str, Any]:
    """Add the ``*Style`` twins Google adds to colours and quantise channels."""
    fmt = deep_copy(fmt)
    _twin(fmt, "backgroundColor", "backgroundColorStyle")
    text = fmt.get("textFormat")
    if isinstance(text, dict):
        _twin(text, "foregroundColor", "foregroundColorStyle")
    for side in ("top", "bottom", "left", "right"):
        border = (fmt.get("borders") or {}).get(side)
        if isinstance(border, dict):
            _twin(border, "color", "colorStyle")
    return fmt


def _twin(obj: dict[str, Any], plain: str, style: str) -> None:
    if isinstance(obj.get(plain), dict):
        obj[plain] = normalise_color(obj[plain])
        obj.setdefault(style, {"rgbColor": obj[plain]})
    if isinstance(obj.get(style), dict):
        if "rgbColor" in obj[style]:
            obj[style]["rgbColor"] = normalise_color(obj[style]["rgbColor"])
            obj.setdefault(plain, obj[style]["rgbColor"])


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = deep_copy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = deep_copy(v)
    return out


def cell_json(sheet: Sheet, ss: Spreadsheet, r: int, c: int, cell: Cell | None) -> dict[str, Any]:
    if cell is None:
        return {}
    out: dict[str, Any] = {}
    if cell.kind is not None:
        key = {"s": "stringValue", "n": "numberValue", "b": "boolValue", "f": "formulaValue"}[cell.kind]
        out["userEnteredValue"] = {key: as_json_number(cell.value) if cell.kind == "n" else cell.value}
        eff = sheet.effective(r, c)
        if isinstance(eff, bool):
            out["effectiveValue"] = {"boolValue": eff}
        elif isinstance(eff, (int, float)):
            out["effectiveValue"] = {"numberValue": as_json_number(eff)}
        elif isinstance(eff, str) and cell.kind == "f" and eff in ERRORS:
            out["effectiveValue"] = {"errorValue": {"type": ERRORS[eff], "message": eff}}
        elif eff is not None:
            out["effectiveValue"] = {"stringValue": eff}
        formatted = sheet.render(r, c, "FORMATTED_VALUE", "FORMATTED_STRING")
        if formatted not in (None, ""):
            out["formattedValue"] = formatted
    if cell.fmt:
        out["userEnteredFormat"] = deep_copy(cell.fmt)
    if cell.kind is not None or cell.fmt:
        out["effectiveFormat"] = deep_merge(ss.props["defaultFormat"], cell.fmt or {})
        conditional = conditional_format(sheet, r, c)
        if conditional:
            out["effectiveFormat"] = deep_merge(out["effectiveFormat"], conditional)
    link = _hyperlink(cell)
    if link:
        out["hyperlink"] = link
    if cell.note:
        out["note"] = cell.note
    if cell.runs:
        out["textFormatRuns"] = deep_copy(cell.runs)
    if cell.validation:
        out["dataValidation"] = deep_copy(cell.validation)
    return out


_HYPERLINK_RE = re.compile(r'^=\s*HYPERLINK\(\s*"((?:[^"]|"")*)"', re.IGNORECASE)


def _hyperlink(cell: Cell) -> str | None:
    """The link Google reports: a ``=HYPERLINK("url", ...)`` formula or the format's link."""
    if cell.kind == "f":
        m = _HYPERLINK_RE.match(str(cell.value))
        if m:
            return m.group(1).replace('""', '"')
    link = ((cell.fmt or {}).get("textFormat") or {}).get("link") or {}
    return link.get("uri")


def grid_data(ss: Spreadsheet, sheet: Sheet, bounds: tuple[int, int, int, int],
              cell_mask: Any) -> dict[str, Any]:
    sr, er, sc, ec = bounds
    data: dict[str, Any] = {}
    if sr:
        data["startRow"] = sr
    if sc:
        data["startColumn"] = sc
    rows_out: list[dict[str, Any]] = []
    if cell_mask is not False:
        last = max([r for r in sheet.rows if sr <= r < er], default=-1)
        for r in range(sr, last + 1):
            row = sheet.rows.get(r) or {}
            cells = []
            for c in range(sc, min(ec, max(row, default=-1) + 1)):
                cj = cell_json(sheet, ss, r, c, row.get(c))
                cells.append(fieldmask.apply(cj, cell_mask) if cell_mask is not None else cj)
            while cells and not cells[-1]:
                cells.pop()
            rows_out.append({"values": cells} if cells else {})
        while rows_out and not rows_out[-1]:
            rows_out.pop()
    if rows_out:
        data["rowData"] = rows_out
    data["rowMetadata"] = [_dim_meta(ss, sheet, "ROWS", r) for r in range(sr, er)]
    data["columnMetadata"] = [_dim_meta(ss, sheet, "COLUMNS", c) for c in range(sc, ec)]
    return data


def _dim_meta(ss: Spreadsheet, sheet: Sheet, dimension: str, index: int) -> dict[str, Any]:
    store = sheet.row_meta if dimension == "ROWS" else sheet.col_meta
    meta = dict(store.get(index, {}))
    meta.setdefault("pixelSize", DEFAULT_ROW_PX if dimension == "ROWS" else DEFAULT_COL_PX)
    mds = [
        deep_copy(md) for md in ss.developer_metadata.values()
        if (dr := md["location"].get("dimensionRange"))
        and dr.get("sheetId", 0) == sheet.id and dr["dimension"] == dimension
        and dr["startIndex"] <= index < dr["endIndex"]
    ]
    if mds:
        meta["developerMetadata"] = mds
    return meta


def sheet_json(ss: Spreadsheet, sheet: Sheet) -> dict[str, Any]:
    out: dict[str, Any] = {"properties": deep_copy(sheet.props)}
    if sheet.merges:
        out["merges"] = deep_copy(sheet.merges)
    if sheet.conditional_formats:
        out["conditionalFormats"] = deep_copy(sheet.conditional_formats)
    if sheet.protected_ranges:
        out["protectedRanges"] = deep_copy(sheet.protected_ranges)
    if sheet.basic_filter:
        out["basicFilter"] = deep_copy(sheet.basic_filter)
    if sheet.row_groups:
        out["rowGroups"] = deep_copy(sheet.row_groups)
    if sheet.column_groups:
        out["columnGroups"] = deep_copy(sheet.column_groups)
    sheet_md = [deep_copy(md) for md in ss.developer_metadata.values()
                if md["location"].get("sheetId") is not None and md["location"].get("locationType") == "SHEET"
                and md["location"]["sheetId"] == sheet.id]
    if sheet_md:
        out["developerMetadata"] = sheet_md
    return out


def spreadsheet_json(ss: Spreadsheet, include_grid: bool, ranges: list[str], mask_text: str | None) -> dict[str, Any]:
    with formulas.caching():  # each formula cell computed once for this read
        return _spreadsheet_json(ss, include_grid, ranges, mask_text)


def _spreadsheet_json(ss: Spreadsheet, include_grid: bool, ranges: list[str], mask_text: str | None) -> dict[str, Any]:
    try:
        mask = fieldmask.parse(mask_text or "")
    except ValueError as err:
        raise bad_request(str(err)) from None
    if mask is not None:
        data_mask = fieldmask.subtree(mask, "sheets", "data")
        want_data = data_mask is not False
    else:
        want_data = include_grid
    cell_mask = fieldmask.subtree(mask, "sheets", "data", "rowData", "values") if want_data else False

    sheets_out = []
    if ranges:
        per_sheet: dict[int, list[tuple[int, int, int, int]]] = {}
        order: list[Sheet] = []
        for text in ranges:
            try:
                sheet, grid = ss.resolve_range(text)
            except A1Error:
                raise bad_request(f"Unable to parse range: {text}") from None
            if sheet.id not in per_sheet:
                per_sheet[sheet.id] = []
                order.append(sheet)
            per_sheet[sheet.id].append(ss.bounded(sheet, grid, text))
        for sheet in sorted(order, key=lambda s: s.props["index"]):
            sj = sheet_json(ss, sheet)
            if want_data:
                sj["data"] = [grid_data(ss, sheet, b, cell_mask) for b in per_sheet[sheet.id]]
            sheets_out.append(sj)
    else:
        for sheet in ss.sheets:
            sj = sheet_json(ss, sheet)
            if want_data:
                sj["data"] = [grid_data(ss, sheet, (0, sheet.row_count, 0, sheet.col_count), cell_mask)]
            sheets_out.append(sj)

    out: dict[str, Any] = {
        "spreadsheetId": ss.id,
        "properties": deep_copy(ss.props),
        "sheets": sheets_out,
    }
    if ss.named_ranges:
        out["namedRanges"] = deep_copy(list(ss.named_ranges.values()))
    top_md = [deep_copy(md) for md in ss.developer_metadata.values()
              if md["location"].get("locationType") == "SPREADSHEET"]
    if top_md:
        out["developerMetadata"] = top_md
    out["spreadsheetUrl"] = f"https://docs.google.com/spreadsheets/d/{ss.id}/edit"
    return fieldmask.apply(out, mask)
