"""HubSpot CRM actions, one function each: ``(app, request, **path)``.

Companies, contacts and deals share one set of handlers (``object_type`` comes from the path):
list, read, create, update, archive, the four batch actions and search (CRM v3 objects API);
their property definitions; the deal pipelines; associations (v3 on the records, v4 lists).
That is what the sheets-sync adapter and ``hubspot-api-client``'s ``basic_api``,
``batch_api``, ``search_api``, ``get_all``, ``pipelines_api`` and associations ``basic_api``
call for ordinary work.

Held to the recorded bodies (amp-labs, MIT): batch/update all-OK (200, no ``errors``),
partial (207 with ``errors[{status, category: OBJECT_NOT_FOUND, message, context.ids}]`` and
``numErrors``), whole-batch ``VALIDATION_ERROR`` (400, ``errors[].code``,
``context.propertyName``), duplicate ids (400), property objects with ``options[]``, and the
legacy 429 keys (``errorType: RATE_LIMIT``, ``policyName``...). The rest follows HubSpot's
documentation (objects, search, pipelines, associations guides). Stated assumptions:

* Lists page with ``paging.next.after``/``link`` as the recorded campaigns page does; the
  cursor is the next record's id. Search pages with ``after`` as an offset (documented), at
  most 200 per page and 10,000 results in all (documented: past it, 400).
* Without ``properties``, a record comes back with the object type's documented default
  properties (deals: ``amount``, ``closedate``, ``createdate``, ``dealname``, ``dealstage``,
  ``hs_lastmodifieddate``, ``hs_object_id``, ``pipeline``).
* ``associations=companies`` adds ``associations.companies.results[{id, type}]`` with
  ``type`` like ``deal_to_company``, only to records that have some (as HubSpot leaves the
  key out when there are none).
* An invalid enumeration value fails the whole batch with 400 ``VALIDATION_ERROR``, code
  ``INVALID_OPTION`` (v3 format; no complete real v3 body exists in public).
* A record rejected by the ``reject`` fault shows up like a missing one: a 207 entry with
  ``context.ids``, category ``VALIDATION_ERROR`` and the given message.
* ``limit`` over 100 and more than 100 batch inputs answer 400 ``VALIDATION_ERROR``.
* An archived (deleted) record is gone: ``archived=true`` lists nothing.
* Search sorts by record id (creation order) unless ``sorts`` says otherwise; string values
  compare case-insensitively, numbers as numbers, datetimes as instants (epoch ms or ISO).
"""

from __future__ import annotations

import bisect
import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..core import HttpError, Request, Response
from .state import MODIFIED, OBJECT_TYPES, Pipeline, Property, Record, now_iso, parse_time

if TYPE_CHECKING:
    from . import HubSpotApp

MAX_PAGE = 100
MAX_BATCH = 100
MAX_SEARCH_PAGE = 200
MAX_SEARCH_RESULTS = 10_000
DEFAULT_READ = {
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate",
                 "lastname"),
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage",
              "hs_lastmodifieddate", "hs_object_id", "pipeline"),
}
SINGULAR = {"companies": "company", "contacts": "contact", "deals": "deal"}
# HUBSPOT_DEFINED association type ids: (from, to) -> (unlabeled, primary or None)
TYPE_IDS = {
    ("contacts", "companies"): (279, 1), ("companies", "contacts"): (280, 2),
    ("deals", "contacts"): (3, None), ("contacts", "deals"): (4, None),
    ("deals", "companies"): (341, 5), ("companies", "deals"): (342, 6),
}
SEARCHABLE = {"companies": ("name", "domain", "phone", "website"),
              "contacts": ("firstname", "lastname", "email", "phone", "company"),
              "deals": ("dealname",)}


def error(status: int, message: str, category: str | None, **extra: Any) -> Response:
    body: dict[str, Any] = {"status": "error", "message": message,
                            "correlationId": str(uuid.uuid4())}
    body.update(extra)
    if category:
        body["category"] = category
    return Response.json(status, body)


def _fail(status: int, message: str, category: str | None, **extra: Any) -> HttpError:
    return HttpError(error(status, message, category, **extra))


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _fail(400, "Invalid input JSON on line 1: expected an object", "VALIDATION_ERROR")
    return body


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
                                                                "hs_lastmodifieddate",
                                                                "lastmodifieddate")},
        "formField": not prop.hubspot_defined, "dataSensitivity": "non_sensitive",
    }
    if prop.hubspot_defined:
        body["hubspotDefined"] = True
    else:
        body["createdUserId"] = body["updatedUserId"] = "76070032"
    return body


