"""Shared pieces of the batchUpdate implementation: the context and range/field-mask helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import a1, fieldmask
from .errors import bad_request
from .state import EmulatorState, Sheet, Spreadsheet, deep_copy


@dataclass
class Ctx:
    state: EmulatorState
    ss: Spreadsheet

def bounds(ctx: Ctx, rng: dict[str, Any]) -> tuple[Sheet, int, int, int, int]:
    sheet = ctx.ss.sheet_by_id(rng.get("sheetId", 0))
    sr = rng.get("startRowIndex") or 0
    er = rng.get("endRowIndex", sheet.row_count)
    sc = rng.get("startColumnIndex") or 0
    ec = rng.get("endColumnIndex", sheet.col_count)
    if er > sheet.row_count or ec > sheet.col_count:
        raise bad_request(f"Range ({a1.quote_title(sheet.title)}!{a1.format_cells(sr, er, sc, ec)}) exceeds grid "
                          f"limits. Max rows: {sheet.row_count}, max columns: {sheet.col_count}")
    if sr > er or sc > ec:
        raise bad_request("Invalid range: start index is after end index.")
    return sheet, sr, er, sc, ec


def dim_range_json(sheet: Sheet, dimension: str, start: int, end: int) -> dict[str, Any]:
    out: dict[str, Any] = {"sheetId": sheet.id} if sheet.id else {}
    out.update(dimension=dimension, startIndex=start, endIndex=end)
    return out


def dim_bounds(ctx: Ctx, rng: dict[str, Any]) -> tuple[Sheet, str, int, int]:
    sheet = ctx.ss.sheet_by_id(rng.get("sheetId", 0))
    dim = rng.get("dimension")
    if dim not in ("ROWS", "COLUMNS"):
        raise bad_request("dimension must be ROWS or COLUMNS")
    size = sheet.row_count if dim == "ROWS" else sheet.col_count
    start = rng.get("startIndex") or 0
    end = rng.get("endIndex", size)
    if start < 0 or end > size or start >= end:
        raise bad_request(f"Invalid dimension range {start}:{end} (the sheet has {size} {dim.lower()}).")
    return sheet, dim, start, end


def get_path(obj: Any, path: list[str]) -> Any:
    for name in path:
        if not isinstance(obj, dict) or name not in obj:
            return None
        obj = obj[name]
    return obj


OMIT_WHEN_ZERO = {"frozenRowCount", "frozenColumnCount"}


def blank(key: str, value: Any) -> bool:
    """Values Google drops from stored properties (proto3 defaults it does not echo)."""
    if value is None or value is False or value == {}:
        return True
    return value == 0 and not isinstance(value, bool) and key in OMIT_WHEN_ZERO


def set_path(target: dict[str, Any], path: list[str], value: Any) -> None:
    node = target
    for name in path[:-1]:
        nxt = node.get(name)
        if not isinstance(nxt, dict):
            if blank(path[-1], value):
                return
            nxt = node[name] = {}
        node = nxt
    if blank(path[-1], value):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = deep_copy(value)


def apply_fields(target: dict[str, Any], source: dict[str, Any], fields: str) -> None:
    if not fields:
        raise bad_request("At least one field must be specified.")
    for path in fieldmask.split_update_paths(fields):
        if path == ["*"]:
            target.clear()
            target.update(deep_copy(source))
            continue
        set_path(target, path, get_path(source, path))


def grid_json(ctx: Ctx, rng: dict[str, Any]) -> dict[str, Any]:
    sheet, sr, er, sc, ec = bounds(ctx, rng)
    return sheet.grid_range_json(sr, er, sc, ec)
