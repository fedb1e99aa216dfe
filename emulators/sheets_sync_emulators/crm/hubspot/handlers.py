"""HubSpot CRM v3 actions the adapter uses, one function each: ``(app, request, **path)``.

Held to the recorded bodies (amp-labs, MIT): batch/update all-OK (200, no ``errors``),
partial (207 with ``errors[{status, category: OBJECT_NOT_FOUND, message, context.ids}]`` and
``numErrors``), whole-batch ``VALIDATION_ERROR`` (400, ``errors[].code``,
``context.propertyName``), duplicate ids (400), property objects with ``options[]``, and the
legacy 429 keys (``errorType: RATE_LIMIT``, ``policyName``...). Stated assumptions:

* The companies list pages with ``paging.next.after``/``link`` as the recorded campaigns page
  does; the cursor is the next record's id.
* An invalid enumeration value fails the whole batch with 400 ``VALIDATION_ERROR``, code
  ``INVALID_OPTION`` (v3 format; no complete real v3 body exists in public).
* A record rejected by the ``reject`` fault shows up like a missing one: a 207 entry with
  ``context.ids``, category ``VALIDATION_ERROR`` and the given message.
* ``limit`` over 100 and more than 100 batch inputs answer 400 ``VALIDATION_ERROR``.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..core import HttpError, Request, Response
from .state import Company, Property, now_iso

if TYPE_CHECKING:
    from . import HubSpotApp

MAX_PAGE = 100
MAX_BATCH = 100
DEFAULT_READ = ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name")


def error(status: int, message: str, category: str | None, **extra: Any) -> Response:
    body: dict[str, Any] = {"status": "error", "message": message,
                            "correlationId": str(uuid.uuid4())}
    body.update(extra)
    if category:
        body["category"] = category
    return Response.json(status, body)


def _fail(status: int, message: str, category: str | None, **extra: Any) -> HttpError:
    return HttpError(error(status, message, category, **extra))


def render_property(prop: Property) -> dict[str, Any]:
    body: dict[str, Any] = {
        "updatedAt": prop.updated_at, "createdAt": prop.created_at, "name": prop.name,
        "label": prop.label, "type": prop.type, "fieldType": prop.field_type,
        "description": prop.description, "groupName": prop.group_name,
        "options": [dict(o) for o in prop.options],
        "displayOrder": -1, "calculated": False, "externalOptions": False,
        "archived": False, "hasUniqueValue": False, "hidden": False,
        "modificationMetadata": {"archivable": not prop.hubspot_defined,
                                 "readOnlyDefinition": prop.hubspot_defined,
                                 "readOnlyValue": prop.name in ("hs_object_id", "createdate",
                                                                "hs_lastmodifieddate")},
        "formField": not prop.hubspot_defined, "dataSensitivity": "non_sensitive",
    }
    if prop.hubspot_defined:
        body["hubspotDefined"] = True
    else:
        body["createdUserId"] = body["updatedUserId"] = "76070032"
    return body


def render_company(company: Company, names: list[str] | None) -> dict[str, Any]:
    wanted = list(DEFAULT_READ) if names is None else \
        list(dict.fromkeys(["createdate", "hs_lastmodifieddate", "hs_object_id", *names]))
    return {"id": company.id,
            "properties": {n: company.properties.get(n) for n in wanted},
            "createdAt": company.created_at, "updatedAt": company.updated_at,
            "archived": False}


def _limit(request: Request) -> int:
    raw = request.arg("limit") or "10"
    try:
        value = int(raw)
    except ValueError:
        raise _fail(400, f"Invalid input JSON on line 1: limit {raw!r} is not a number",
                    "VALIDATION_ERROR") from None
    if not 1 <= value <= MAX_PAGE:
        raise _fail(400, f"limit must be between 1 and {MAX_PAGE}, got {value}",
                    "VALIDATION_ERROR")
    return value


def list_companies(app: HubSpotApp, request: Request) -> Response:
    limit = _limit(request)
    names = None
    if request.query.get("properties"):
        names = [n for raw in request.query["properties"] for n in raw.split(",")
                 if n and n in app.state.properties]
    ordered = sorted(app.state.companies.values(), key=lambda c: int(c.id))
    after = request.arg("after")
    if after:
        ordered = [c for c in ordered if int(c.id) >= int(after)]
    chunk, rest = ordered[:limit], ordered[limit:]
    body: dict[str, Any] = {"results": [render_company(c, names) for c in chunk]}
    if rest:
        host = request.header("Host") or "api.hubapi.com"
        query = f"limit={limit}&after={rest[0].id}"
        if names is not None:
            query += "&properties=" + quote(",".join(names))
        body["paging"] = {"next": {"after": rest[0].id,
                                   "link": f"http://{host}/crm/v3/objects/companies?{query}"}}
    return Response.json(200, body)


def _inputs(request: Request) -> list[dict[str, Any]]:
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise _fail(400, "Invalid input JSON on line 1: expected an object with inputs",
                    "VALIDATION_ERROR")
    inputs = body["inputs"]
    if len(inputs) > MAX_BATCH:
        raise _fail(400, f"Batch input must contain at most {MAX_BATCH} inputs, got "
                         f"{len(inputs)}", "VALIDATION_ERROR")
    return inputs


def batch_update(app: HubSpotApp, request: Request) -> Response:
    started = now_iso()
    inputs = _inputs(request)
    ids = [str(i.get("id")) for i in inputs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise _fail(400, f"Duplicate IDs found in batch input: [{', '.join(dupes)}]. IDs must "
                         "be unique", "VALIDATION_ERROR", context={"ids": dupes})
    problems = []
    for item in inputs:
        for name, value in (item.get("properties") or {}).items():
            prop = app.state.properties.get(name)
            if prop is None:
                problems.append(({"isValid": False, "message": f'Property "{name}" does not '
                                  'exist', "error": "PROPERTY_DOESNT_EXIST", "name": name},
                                 "PROPERTY_DOESNT_EXIST", name))
            elif prop.type == "enumeration" and value not in ("", None) and \
                    str(value) not in prop.option_values():
                allowed = ", ".join(prop.option_values())
                problems.append(({"isValid": False, "message": f"{value} was not one of the "
                                  f"allowed options: [{allowed}]", "error": "INVALID_OPTION",
                                  "name": name}, "INVALID_OPTION", name))
    if problems:
        message = "Property values were not valid: " + json.dumps([p[0] for p in problems])
        raise _fail(400, message, "VALIDATION_ERROR", errors=[
            {"message": p[0]["message"], "code": p[1], "context": {"propertyName": [p[2]]}}
            for p in problems])
    results, missing, errors = [], [], []
    for item, company_id in zip(inputs, ids, strict=True):
        if company_id not in app.state.companies:
            missing.append(company_id)
            continue
        if company_id in app.faults.rejected:
            errors.append({"status": "error", "category": "VALIDATION_ERROR",
                           "message": app.faults.rejected[company_id] or
                           f"Record {company_id} could not be updated",
                           "context": {"ids": [company_id]}})
            continue
        for name, value in (item.get("properties") or {}).items():
            app.state.set_value(company_id, name, None if value == "" else value)
        company = app.state.companies[company_id]
        results.append({"id": company.id, "properties": dict(company.properties),
                        "createdAt": company.created_at, "updatedAt": company.updated_at,
                        "archived": False})
    if missing:
        errors.insert(0, {"status": "error", "category": "OBJECT_NOT_FOUND",
                          "message": "Could not get some COMPANY objects, they may be deleted "
                                     "or not exist. Check that ids are valid.",
                          "context": {"ids": missing}})
    body: dict[str, Any] = {"completedAt": now_iso(), "status": "COMPLETE",
                            "startedAt": started, "results": results}
    if errors:
        body["errors"] = errors
        body["numErrors"] = len(errors)
        return Response.json(207, body)
    return Response.json(200, body)


def list_properties(app: HubSpotApp, request: Request) -> Response:
    return Response.json(200, {"results": [render_property(p)
                                           for p in app.state.properties.values()]})


def get_property(app: HubSpotApp, request: Request, name: str) -> Response:
    prop = app.state.properties.get(name)
    if prop is None:
        return error(404, f"Unable to find property named '{name}' for object type companies",
                     "OBJECT_NOT_FOUND")
    return Response.json(200, render_property(prop))


def _options(raw: Any) -> list[dict[str, Any]]:
    out = []
    for i, option in enumerate(raw or []):
        out.append({"label": str(option.get("label", option.get("value"))),
                    "value": str(option.get("value")),
                    "description": str(option.get("description", "")),
                    "displayOrder": int(option.get("displayOrder", i)),
                    "hidden": bool(option.get("hidden", False))})
    return out


def create_property(app: HubSpotApp, request: Request) -> Response:
    body = request.json()
    if not isinstance(body, dict):
        raise _fail(400, "Invalid input JSON", "VALIDATION_ERROR")
    missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
    if missing:
        raise _fail(400, f"Property is missing required fields: {', '.join(missing)}",
                    "VALIDATION_ERROR")
    name = str(body["name"])
    if name in app.state.properties:
        raise _fail(409, f"Property named '{name}' already exists.", "CONFLICT")
    prop = app.state.add_property(name, str(body["label"]), str(body["type"]),
                                  str(body["fieldType"]), group_name=str(body["groupName"]))
    prop.options = _options(body.get("options"))
    prop.description = str(body.get("description", ""))
    return Response.json(201, render_property(prop))


def update_property(app: HubSpotApp, request: Request, name: str) -> Response:
    prop = app.state.properties.get(name)
    if prop is None:
        return get_property(app, request, name)
    body = request.json() or {}
    if "label" in body:
        prop.label = str(body["label"])
    if "options" in body:
        prop.options = _options(body["options"])
    prop.updated_at = now_iso()
    return Response.json(200, render_property(prop))