def _association_type(from_type: str, to_type: str) -> str:
    return f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}"


def render_record(record: Record, names: list[str] | None,
                  associations: list[str] | None = None) -> dict[str, Any]:
    object_type = record.object_type
    wanted = list(DEFAULT_READ[object_type]) if names is None else list(dict.fromkeys(
        ["createdate", MODIFIED[object_type], "hs_object_id", *names]))
    body: dict[str, Any] = {"id": record.id,
                            "properties": {n: record.properties.get(n) for n in wanted},
                            "createdAt": record.created_at, "updatedAt": record.updated_at,
                            "archived": False}
    linked = {}
    for to_type in associations or []:
        ids = record.associations.get(to_type) or []
        if ids:
            kind = _association_type(object_type, to_type)
            linked[to_type] = {"results": [{"id": i, "type": kind} for i in ids]}
    if linked:
        body["associations"] = linked
    return body


render_company = render_record  # the companies-only name


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


def _names(app: HubSpotApp, object_type: str, raw: list[str] | None) -> list[str] | None:
    """The requested properties that exist (HubSpot leaves unknown names out silently)."""
    if not raw:
        return None
    return [n for item in raw for n in str(item).split(",")
            if n and n in app.state.props[object_type]]


def _associations(request: Request) -> list[str]:
    return [t for raw in request.query.get("associations", []) for t in raw.split(",")
            if t in OBJECT_TYPES]


def list_records(app: HubSpotApp, request: Request, object_type: str) -> Response:
    limit = _limit(request)
    if (request.arg("archived") or "").lower() == "true":
        return Response.json(200, {"results": []})  # archived records are not kept
    names = _names(app, object_type, request.query.get("properties"))
    linked = _associations(request)
    records = app.state.objects[object_type]
    # records are kept in id order (ids only grow, all of one length): a cursor is a bisect
    ids = list(records)
    after = request.arg("after")
    first = 0
    if after:
        if not after.isdigit():
            raise _fail(400, f"after {after!r} is not a valid paging cursor",
                        "VALIDATION_ERROR")
        first = bisect.bisect_left([int(i) for i in ids], int(after)) \
            if len(after) != len(ids[0] if ids else "") else bisect.bisect_left(ids, after)
    chunk = [records[i] for i in ids[first:first + limit]]
    rest = ids[first + limit:first + limit + 1]
    body: dict[str, Any] = {"results": [render_record(c, names, linked) for c in chunk]}
    if rest:
        host = request.header("Host") or "api.hubapi.com"
        query = f"limit={limit}&after={rest[0]}"
        if names is not None:
            query += "&properties=" + quote(",".join(names))
        if linked:
            query += "&associations=" + quote(",".join(linked))
        body["paging"] = {"next": {"after": rest[0],
                                   "link": f"http://{host}/crm/v3/objects/{object_type}?{query}"}}
    return Response.json(200, body)


list_companies = list_records


def _find(app: HubSpotApp, object_type: str, record_id: str) -> Record:
    record = app.state.objects[object_type].get(record_id)
    if record is None:
        raise _fail(404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND",
                    context={"id": [record_id]})
    return record


def get_record(app: HubSpotApp, request: Request, object_type: str,
               record_id: str) -> Response:
    id_property = request.arg("idProperty")
    if id_property and id_property != "hs_object_id":
        match = next((r for r in app.state.objects[object_type].values()
                      if r.properties.get(id_property) == record_id), None)
        if match is None:
            raise _fail(404, "Object not found.", "OBJECT_NOT_FOUND",
                        context={"id": [record_id]})
        record = match
    else:
        record = _find(app, object_type, record_id)
    names = _names(app, object_type, request.query.get("properties"))
    return Response.json(200, render_record(record, names, _associations(request)))


