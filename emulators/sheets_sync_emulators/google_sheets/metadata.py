"""batchUpdate kinds for filters, conditional formats, named/protected ranges and developer metadata."""

from __future__ import annotations

import copy
from typing import Any

from . import a1, fieldmask, formulas
from .common import Ctx, dim_bounds, dim_range_json, grid_json
from .errors import bad_request
from .render import normalise_format
from .state import EmulatorState, Sheet, Spreadsheet, deep_copy


def set_basic_filter(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    flt = deep_copy(req.get("filter") or {})
    sheet = ctx.ss.sheet_by_id((flt.get("range") or {}).get("sheetId", 0))
    flt["range"] = grid_json(ctx, flt.get("range") or {})
    flt["range"].pop("sheetId", None)
    if sheet.id:
        flt["range"]["sheetId"] = sheet.id
    sheet.basic_filter = flt
    return {}


def clear_basic_filter(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    ctx.ss.sheet_by_id(req.get("sheetId", 0)).basic_filter = None
    return {}


def rule_json(ctx: Ctx, rule: dict[str, Any]) -> tuple[Sheet, dict[str, Any]]:
    rule = deep_copy(rule)
    ranges = rule.get("ranges") or []
    if not ranges:
        raise bad_request("A conditional format rule needs at least one range.")
    rule["ranges"] = [grid_json(ctx, r) for r in ranges]
    sheet = ctx.ss.sheet_by_id(ranges[0].get("sheetId", 0))
    if "booleanRule" in rule and "format" in rule["booleanRule"]:
        rule["booleanRule"]["format"] = normalise_format(rule["booleanRule"]["format"])
    elif "gradientRule" not in rule and "booleanRule" not in rule:
        raise bad_request("A conditional format rule needs a booleanRule or a gradientRule.")
    return sheet, rule


def add_conditional_format(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    sheet, rule = rule_json(ctx, req.get("rule") or {})
    index = req.get("index") or 0
    if index > len(sheet.conditional_formats):
        raise bad_request(f"Invalid index {index}.")
    sheet.conditional_formats.insert(index, rule)
    return {}


def update_conditional_format(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    index = req.get("index") or 0
    if "rule" in req:
        sheet, rule = rule_json(ctx, req["rule"])
    else:
        sheet, rule = ctx.ss.sheet_by_id(req.get("sheetId", 0)), None
    rules = sheet.conditional_formats
    if index >= len(rules):
        raise bad_request(f"No conditional format on sheet {sheet.id} at index {index}")
    old = rules.pop(index)
    new_index = req.get("newIndex", index) if rule is None else index
    rules.insert(new_index, rule or old)
    return {"updateConditionalFormatRule": {"newRule": deep_copy(rule or old), "oldRule": deep_copy(old),
                                            "newIndex": new_index, "oldIndex": index}}


def delete_conditional_format(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    sheet = ctx.ss.sheet_by_id(req.get("sheetId", 0))
    index = req.get("index") or 0
    if index >= len(sheet.conditional_formats):
        raise bad_request(f"No conditional format on sheet {sheet.id} at index {index}")
    return {"deleteConditionalFormatRule": {"rule": sheet.conditional_formats.pop(index)}}


def add_named_range(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    nr = req.get("namedRange") or {}
    name = nr.get("name") or ""
    if not name or any(n["name"].lower() == name.lower() for n in ctx.ss.named_ranges.values()):
        raise bad_request(f"Named range name {name!r} is empty or already used.")
    nid = str(nr.get("namedRangeId") or ctx.state.new_int_id())
    stored = {"namedRangeId": nid, "name": name, "range": grid_json(ctx, nr.get("range") or {})}
    ctx.ss.named_ranges[nid] = stored
    return {"addNamedRange": {"namedRange": deep_copy(stored)}}


def named(ctx: Ctx, nid: str | None) -> dict[str, Any]:
    if nid not in ctx.ss.named_ranges:
        raise bad_request(f"No named range with id {nid}.")
    return ctx.ss.named_ranges[nid]  # type: ignore[index]


def update_named_range(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    nr = req.get("namedRange") or {}
    stored = named(ctx, nr.get("namedRangeId"))
    for path in fieldmask.split_update_paths(req.get("fields", "")):
        if path[0] in ("name", "*") and nr.get("name"):
            stored["name"] = nr["name"]
        if path[0] in ("range", "*") and nr.get("range") is not None:
            stored["range"] = grid_json(ctx, nr["range"])
    return {}


def delete_named_range(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    named(ctx, req.get("namedRangeId"))
    del ctx.ss.named_ranges[req["namedRangeId"]]
    return {}


def add_protected_range(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    pr = deep_copy(req.get("protectedRange") or {})
    sheet = ctx.ss.sheet_by_id((pr.get("range") or {}).get("sheetId", 0))
    stored: dict[str, Any] = {"protectedRangeId": pr.get("protectedRangeId") or ctx.state.new_int_id()}
    stored["range"] = grid_json(ctx, pr.get("range") or {})
    for key in ("description", "warningOnly"):
        if pr.get(key):
            stored[key] = pr[key]
    stored["requestingUserCanEdit"] = True
    reply = deep_copy(stored)
    reply["editors"] = {}
    owner = ctx.ss.owner or ctx.state.default_owner_email
    users = list(dict.fromkeys([owner] + list((pr.get("editors") or {}).get("users") or [])))
    stored["editors"] = {"users": users}
    sheet.protected_ranges.append(stored)
    return {"addProtectedRange": {"protectedRange": reply}}


def delete_protected_range(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    pid = req.get("protectedRangeId")
    for sheet in ctx.ss.sheets:
        for pr in sheet.protected_ranges:
            if pr["protectedRangeId"] == pid:
                sheet.protected_ranges.remove(pr)
                return {}
    raise bad_request(f"No protected range with id: {pid}")


# -------------------------------------------------------------------- developer metadata


def md_location(ctx: Ctx, loc: dict[str, Any]) -> dict[str, Any]:
    if "dimensionRange" in loc:
        sheet, dim, start, end = dim_bounds(ctx, loc["dimensionRange"])
        return {"locationType": "ROW" if dim == "ROWS" else "COLUMN",
                "dimensionRange": dim_range_json(sheet, dim, start, end)}
    if loc.get("sheetId") is not None:
        ctx.ss.sheet_by_id(loc["sheetId"])
        return {"locationType": "SHEET", "sheetId": loc["sheetId"]}
    if loc.get("spreadsheet"):
        return {"locationType": "SPREADSHEET", "spreadsheet": True}
    raise bad_request("Developer metadata location must be set.")


def create_developer_metadata(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    md = req.get("developerMetadata") or {}
    if not md.get("metadataKey"):
        raise bad_request("Developer metadata key must be specified.")
    if md.get("visibility") not in ("DOCUMENT", "PROJECT"):
        raise bad_request("Developer metadata visibility must be DOCUMENT or PROJECT.")
    mid = md.get("metadataId") or ctx.state.new_int_id()
    if mid in ctx.ss.developer_metadata:
        raise bad_request(f"Developer metadata with ID {mid} already exists.")
    stored = {"metadataId": mid, "metadataKey": md["metadataKey"]}
    if md.get("metadataValue") is not None:
        stored["metadataValue"] = md["metadataValue"]
    stored["location"] = md_location(ctx, md.get("location") or {})
    stored["visibility"] = md["visibility"]
    ctx.ss.developer_metadata[mid] = stored
    return {"createDeveloperMetadata": {"developerMetadata": deep_copy(stored)}}


def _lookup_matches(ss: Spreadsheet, md: dict[str, Any], lookup: dict[str, Any]) -> bool:
    for key in ("metadataId", "metadataKey", "metadataValue", "visibility"):
        if lookup.get(key) is not None and md.get(key) != lookup[key]:
            return False
    loc = md["location"]
    if lookup.get("locationType") and loc["locationType"] != lookup["locationType"]:
        return False
    want = lookup.get("metadataLocation")
    if want:
        if "dimensionRange" in want:
            dr, wr = loc.get("dimensionRange"), want["dimensionRange"]
            if not dr or dr.get("sheetId", 0) != wr.get("sheetId", 0) or dr["dimension"] != wr.get("dimension"):
                return False
            ws, we = wr.get("startIndex") or 0, wr.get("endIndex", 10**9)
            if lookup.get("locationMatchingStrategy") == "INTERSECTING_LOCATION":
                return dr["startIndex"] < we and ws < dr["endIndex"]
            return (dr["startIndex"], dr["endIndex"]) == (ws, we)
        if want.get("sheetId") is not None:
            return loc.get("sheetId") == want["sheetId"]
        if want.get("spreadsheet"):
            return loc["locationType"] == "SPREADSHEET"
    return True


def _filter_matches(ss: Spreadsheet, md: dict[str, Any], flt: dict[str, Any]) -> bool:
    if "developerMetadataLookup" in flt:
        return _lookup_matches(ss, md, flt["developerMetadataLookup"])
    return False


def search_metadata(ss: Spreadsheet, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for md in ss.developer_metadata.values():
        matched = [f for f in filters if _filter_matches(ss, md, f)]
        if matched:
            out.append({"developerMetadata": deep_copy(md), "dataFilters": deep_copy(matched)})
    return out


def metadata_ranges(ss: Spreadsheet, flt: dict[str, Any]) -> list[str]:
    """A1 ranges a DataFilter selects (for values:batchGetByDataFilter)."""
    if "a1Range" in flt:
        return [flt["a1Range"]]
    if "gridRange" in flt:
        g = flt["gridRange"]
        sheet = ss.sheet_by_id(g.get("sheetId", 0))
        return [a1.format_range(sheet.title, g.get("startRowIndex") or 0, g.get("endRowIndex", sheet.row_count),
                                g.get("startColumnIndex") or 0, g.get("endColumnIndex", sheet.col_count))]
    out = []
    for found in search_metadata(ss, [flt]):
        loc = found["developerMetadata"]["location"]
        dr = loc.get("dimensionRange")
        if dr:
            sheet = ss.sheet_by_id(dr.get("sheetId", 0))
            if dr["dimension"] == "ROWS":
                out.append(a1.format_range(sheet.title, dr["startIndex"], dr["endIndex"], 0, sheet.col_count))
            else:
                out.append(a1.format_range(sheet.title, 0, sheet.row_count, dr["startIndex"], dr["endIndex"]))
        elif loc["locationType"] == "SHEET":
            sheet = ss.sheet_by_id(loc["sheetId"])
            out.append(a1.quote_title(sheet.title))
    return out


def delete_developer_metadata(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    found = search_metadata(ctx.ss, [req.get("dataFilter") or {}])
    for item in found:
        del ctx.ss.developer_metadata[item["developerMetadata"]["metadataId"]]
    return {"deleteDeveloperMetadata": {"deletedDeveloperMetadata": [f["developerMetadata"] for f in found]}
            if found else {}}


def update_developer_metadata(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    found = search_metadata(ctx.ss, req.get("dataFilters") or [])
    new = req.get("developerMetadata") or {}
    out = []
    for item in found:
        stored = ctx.ss.developer_metadata[item["developerMetadata"]["metadataId"]]
        for path in fieldmask.split_update_paths(req.get("fields", "")):
            key = path[0]
            if key == "location" and new.get("location"):
                stored["location"] = md_location(ctx, new["location"])
            elif key in ("metadataKey", "metadataValue", "visibility") and key in new:
                stored[key] = new[key]
        out.append(deep_copy(stored))
    return {"updateDeveloperMetadata": {"developerMetadata": out}}


def copy_spreadsheet(state: EmulatorState, src: Spreadsheet, title: str, owner: str | None) -> Spreadsheet:
    new = state.create_spreadsheet(title, owner=owner)
    keep_id = new.id
    new.__dict__.update(copy.deepcopy({k: v for k, v in src.__dict__.items() if k not in ("id", "owner")}))
    new.id, new.owner = keep_id, owner
    new.props["title"] = title
    new.permissions = []
    formulas.attach(new)
    return new
