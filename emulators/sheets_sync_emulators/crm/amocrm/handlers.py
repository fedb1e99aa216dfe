"""One function per amoCRM API v4 action: ``(app, request, **path) -> Response``.

Companies, contacts and leads (сделки) share one set of handlers (``entity_type`` comes from
the path): list (``page``/``limit`` up to 250, ``filter[id][]``, ``filter[updated_at][from]``
and the other documented filters, ``query``, ``order``, ``with``), read one, add (POST),
edit (PATCH the collection or one record); their custom fields; the lead pipelines and their
statuses (142 won, 143 lost in every pipeline); the account. That is what the sheets-sync
adapter and the ``amocrm-api`` client (``Company.objects.all()``, ``Lead.objects.get(id)``,
``.create``, ``.update``, ``Pipeline``) call for ordinary work.

Shapes follow amoCRM's v4 documentation (companies, contacts, leads, pipelines, custom fields).
**No recorded amoCRM success response exists in public** (see ``tests/fixtures/crm/README.md``),
so the success bodies are built from the documentation's field tables; the error bodies (401,
400 with ``validation-errors``) are held to the issue-reported recordings. Where the
documentation is silent, the emulator makes a stated assumption:

* A PATCH or POST is validated as a whole: any invalid element answers 400 with a
  ``validation-errors`` entry per bad element (``request_id`` is the element's index, as in the
  recorded 400 bodies) and nothing is written.
* An unknown id in a PATCH is a validation error with code ``NotFound`` on ``id``.
* Over-limit ``limit`` (> 250, for records and custom fields alike) and over-size writes (> 50
  elements) answer 400 in the same ``validation-errors`` shape.
* ``filter[id]`` takes one id or a list (``filter[id][]=1&filter[id][]=2``); ``query`` matches
  a record's name or any custom field value as a case-insensitive substring; a time filter
  takes ``[from]``/``[to]`` (inclusive) or one exact value. Unknown filter keys are ignored.
* ``If-Modified-Since`` on a list keeps the records updated after that instant (documented as
  the way to read changes; a list with none answers 204).
* A lead's ``_embedded.companies`` (its one company) is always there, as in the documentation's
  example; ``with=companies`` is accepted too. ``with=contacts`` / ``with=leads`` add those.
* Reading one record that does not exist answers 204 with no body, as a list past its end.
* The 429 body uses the same ``problem+json`` fields as the recorded 401 (title, type, status,
  detail); amoCRM documents the status, not the body.
* ``PATCH .../custom_fields/{id}`` with ``enums`` replaces the option list: options given with
  their ``id`` are kept, options without an ``id`` are added, options left out are removed.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from ..bitrix24.php import parse_query
from ..core import HttpError, Request, Response
from .state import ENUM_TYPES, FIELD_TYPES, LOST, WON, CustomField, Entity

if TYPE_CHECKING:
    from . import AmoCrmApp

HAL = "application/hal+json"
PROBLEM = "application/problem+json"
MAX_PAGE = 250
MAX_FIELDS_PAGE = 250
MAX_PATCH = 50
SINGULAR = {"companies": "company", "contacts": "contact", "leads": "lead"}


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    body: dict[str, Any] = dict(extra)
    body.update({"title": title, "type": f"https://httpstatus.es/{status}", "status": status,
                 "detail": detail})
    return Response.json(status, body, PROBLEM)


def validation_failed(errors: list[tuple[int, str, str, str]]) -> HttpError:
    """``errors``: (element index, code, path, detail) -> a 400 like the recorded ones."""
    by_request: dict[str, list[dict[str, str]]] = {}
    for index, code, path, detail in errors:
        by_request.setdefault(str(index), []).append(
            {"code": code, "path": path, "detail": detail})
    body = [{"request_id": rid, "errors": errs} for rid, errs in by_request.items()]
    return HttpError(problem(400, "Bad Request", "Request validation failed",
                             **{"validation-errors": body}))


def _base(request: Request) -> str:
    return f"http://{request.header('Host') or 'localhost'}"


def _params(request: Request) -> dict[str, Any]:
    return parse_query(request.target.partition("?")[2])


def _int_arg(params: dict[str, Any], name: str, default: int, maximum: int) -> int:
    raw = params.get(name)
    try:
        value = default if raw in (None, "") else int(str(raw))
    except ValueError:
        raise validation_failed([(0, "InvalidType", name, "This value should be of type int.")]
                                ) from None
    if value < 1 or value > maximum:
        raise validation_failed([(0, "LessThanOrEqual", name,
                                  f"This value should be between 1 and {maximum}.")])
    return value


# -- rendering ------------------------------------------------------------------------------


def render_field(cf: CustomField) -> dict[str, Any]:
    return {
        "id": cf.id, "name": cf.name, "type": cf.type, "account_id": 31000000,
        "code": cf.code, "sort": cf.sort, "is_api_only": False,
        "enums": [dict(e) for e in cf.enums] if cf.type in ENUM_TYPES else None,
        "group_id": None, "required_statuses": [], "is_deletable": not cf.is_predefined,
        "is_predefined": cf.is_predefined, "entity_type": cf.entity_type, "remind": None,
        "_links": {"self": {"href": f"/api/v4/{cf.entity_type}/custom_fields/{cf.id}"}},
    }


def _values(app: AmoCrmApp, entity: Entity) -> list[dict[str, Any]] | None:
    values = []
    table = app.state.custom_fields[entity.entity_type]
    for field_id, vals in entity.values.items():
        cf = table.get(field_id)
        if cf is None:
            continue
        values.append({"field_id": cf.id, "field_name": cf.name, "field_code": cf.code,
                       "field_type": cf.type,
                       "values": [dict(v, enum_code=None) if "enum_id" in v else dict(v)
                                  for v in vals]})
    return values or None


def _link(base: str, entity_type: str, entity_id: int) -> dict[str, Any]:
    return {"self": {"href": f"{base}/api/v4/{entity_type}/{entity_id}"}}


def _linked(app: AmoCrmApp, entity: Entity, with_: set[str], base: str) -> dict[str, Any]:
    state = app.state
    embedded: dict[str, Any] = {"tags": []}
    if entity.entity_type in ("leads", "contacts"):
        companies = [entity.company_id] if entity.company_id in state.companies else []
        embedded["companies"] = [{"id": c, "_links": _link(base, "companies", c)}
                                 for c in companies]
    if "contacts" in with_:
        if entity.entity_type == "leads":
            ids = [c for c in entity.contact_ids if c in state.contacts]
        else:
            ids = [c.id for c in state.contacts.values() if c.company_id == entity.id]
        embedded["contacts"] = [{"id": c, "is_main": n == 0, "_links": _link(base, "contacts", c)}
                                for n, c in enumerate(ids)]
    if "leads" in with_ and entity.entity_type != "leads":
        if entity.entity_type == "companies":
            ids = [lead.id for lead in state.leads.values() if lead.company_id == entity.id]
        else:
            ids = [lead.id for lead in state.leads.values() if entity.id in lead.contact_ids]
        embedded["leads"] = [{"id": i, "_links": _link(base, "leads", i)} for i in ids]
    return embedded


def render_entity(app: AmoCrmApp, entity: Entity, base: str,
                  with_: set[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": entity.id, "name": entity.name}
    extra = entity.extra
    if entity.entity_type == "leads":
        body.update({"price": extra.get("price", 0),
                     "responsible_user_id": entity.responsible_user_id, "group_id": 0,
                     "status_id": extra.get("status_id"),
                     "pipeline_id": extra.get("pipeline_id"),
                     "loss_reason_id": extra.get("loss_reason_id"), "source_id": None})
    elif entity.entity_type == "contacts":
        body.update({"first_name": extra.get("first_name", ""),
                     "last_name": extra.get("last_name", ""),
                     "responsible_user_id": entity.responsible_user_id, "group_id": 0})
    else:
        body.update({"responsible_user_id": entity.responsible_user_id, "group_id": 0})
    body.update({"created_by": entity.responsible_user_id,
                 "updated_by": entity.responsible_user_id,
                 "created_at": entity.created_at, "updated_at": entity.updated_at})
    if entity.entity_type == "leads":
        body["closed_at"] = extra.get("closed_at")
    body.update({"closest_task_at": None, "is_deleted": False})
    if entity.entity_type == "contacts":
        body["is_unsorted"] = False
    body["custom_fields_values"] = _values(app, entity)
    if entity.entity_type == "leads":
        body.update({"score": None, "labor_cost": None, "is_price_modified_by_robot": False})
    body["account_id"] = app.state.account_id
    body["_links"] = _link(base, entity.entity_type, entity.id)
    body["_embedded"] = _linked(app, entity, with_ or set(), base)
    return body


def render_company(app: AmoCrmApp, company: Entity, base: str) -> dict[str, Any]:
    return render_entity(app, company, base)


# -- listing --------------------------------------------------------------------------------


def _ids(raw: Any) -> set[int] | None:
    if raw is None:
        return None
    items = raw if isinstance(raw, list) else list(raw.values()) if isinstance(raw, dict) \
        else [raw]
    out = set()
    for item in items:
        for part in str(item).split(","):
            if part.strip().lstrip("-").isdigit():
                out.add(int(part))
    return out


def _in_range(value: Any, spec: Any) -> bool:
    if isinstance(spec, dict):
        if value is None:
            return False
        low, high = spec.get("from"), spec.get("to")
        try:
            return (low in (None, "") or int(value) >= int(str(low))) and \
                (high in (None, "") or int(value) <= int(str(high)))
        except ValueError:
            return False
    ids = _ids(spec)
    return ids is not None and value is not None and int(value) in ids


def _text(app: AmoCrmApp, entity: Entity) -> str:
    parts = [entity.name, *(str(v) for v in entity.extra.values() if v is not None)]
    for vals in entity.values.values():
        parts += [str(v.get("value")) for v in vals]
    return " ".join(parts).lower()


def _since(request: Request | None) -> int | None:
    """``If-Modified-Since`` (an HTTP date), which the documentation recommends for lists."""
    raw = request.header("If-Modified-Since") if request is not None else None
    if not raw:
        return None
    try:
        return int(parsedate_to_datetime(raw).timestamp())
    except (TypeError, ValueError):
        return None


def _filtered(app: AmoCrmApp, entity_type: str, params: dict[str, Any],
              request: Request | None = None) -> list[Entity]:
    rows = list(app.state.entities[entity_type].values())
    since = _since(request)
    if since is not None:
        rows = [r for r in rows if r.updated_at > since]
    filt = params.get("filter") or {}
    if not isinstance(filt, dict):
        filt = {}
    wanted = _ids(filt.get("id"))
    if wanted is not None:
        rows = [r for r in rows if r.id in wanted]
    if filt.get("name") not in (None, ""):
        names = filt["name"] if isinstance(filt["name"], list) else [filt["name"]]
        rows = [r for r in rows if r.name in {str(n) for n in names}]
    for key in ("created_at", "updated_at"):
        if filt.get(key) not in (None, ""):
            rows = [r for r in rows if _in_range(getattr(r, key), filt[key])]
    for key in ("closed_at", "price", "pipeline_id", "responsible_user_id"):
        if filt.get(key) not in (None, "") and entity_type == "leads":
            rows = [r for r in rows if _in_range(
                r.responsible_user_id if key == "responsible_user_id" else r.extra.get(key),
                filt[key])]
    statuses = filt.get("statuses")
    if statuses and entity_type == "leads":
        pairs = statuses if isinstance(statuses, list) else list(statuses.values())
        allowed = {(int(str(p.get("pipeline_id") or 0)), int(str(p.get("status_id") or 0)))
                   for p in pairs if isinstance(p, dict)}
        rows = [r for r in rows if (r.extra.get("pipeline_id"), r.extra.get("status_id"))
                in allowed]
    query = str(params.get("query") or "").strip().lower()
    if query:
        rows = [r for r in rows if query in _text(app, r)]
    order = params.get("order")  # records are kept in id order (ids only grow)
    if isinstance(order, dict):
        for key, direction in reversed(list(order.items())):
            if key in ("id", "created_at", "updated_at"):
                rows.sort(key=lambda r, k=key: getattr(r, k),
                          reverse=str(direction).lower() == "desc")
    return rows


def _with(params: dict[str, Any]) -> set[str]:
    raw = params.get("with") or ""
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return {str(i).strip() for i in items if str(i).strip()}


def list_entities(app: AmoCrmApp, request: Request, entity_type: str) -> Response:
    params = _params(request)
    page = _int_arg(params, "page", 1, 10**9)
    limit = _int_arg(params, "limit", 50, MAX_PAGE)
    rows = _filtered(app, entity_type, params, request)
    chunk = rows[(page - 1) * limit: page * limit]
    if not chunk:
        return Response(204)
    base = _base(request)
    query = request.target.partition("?")[2]
    rest = "&".join(p for p in query.split("&") if p and not p.startswith(("page=", "limit=")))
    tail = f"&{rest}" if rest else ""

    def href(n: int) -> dict[str, str]:
        return {"href": f"{base}/api/v4/{entity_type}?page={n}&limit={limit}{tail}"}
    links: dict[str, Any] = {"self": href(page)}
    if page * limit < len(rows):
        links["next"] = href(page + 1)
    if page > 1:
        links["prev"] = href(page - 1)
    with_ = _with(params)
    body = {"_page": page, "_links": links,
            "_embedded": {entity_type: [render_entity(app, c, base, with_) for c in chunk]}}
    return Response.json(200, body, HAL)


def list_companies(app: AmoCrmApp, request: Request) -> Response:
    return list_entities(app, request, "companies")


def get_entity(app: AmoCrmApp, request: Request, entity_type: str, entity_id: str) -> Response:
    entity = app.state.entities[entity_type].get(int(entity_id))
    if entity is None:
        return Response(204)
    return Response.json(200, render_entity(app, entity, _base(request),
                                            _with(_params(request))), HAL)


# -- writing --------------------------------------------------------------------------------


def _check_values(app: AmoCrmApp, entity_type: str, index: int, item: dict[str, Any],
                  errors: list[tuple[int, str, str, str]]) -> None:
    table = app.state.custom_fields[entity_type]
    for n, cfv in enumerate(item.get("custom_fields_values") or []):
        cf = None
        if not isinstance(cfv, dict):
            errors.append((index, "InvalidType", f"custom_fields_values.{n}",
                           "This value should be of type object."))
            continue
        if "field_id" in cfv:
            cf = table.get(cfv["field_id"]) if isinstance(cfv["field_id"], int) else None
            if cf is None:
                errors.append((index, "NotSupportedChoice", f"custom_fields_values.{n}.field_id",
                               "The value you selected is not a valid choice."))
                continue
        elif "field_code" in cfv:
            cf = app.state.field(str(cfv["field_code"]), entity_type)
            if cf is None or cf.code is None:
                errors.append((index, "NotSupportedChoice",
                               f"custom_fields_values.{n}.field_code",
                               "The value you selected is not a valid choice."))
                continue
        else:
            errors.append((index, "NotBlank", f"custom_fields_values.{n}.field_id",
                           "This value should not be blank."))
            continue
        for m, value in enumerate(cfv.get("values") or []):
            if cf.type not in ("select", "radiobutton", "multiselect"):
                continue
            if "enum_id" in value and cf.enum_by_id(value["enum_id"]) is None:
                errors.append((index, "NotSupportedChoice",
                               f"custom_fields_values.{n}.values.{m}.enum_id",
                               "The value you selected is not a valid choice."))
            elif "enum_id" not in value and cf.enum_by_value(str(value.get("value"))) is None:
                errors.append((index, "NotSupportedChoice",
                               f"custom_fields_values.{n}.values.{m}.value",
                               "The value you selected is not a valid choice."))


def _check_own(app: AmoCrmApp, entity_type: str, index: int, item: dict[str, Any],
               errors: list[tuple[int, str, str, str]]) -> None:
    """The entity's own fields: types, a lead's status in its pipeline, linked records."""
    if "name" in item and not isinstance(item["name"], str):
        errors.append((index, "InvalidType", "name", "This value should be of type string."))
    if entity_type == "leads":
        for key in ("price", "status_id", "pipeline_id", "closed_at", "loss_reason_id"):
            if key in item and item[key] is not None and (
                    not isinstance(item[key], int) or isinstance(item[key], bool)):
                errors.append((index, "InvalidType", key, "This value should be of type int."))
        pipeline_id = item.get("pipeline_id")
        if isinstance(pipeline_id, int) and pipeline_id not in app.state.pipelines:
            errors.append((index, "NotSupportedChoice", "pipeline_id",
                           "The value you selected is not a valid choice."))
        status_id = item.get("status_id")
        if isinstance(status_id, int) and status_id not in (WON, LOST):
            pipelines = [app.state.pipelines[pipeline_id]] \
                if isinstance(pipeline_id, int) and pipeline_id in app.state.pipelines \
                else list(app.state.pipelines.values())
            if not any(s.id == status_id for p in pipelines for s in p.statuses):
                errors.append((index, "NotSupportedChoice", "status_id",
                               "The value you selected is not a valid choice."))
    embedded = item.get("_embedded") or {}
    for link_type in ("companies", "contacts"):
        for n, link in enumerate(embedded.get(link_type) or []):
            link_id = link.get("id") if isinstance(link, dict) else None
            if link_id not in app.state.entities[link_type]:
                errors.append((index, "NotFound", f"_embedded.{link_type}.{n}.id",
                               "Entity not found"))


def _apply(app: AmoCrmApp, entity: Entity, item: dict[str, Any]) -> None:
    if "name" in item:
        entity.name = str(item["name"])
    for key in ("price", "status_id", "pipeline_id", "closed_at", "loss_reason_id",
                "first_name", "last_name"):
        if key in item:
            entity.extra[key] = item[key]
    if "responsible_user_id" in item and isinstance(item["responsible_user_id"], int):
        entity.responsible_user_id = item["responsible_user_id"]
    for cfv in item.get("custom_fields_values") or []:
        cf = (app.state.custom_fields[entity.entity_type][cfv["field_id"]] if "field_id" in cfv
              else app.state.field(str(cfv["field_code"]), entity.entity_type))
        assert cf is not None
        values = cfv.get("values")
        if not values:
            entity.values.pop(cf.id, None)
            continue
        first = values[0]
        if cf.type in ("select", "radiobutton"):
            enum = (cf.enum_by_id(first["enum_id"]) if "enum_id" in first
                    else cf.enum_by_value(str(first.get("value"))))
            assert enum is not None
            app.state.set_value(entity, cf.id, enum["value"], touch=False)
        else:
            app.state.set_value(entity, cf.id, first.get("value"), touch=False)
    embedded = item.get("_embedded") or {}
    if embedded.get("companies") and entity.entity_type != "companies":
        entity.company_id = int(embedded["companies"][0]["id"])
    if embedded.get("contacts") and entity.entity_type == "leads":
        entity.contact_ids = list(dict.fromkeys(
            entity.contact_ids + [int(c["id"]) for c in embedded["contacts"]]))
    if entity.entity_type == "contacts" and ("first_name" in item or "last_name" in item) \
            and "name" not in item:
        entity.name = " ".join(p for p in (entity.extra.get("first_name"),
                                           entity.extra.get("last_name")) if p)
    app.state.touch(entity)
    if entity.entity_type == "leads" and entity.extra.get("status_id") in (WON, LOST) and \
            entity.extra.get("closed_at") is None:
        entity.extra["closed_at"] = entity.updated_at
    if entity.entity_type == "leads" and entity.extra.get("status_id") not in (WON, LOST):
        entity.extra["closed_at"] = None


def _check_update(app: AmoCrmApp, entity_type: str, index: int, item: Any,
                  errors: list[tuple[int, str, str, str]]) -> None:
    if not isinstance(item, dict):
        errors.append((index, "InvalidType", "", "This value should be of type object."))
        return
    entity_id = item.get("id")
    if not isinstance(entity_id, int) or entity_id not in app.state.entities[entity_type]:
        errors.append((index, "NotFound", "id", "Entity not found"))
        return
    if str(entity_id) in app.faults.rejected:
        message = app.faults.rejected[str(entity_id)] or "This value is not valid."
        errors.append((index, "InvalidValue", "custom_fields_values", message))
        return
    _check_values(app, entity_type, index, item, errors)
    _check_own(app, entity_type, index, item, errors)


def update_entities(app: AmoCrmApp, request: Request, entity_type: str) -> Response:
    body = _json_list(request)
    if len(body) > MAX_PATCH:
        raise validation_failed([(0, "LessThanOrEqual", "", f"This collection should contain "
                                  f"{MAX_PATCH} elements or less.")])
    errors: list[tuple[int, str, str, str]] = []
    for index, item in enumerate(body):
        _check_update(app, entity_type, index, item, errors)
    if errors:
        raise validation_failed(errors)
    base = _base(request)
    out = []
    for index, item in enumerate(body):
        entity = app.state.entities[entity_type][item["id"]]
        _apply(app, entity, item)
        out.append({"id": entity.id, "name": entity.name, "updated_at": entity.updated_at,
                    "request_id": str(item.get("request_id", index)),
                    "_links": _link(base, entity_type, entity.id)})
    return Response.json(200, {"_links": {"self": {"href": f"{base}/api/v4/{entity_type}"}},
                               "_embedded": {entity_type: out}}, HAL)


def update_companies(app: AmoCrmApp, request: Request) -> Response:
    return update_entities(app, request, "companies")


def update_entity(app: AmoCrmApp, request: Request, entity_type: str,
                  entity_id: str) -> Response:
    item = request.json() if request.body else None
    if not isinstance(item, dict):
        raise HttpError(problem(400, "Bad Request", "Request body must be a JSON object"))
    item = dict(item, id=int(entity_id))
    errors: list[tuple[int, str, str, str]] = []
    _check_update(app, entity_type, 0, item, errors)
    if errors:
        raise validation_failed(errors)
    entity = app.state.entities[entity_type][int(entity_id)]
    _apply(app, entity, item)
    return Response.json(200, {"id": entity.id, "name": entity.name,
                               "updated_at": entity.updated_at,
                               "_links": _link(_base(request), entity_type, entity.id)}, HAL)


def add_entities(app: AmoCrmApp, request: Request, entity_type: str) -> Response:
    body = _json_list(request)
    if len(body) > MAX_PATCH:
        raise validation_failed([(0, "LessThanOrEqual", "", f"This collection should contain "
                                  f"{MAX_PATCH} elements or less.")])
    errors: list[tuple[int, str, str, str]] = []
    for index, item in enumerate(body):
        if not isinstance(item, dict):
            errors.append((index, "InvalidType", "", "This value should be of type object."))
            continue
        _check_values(app, entity_type, index, item, errors)
        _check_own(app, entity_type, index, item, errors)
    if errors:
        raise validation_failed(errors)
    base = _base(request)
    out = []
    for index, item in enumerate(body):
        name = str(item.get("name") or "")
        if entity_type == "leads":
            entity = app.state.add_lead(name, price=item.get("price") or 0,
                                        status_id=item.get("status_id"),
                                        pipeline_id=item.get("pipeline_id"),
                                        closed_at=item.get("closed_at"))
        else:
            entity = app.state.add(entity_type, name)
        _apply(app, entity, {k: v for k, v in item.items() if k not in ("created_at",)})
        if entity_type == "leads" and entity.extra.get("status_id") in (WON, LOST) \
                and item.get("closed_at"):
            entity.extra["closed_at"] = item["closed_at"]
        out.append({"id": entity.id, "request_id": str(item.get("request_id", index)),
                    "_links": _link(base, entity_type, entity.id)})
    return Response.json(200, {"_links": {"self": {"href": f"{base}/api/v4/{entity_type}"}},
                               "_embedded": {entity_type: out}}, HAL)


# -- custom fields --------------------------------------------------------------------------


def list_fields(app: AmoCrmApp, request: Request, entity_type: str = "companies") -> Response:
    params = _params(request)
    page = _int_arg(params, "page", 1, 10**9)
    limit = _int_arg(params, "limit", 50, MAX_FIELDS_PAGE)
    table = app.state.custom_fields[entity_type]
    ordered = [table[k] for k in sorted(table)]
    chunk = ordered[(page - 1) * limit: page * limit]
    if not chunk:
        return Response(204)
    pages = (len(ordered) + limit - 1) // limit
    base = _base(request)
    path = f"{base}/api/v4/{entity_type}/custom_fields"
    links: dict[str, Any] = {"self": {"href": f"{path}?page={page}&limit={limit}"}}
    if page < pages:
        links["next"] = {"href": f"{path}?page={page + 1}&limit={limit}"}
    body = {"_total_items": len(ordered), "_page": page, "_page_count": pages,
            "_links": links, "_embedded": {"custom_fields": [render_field(f) for f in chunk]}}
    return Response.json(200, body, HAL)


def get_field(app: AmoCrmApp, request: Request, field_id: str,
              entity_type: str = "companies") -> Response:
    cf = app.state.custom_fields[entity_type].get(int(field_id))
    if cf is None:
        return Response(204)
    return Response.json(200, render_field(cf), HAL)


def add_fields(app: AmoCrmApp, request: Request, entity_type: str = "companies") -> Response:
    body = _json_list(request)
    errors: list[tuple[int, str, str, str]] = []
    codes = {f.code for f in app.state.custom_fields[entity_type].values() if f.code}
    for index, item in enumerate(body):
        if not isinstance(item, dict) or not item.get("name"):
            errors.append((index, "NotBlank", "name", "This value should not be blank."))
        elif item.get("type") not in FIELD_TYPES:
            errors.append((index, "NotSupportedChoice", "type",
                           "The value you selected is not a valid choice."))
        elif item.get("code") and item["code"] in codes:
            errors.append((index, "NotUnique", "code", "This value is already used."))
    if errors:
        raise validation_failed(errors)
    created = []
    for item in body:
        cf = app.state.add_field(str(item["name"]), item["type"], code=item.get("code"),
                                 sort=item.get("sort"), entity_type=entity_type)
        if cf.type in ENUM_TYPES:
            app.state.set_enums(cf, [{"value": e["value"], "sort": e.get("sort", 0)}
                                     for e in item.get("enums") or []])
        created.append(render_field(cf))
    return Response.json(200, {"_total_items": len(created),
                               "_embedded": {"custom_fields": created}}, HAL)


def update_field(app: AmoCrmApp, request: Request, field_id: str,
                 entity_type: str = "companies") -> Response:
    cf = app.state.custom_fields[entity_type].get(int(field_id))
    if cf is None:
        raise validation_failed([(0, "NotFound", "id", "Entity not found")])
    body = request.json()
    if not isinstance(body, dict):
        raise validation_failed([(0, "InvalidType", "", "This value should be of type object.")])
    if "name" in body:
        cf.name = str(body["name"])
    if "enums" in body:
        if cf.type not in ENUM_TYPES:
            raise validation_failed([(0, "NotSupportedChoice", "enums",
                                      "The value you selected is not a valid choice.")])
        app.state.set_enums(cf, list(body["enums"] or []))
    return Response.json(200, render_field(cf), HAL)


# -- pipelines ------------------------------------------------------------------------------


def _render_status(app: AmoCrmApp, pipeline_id: int, status: Any, base: str) -> dict[str, Any]:
    return {"id": status.id, "name": status.name, "sort": status.sort,
            "is_editable": status.id not in (WON, LOST) and status.type != 1,
            "pipeline_id": pipeline_id, "color": status.color, "type": status.type,
            "account_id": app.state.account_id,
            "_links": {"self": {"href": f"{base}/api/v4/leads/pipelines/{pipeline_id}/"
                                        f"statuses/{status.id}"}}}


def render_pipeline(app: AmoCrmApp, pipeline_id: int, base: str) -> dict[str, Any]:
    pipeline = app.state.pipelines[pipeline_id]
    return {"id": pipeline.id, "name": pipeline.name, "sort": pipeline.sort,
            "is_main": pipeline.is_main, "is_unsorted_on": True, "is_archive": False,
            "account_id": app.state.account_id,
            "_links": {"self": {"href": f"{base}/api/v4/leads/pipelines/{pipeline.id}"}},
            "_embedded": {"statuses": [_render_status(app, pipeline.id, s, base)
                                       for s in pipeline.statuses]}}


def list_pipelines(app: AmoCrmApp, request: Request) -> Response:
    base = _base(request)
    rows = [render_pipeline(app, p, base) for p in sorted(app.state.pipelines)]
    return Response.json(200, {"_total_items": len(rows),
                               "_links": {"self": {"href": f"{base}/api/v4/leads/pipelines"}},
                               "_embedded": {"pipelines": rows}}, HAL)


def get_pipeline(app: AmoCrmApp, request: Request, pipeline_id: str) -> Response:
    if int(pipeline_id) not in app.state.pipelines:
        return Response(204)
    return Response.json(200, render_pipeline(app, int(pipeline_id), _base(request)), HAL)


def list_statuses(app: AmoCrmApp, request: Request, pipeline_id: str) -> Response:
    if int(pipeline_id) not in app.state.pipelines:
        return Response(204)
    base = _base(request)
    pipeline = app.state.pipelines[int(pipeline_id)]
    rows = [_render_status(app, pipeline.id, s, base) for s in pipeline.statuses]
    return Response.json(200, {"_total_items": len(rows), "_links": {"self": {
        "href": f"{base}/api/v4/leads/pipelines/{pipeline.id}/statuses"}},
        "_embedded": {"statuses": rows}}, HAL)


def account(app: AmoCrmApp, request: Request) -> Response:
    return Response.json(200, {
        "id": app.state.account_id, "name": "sheets-sync emulator",
        "subdomain": app.state.subdomain, "created_at": 1600000000, "created_by": 0,
        "updated_at": 1600000000, "updated_by": 0, "current_user_id": 1000001,
        "country": "RU", "currency": "RUB", "currency_symbol": "₽",
        "timezone": app.state.timezone,
        "customers_mode": "disabled", "is_unsorted_on": True, "mobile_feature_version": 0,
        "is_loss_reason_enabled": True, "is_helpbot_enabled": False,
        "is_technical_account": False, "contact_name_display_order": 1,
        "_links": {"self": {"href": f"{_base(request)}/api/v4/account"}},
    }, HAL)


def _json_list(request: Request) -> list[Any]:
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, list):
        raise HttpError(problem(400, "Bad Request", "Request body must be a JSON array"))
    return body


Handler = Callable[..., Response]