def _check_properties(app: HubSpotApp, object_type: str,
                      inputs: list[dict[str, Any]]) -> None:
    problems = []
    for item in inputs:
        properties = item.get("properties") if isinstance(item, dict) else None
        if properties is not None and not isinstance(properties, dict):
            raise _fail(400, "Invalid input JSON on line 1: properties must be an object",
                        "VALIDATION_ERROR")
        for name, value in (properties or {}).items():
            prop = app.state.props[object_type].get(name)
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
            elif prop.type == "number" and value not in ("", None):
                try:
                    float(str(value))
                except ValueError:
                    problems.append(({"isValid": False, "message": f"{value} was not a valid "
                                      "number.", "error": "INVALID_LONG", "name": name},
                                     "INVALID_LONG", name))
            elif prop.type in ("datetime", "date") and value not in ("", None) and \
                    name not in ("createdate", "hs_lastmodifieddate", "lastmodifieddate"):
                try:
                    parse_time(value)
                except ValueError:
                    problems.append(({"isValid": False, "message": f"{value} was not a valid "
                                      "date.", "error": "INVALID_DATE", "name": name},
                                     "INVALID_DATE", name))
    if problems:
        message = "Property values were not valid: " + json.dumps([p[0] for p in problems])
        raise _fail(400, message, "VALIDATION_ERROR", errors=[
            {"message": p[0]["message"], "code": p[1], "context": {"propertyName": [p[2]]}}
            for p in problems])


def _target_of(object_type: str, spec: dict[str, Any]) -> str:
    """The object type an association input points at, from its HUBSPOT_DEFINED type id."""
    for types in spec.get("types") or []:
        type_id = types.get("associationTypeId") if isinstance(types, dict) else None
        for (from_type, to_type), ids in TYPE_IDS.items():
            if from_type == object_type and type_id in ids:
                return to_type
    raise _fail(400, f"Invalid association type for {SINGULAR[object_type]}: "
                     f"{json.dumps(spec.get('types'))}", "VALIDATION_ERROR")


def _create_one(app: HubSpotApp, object_type: str, item: dict[str, Any]) -> Record:
    links = []
    for spec in item.get("associations") or []:
        to_type = _target_of(object_type, spec)
        to_id = str((spec.get("to") or {}).get("id"))
        if to_id not in app.state.objects[to_type]:
            raise _fail(400, f"No {SINGULAR[to_type]} with ID {to_id} exists",
                        "VALIDATION_ERROR")
        links.append((to_type, to_id))
    properties = {k: v for k, v in (item.get("properties") or {}).items() if v is not None}
    if object_type == "deals":
        record = app.state.add_deal(**properties)
    else:
        record = app.state.add_record(object_type, properties)
    for to_type, to_id in links:
        app.state.associate(object_type, record.id, to_type, to_id)
    return record


def create_record(app: HubSpotApp, request: Request, object_type: str) -> Response:
    body = _body(request)
    _check_properties(app, object_type, [body])
    record = _create_one(app, object_type, body)
    return Response.json(201, render_record(record, list(record.properties)))


def _update_one(app: HubSpotApp, object_type: str, record: Record,
                properties: dict[str, Any]) -> None:
    for name, value in properties.items():
        app.state.set_record_value(object_type, record.id, name,
                                   None if value == "" else value)


def update_record(app: HubSpotApp, request: Request, object_type: str,
                  record_id: str) -> Response:
    record = _find(app, object_type, record_id)
    body = _body(request)
    _check_properties(app, object_type, [body])
    _update_one(app, object_type, record, body.get("properties") or {})
    return Response.json(200, render_record(record, list(record.properties)))


def archive_record(app: HubSpotApp, request: Request, object_type: str,
                   record_id: str) -> Response:
    app.state.archive(object_type, record_id)  # HubSpot answers 204 for an unknown id too
    return Response(204)


# -- batches --------------------------------------------------------------------------------


def _inputs(request: Request) -> list[dict[str, Any]]:
    body = _body(request)
    if not isinstance(body.get("inputs"), list):
        raise _fail(400, "Invalid input JSON on line 1: expected an object with inputs",
                    "VALIDATION_ERROR")
    inputs = body["inputs"]
    if len(inputs) > MAX_BATCH:
        raise _fail(400, f"Batch input must contain at most {MAX_BATCH} inputs, got "
                         f"{len(inputs)}", "VALIDATION_ERROR")
    return inputs


def _batch_answer(started: str, results: list[dict[str, Any]], errors: list[dict[str, Any]],
                  ok_status: int = 200) -> Response:
    body: dict[str, Any] = {"completedAt": now_iso(), "status": "COMPLETE",
                            "startedAt": started, "results": results}
    if errors:
        body["errors"] = errors
        body["numErrors"] = len(errors)
        return Response.json(207, body)
    return Response.json(ok_status, body)


def _not_found_entry(object_type: str, ids: list[str]) -> dict[str, Any]:
    return {"status": "error", "category": "OBJECT_NOT_FOUND",
            "message": f"Could not get some {SINGULAR[object_type].upper()} objects, they may "
                       "be deleted or not exist. Check that ids are valid.",
            "context": {"ids": ids}}


def batch_update(app: HubSpotApp, request: Request, object_type: str = "companies") -> Response:
    started = now_iso()
    inputs = _inputs(request)
    ids = [str(i.get("id")) for i in inputs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise _fail(400, f"Duplicate IDs found in batch input: [{', '.join(dupes)}]. IDs must "
                         "be unique", "VALIDATION_ERROR", context={"ids": dupes})
    _check_properties(app, object_type, inputs)
    results, missing, errors = [], [], []
    records = app.state.objects[object_type]
    for item, record_id in zip(inputs, ids, strict=True):
        if record_id not in records:
            missing.append(record_id)
            continue
        if record_id in app.faults.rejected:
            errors.append({"status": "error", "category": "VALIDATION_ERROR",
                           "message": app.faults.rejected[record_id] or
                           f"Record {record_id} could not be updated",
                           "context": {"ids": [record_id]}})
            continue
        record = records[record_id]
        _update_one(app, object_type, record, item.get("properties") or {})
        results.append({"id": record.id, "properties": dict(record.properties),
                        "createdAt": record.created_at, "updatedAt": record.updated_at,
                        "archived": False})
    if missing:
        errors.insert(0, _not_found_entry(object_type, missing))
    return _batch_answer(started, results, errors)


def batch_read(app: HubSpotApp, request: Request, object_type: str) -> Response:
    started = now_iso()
    body = _body(request)
    inputs = _inputs(request)
    names = _names(app, object_type, body.get("properties"))
    id_property = body.get("idProperty")
    results, missing = [], []
    for item in inputs:
        key = str(item.get("id"))
        if id_property and id_property != "hs_object_id":
            record = next((r for r in app.state.objects[object_type].values()
                           if r.properties.get(id_property) == key), None)
        else:
            record = app.state.objects[object_type].get(key)
        if record is None:
            missing.append(key)
        else:
            results.append(render_record(record, names))
    errors = [_not_found_entry(object_type, missing)] if missing else []
    return _batch_answer(started, results, errors)


def batch_create(app: HubSpotApp, request: Request, object_type: str) -> Response:
    started = now_iso()
    inputs = _inputs(request)
    _check_properties(app, object_type, inputs)
    created = [_create_one(app, object_type, item) for item in inputs]
    return _batch_answer(started, [render_record(r, list(r.properties)) for r in created], [],
                         ok_status=201)


def batch_archive(app: HubSpotApp, request: Request, object_type: str) -> Response:
    for item in _inputs(request):
        app.state.archive(object_type, str(item.get("id")))
    return Response(204)


# -- search ---------------------------------------------------------------------------------


def _compare(prop: Property | None, actual: str | None, value: Any) -> int | None:
    """-1/0/1 for actual against value in the property's kind; None if not comparable."""
    if actual is None or value is None:
        return None
    kind = prop.type if prop is not None else "string"
    try:
        if kind == "number":
            a, b = float(actual), float(str(value))
        elif kind in ("datetime", "date"):
            a, b = parse_time(actual), parse_time(value)
        else:
            a_text, b_text = str(actual).lower(), str(value).lower()
            return (a_text > b_text) - (a_text < b_text)
    except ValueError:
        return None
    return (a > b) - (a < b)


OPERATORS: dict[str, Callable[[int], bool]] = {
    "EQ": lambda c: c == 0, "NEQ": lambda c: c != 0, "LT": lambda c: c < 0,
    "LTE": lambda c: c <= 0, "GT": lambda c: c > 0, "GTE": lambda c: c >= 0,
}


def _matches(app: HubSpotApp, object_type: str, record: Record, flt: dict[str, Any]) -> bool:
    name = str(flt.get("propertyName") or "")
    operator = str(flt.get("operator") or "EQ").upper()
    prop = app.state.props[object_type].get(name)
    if name == "hs_object_id" or name == "id":
        actual: str | None = record.id
        prop = app.state.props[object_type].get("hs_object_id")
    else:
        actual = record.properties.get(name)
    if operator == "HAS_PROPERTY":
        return actual not in (None, "")
    if operator == "NOT_HAS_PROPERTY":
        return actual in (None, "")
    if operator in OPERATORS:
        compared = _compare(prop, actual, flt.get("value"))
        if compared is None:
            return operator == "NEQ" and actual is None
        return OPERATORS[operator](compared)
    if operator == "BETWEEN":
        low = _compare(prop, actual, flt.get("value"))
        high = _compare(prop, actual, flt.get("highValue"))
        return low is not None and high is not None and low >= 0 and high <= 0
    if operator in ("IN", "NOT_IN"):
        values = flt.get("values") or []
        found = any(_compare(prop, actual, v) == 0 for v in values)
        return found if operator == "IN" else not found
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(flt.get("value") or "").lower().strip("*")
        found = actual is not None and token in str(actual).lower()
        return found if operator == "CONTAINS_TOKEN" else not found
    raise _fail(400, f"Unsupported filter operator {operator!r}", "VALIDATION_ERROR")


def _sort_key(app: HubSpotApp, object_type: str, name: str) -> Callable[[Record], Any]:
    prop = app.state.props[object_type].get(name)
    kind = prop.type if prop is not None else "string"

    def key(record: Record) -> Any:
        raw = record.id if name in ("hs_object_id", "id") else record.properties.get(name)
        if raw in (None, ""):
            return (1, 0.0, "")
        try:
            if kind == "number" or name in ("hs_object_id", "id"):
                return (0, float(str(raw)), "")
            if kind in ("datetime", "date"):
                return (0, parse_time(str(raw)), "")
        except ValueError:
            pass
        return (0, 0.0, str(raw).lower())
    return key


def search(app: HubSpotApp, request: Request, object_type: str) -> Response:
    body = _body(request)
    limit = body.get("limit", 10)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_SEARCH_PAGE:
        raise _fail(400, f"limit must be between 1 and {MAX_SEARCH_PAGE}, got {limit}",
                    "VALIDATION_ERROR")
    after = str(body.get("after") or "0")
    if not after.isdigit():
        raise _fail(400, f"after {after!r} is not a valid offset", "VALIDATION_ERROR")
    offset = int(after)
    if offset + limit > MAX_SEARCH_RESULTS:
        raise _fail(400, "The search API returns at most 10000 results; narrow the filters",
                    "VALIDATION_ERROR")
    groups = body.get("filterGroups") or []
    rows = list(app.state.objects[object_type].values())
    if groups:
        rows = [r for r in rows if any(all(_matches(app, object_type, r, f)
                                           for f in g.get("filters") or [])
                                       for g in groups)]
    query = str(body.get("query") or "").lower().strip()
    if query:
        rows = [r for r in rows if any(query in str(r.properties.get(n) or "").lower()
                                       for n in SEARCHABLE[object_type])]
    rows.sort(key=lambda r: int(r.id))
    for spec in reversed(body.get("sorts") or []):
        if isinstance(spec, str):
            name, descending = spec.lstrip("-"), spec.startswith("-")
        else:
            name = str(spec.get("propertyName") or "hs_object_id")
            descending = str(spec.get("direction") or "").upper() == "DESCENDING"
        rows.sort(key=_sort_key(app, object_type, name), reverse=descending)
    names = _names(app, object_type, body.get("properties"))
    chunk = rows[offset:offset + limit]
    answer: dict[str, Any] = {"total": len(rows),
                              "results": [render_record(r, names) for r in chunk]}
    if offset + limit < len(rows):
        answer["paging"] = {"next": {"after": str(offset + limit)}}
    return Response.json(200, answer)


# -- properties -----------------------------------------------------------------------------


def list_properties(app: HubSpotApp, request: Request, object_type: str = "companies"
                    ) -> Response:
    return Response.json(200, {"results": [render_property(p) for p in
                                           app.state.props[object_type].values()]})


def get_property(app: HubSpotApp, request: Request, name: str,
                 object_type: str = "companies") -> Response:
    prop = app.state.props[object_type].get(name)
    if prop is None:
        return error(404, f"Unable to find property named '{name}' for object type "
                          f"{object_type}", "OBJECT_NOT_FOUND")
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


def create_property(app: HubSpotApp, request: Request, object_type: str = "companies"
                    ) -> Response:
    body = _body(request)
    missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)]
    if missing:
        raise _fail(400, f"Property is missing required fields: {', '.join(missing)}",
                    "VALIDATION_ERROR")
    name = str(body["name"])
    if name in app.state.props[object_type]:
        raise _fail(409, f"Property named '{name}' already exists.", "CONFLICT")
    prop = app.state.add_property(name, str(body["label"]), str(body["type"]),
                                  str(body["fieldType"]), group_name=str(body["groupName"]),
                                  object_type=object_type)
    prop.options = _options(body.get("options"))
    prop.description = str(body.get("description", ""))
    return Response.json(201, render_property(prop))


def update_property(app: HubSpotApp, request: Request, name: str,
                    object_type: str = "companies") -> Response:
    prop = app.state.props[object_type].get(name)
    if prop is None:
        return get_property(app, request, name, object_type)
    body = request.json() or {}
    if "label" in body:
        prop.label = str(body["label"])
    if "options" in body:
        prop.options = _options(body["options"])
    prop.updated_at = now_iso()
    return Response.json(200, render_property(prop))


# -- pipelines ------------------------------------------------------------------------------

_PIPELINE_STAMP = "2020-01-01T00:00:00.000Z"


def render_pipeline(pipeline: Pipeline) -> dict[str, Any]:
    return {
        "label": pipeline.label, "displayOrder": pipeline.display_order, "id": pipeline.id,
        "stages": [{"label": s.label, "displayOrder": s.display_order,
                    "metadata": {"isClosed": "true" if s.is_closed else "false",
                                 "probability": s.probability},
                    "id": s.id, "createdAt": _PIPELINE_STAMP, "updatedAt": _PIPELINE_STAMP,
                    "archived": False, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT"}
                   for s in pipeline.stages],
        "createdAt": _PIPELINE_STAMP, "updatedAt": _PIPELINE_STAMP, "archived": False,
    }


def list_pipelines(app: HubSpotApp, request: Request) -> Response:
    return Response.json(200, {"results": [render_pipeline(p) for p in app.state.pipelines]})


def _pipeline(app: HubSpotApp, pipeline_id: str) -> Pipeline:
    pipeline = app.state.pipeline(pipeline_id)
    if pipeline is None:
        raise _fail(404, f"Unable to find pipeline with id {pipeline_id}", "OBJECT_NOT_FOUND")
    return pipeline


def get_pipeline(app: HubSpotApp, request: Request, pipeline_id: str) -> Response:
    return Response.json(200, render_pipeline(_pipeline(app, pipeline_id)))


def list_stages(app: HubSpotApp, request: Request, pipeline_id: str) -> Response:
    stages = render_pipeline(_pipeline(app, pipeline_id))["stages"]
    return Response.json(200, {"results": stages})


# -- associations ---------------------------------------------------------------------------


def list_associations_v3(app: HubSpotApp, request: Request, object_type: str, record_id: str,
                         to_type: str) -> Response:
    record = _find(app, object_type, record_id)
    kind = _association_type(object_type, to_type)
    return Response.json(200, {"results": [{"id": i, "type": kind}
                                           for i in record.associations.get(to_type, {})]})


def _v4_types(object_type: str, to_type: str) -> list[dict[str, Any]]:
    unlabeled, primary = TYPE_IDS.get((object_type, to_type), (0, None))
    types = [{"category": "HUBSPOT_DEFINED", "typeId": unlabeled, "label": None}]
    if primary is not None:
        types.insert(0, {"category": "HUBSPOT_DEFINED", "typeId": primary, "label": "Primary"})
    return types


def list_associations_v4(app: HubSpotApp, request: Request, object_type: str, record_id: str,
                         to_type: str) -> Response:
    record = _find(app, object_type, record_id)
    return Response.json(200, {"results": [
        {"toObjectId": int(i), "associationTypes": _v4_types(object_type, to_type)}
        for i in record.associations.get(to_type, {})]})


def associate_default(app: HubSpotApp, request: Request, object_type: str, record_id: str,
                      to_type: str, to_id: str) -> Response:
    _find(app, object_type, record_id)
    _find(app, to_type, to_id)
    app.state.associate(object_type, record_id, to_type, to_id)
    unlabeled, _ = TYPE_IDS.get((object_type, to_type), (0, None))
    return Response.json(200, {"status": "COMPLETE", "results": [
        {"from": {"id": record_id}, "to": {"id": to_id},
         "associationSpec": {"associationCategory": "HUBSPOT_DEFINED",
                             "associationTypeId": unlabeled}}],
        "startedAt": now_iso(), "completedAt": now_iso()})


def remove_associations(app: HubSpotApp, request: Request, object_type: str, record_id: str,
                        to_type: str, to_id: str) -> Response:
    app.state.dissociate(object_type, record_id, to_type, to_id)
    return Response(204)
