"""One function per amoCRM API v4 action the adapter uses: ``(app, request, **path) -> Response``.

Shapes follow amoCRM's v4 documentation (companies, custom fields). **No recorded amoCRM success
response exists in public** (see ``tests/fixtures/crm/README.md``), so the success bodies here
are built from the documentation's field tables; the error bodies (401, 400 with
``validation-errors``) are held to the issue-reported recordings. Where the documentation is
silent, the emulator makes a stated assumption:

* ``PATCH /api/v4/companies`` is validated as a whole: any invalid element answers 400 with a
  ``validation-errors`` entry per bad element (``request_id`` is the element's index, as in the
  recorded 400 bodies) and nothing is written.
* An unknown company id in that PATCH is a validation error with code ``NotFound`` on ``id``.
* Over-limit ``limit`` (> 250 for companies, > 50 for custom fields) and over-size PATCH (> 50
  elements) answer 400 in the same ``validation-errors`` shape.
* The 429 body uses the same ``problem+json`` fields as the recorded 401 (title, type, status,
  detail); amoCRM documents the status, not the body.
* ``PATCH .../custom_fields/{id}`` with ``enums`` replaces the option list: options given with
  their ``id`` are kept, options without an ``id`` are added, options left out are removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core import HttpError, Request, Response
from .state import ENUM_TYPES, FIELD_TYPES, Company, CustomField

if TYPE_CHECKING:
    from . import AmoCrmApp

HAL = "application/hal+json"
PROBLEM = "application/problem+json"
MAX_PAGE = 250
MAX_FIELDS_PAGE = 50
MAX_PATCH = 50


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


def _int_arg(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.arg(name)
    try:
        value = default if raw in (None, "") else int(raw)
    except ValueError:
        raise validation_failed([(0, "InvalidType", name, "This value should be of type int.")]
                                ) from None
    if value < 1 or value > maximum:
        raise validation_failed([(0, "LessThanOrEqual", name,
                                  f"This value should be between 1 and {maximum}.")])
    return value


def render_field(cf: CustomField) -> dict[str, Any]:
    return {
        "id": cf.id, "name": cf.name, "type": cf.type, "account_id": 31000000,
        "code": cf.code, "sort": cf.sort, "is_api_only": False,
        "enums": [dict(e) for e in cf.enums] if cf.type in ENUM_TYPES else None,
        "group_id": None, "required_statuses": [], "is_deletable": not cf.is_predefined,
        "is_predefined": cf.is_predefined, "entity_type": "companies", "remind": None,
        "_links": {"self": {"href": f"/api/v4/companies/custom_fields/{cf.id}"}},
    }


def render_company(app: AmoCrmApp, company: Company, base: str) -> dict[str, Any]:
    values = []
    for field_id, vals in company.values.items():
        cf = app.state.fields.get(field_id)
        if cf is None:
            continue
        values.append({"field_id": cf.id, "field_name": cf.name, "field_code": cf.code,
                       "field_type": cf.type,
                       "values": [dict(v, enum_code=None) if "enum_id" in v else dict(v)
                                  for v in vals]})
    return {
        "id": company.id, "name": company.name,
        "responsible_user_id": company.responsible_user_id, "group_id": 0,
        "created_by": company.responsible_user_id, "updated_by": company.responsible_user_id,
        "created_at": company.created_at, "updated_at": company.updated_at,
        "closest_task_at": None, "is_deleted": False,
        "custom_fields_values": values or None, "account_id": app.state.account_id,
        "_links": {"self": {"href": f"{base}/api/v4/companies/{company.id}"}},
        "_embedded": {"tags": []},
    }


def list_companies(app: AmoCrmApp, request: Request) -> Response:
    page = _int_arg(request, "page", 1, 10**9)
    limit = _int_arg(request, "limit", 50, MAX_PAGE)
    ordered = [app.state.companies[k] for k in sorted(app.state.companies)]
    chunk = ordered[(page - 1) * limit: page * limit]
    if not chunk:
        return Response(204)
    base = _base(request)
    links: dict[str, Any] = {
        "self": {"href": f"{base}/api/v4/companies?page={page}&limit={limit}"}}
    if page * limit < len(ordered):
        links["next"] = {"href": f"{base}/api/v4/companies?page={page + 1}&limit={limit}"}
    if page > 1:
        links["prev"] = {"href": f"{base}/api/v4/companies?page={page - 1}&limit={limit}"}
    body = {"_page": page, "_links": links,
            "_embedded": {"companies": [render_company(app, c, base) for c in chunk]}}
    return Response.json(200, body, HAL)


def _check_element(app: AmoCrmApp, index: int, item: Any,
                   errors: list[tuple[int, str, str, str]]) -> None:
    if not isinstance(item, dict):
        errors.append((index, "InvalidType", "", "This value should be of type object."))
        return
    company_id = item.get("id")
    if not isinstance(company_id, int) or company_id not in app.state.companies:
        errors.append((index, "NotFound", "id", "Entity not found"))
        return
    if str(company_id) in app.faults.rejected:
        message = app.faults.rejected[str(company_id)] or "This value is not valid."
        errors.append((index, "InvalidValue", "custom_fields_values", message))
        return
    for n, cfv in enumerate(item.get("custom_fields_values") or []):
        cf = None
        if "field_id" in cfv:
            cf = app.state.fields.get(cfv["field_id"]) if isinstance(cfv["field_id"], int) \
                else None
            if cf is None:
                errors.append((index, "NotSupportedChoice", f"custom_fields_values.{n}.field_id",
                               "The value you selected is not a valid choice."))
                continue
        elif "field_code" in cfv:
            cf = app.state.field(str(cfv["field_code"]))
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


def _apply(app: AmoCrmApp, item: dict[str, Any]) -> Company:
    company = app.state.companies[item["id"]]
    if "name" in item:
        company.name = str(item["name"])
    for cfv in item.get("custom_fields_values") or []:
        cf = (app.state.fields[cfv["field_id"]] if "field_id" in cfv
              else app.state.field(str(cfv["field_code"])))
        assert cf is not None
        values = cfv.get("values")
        if not values:
            company.values.pop(cf.id, None)
            continue
        first = values[0]
        if cf.type in ("select", "radiobutton"):
            enum = (cf.enum_by_id(first["enum_id"]) if "enum_id" in first
                    else cf.enum_by_value(str(first.get("value"))))
            assert enum is not None
            app.state.set_value(company, cf.id, enum["value"])
        else:
            app.state.set_value(company, cf.id, first.get("value"))
    return company


def update_companies(app: AmoCrmApp, request: Request) -> Response:
    body = _json_list(request)
    if len(body) > MAX_PATCH:
        raise validation_failed([(0, "LessThanOrEqual", "", f"This collection should contain "
                                  f"{MAX_PATCH} elements or less.")])
    errors: list[tuple[int, str, str, str]] = []
    for index, item in enumerate(body):
        _check_element(app, index, item, errors)
    if errors:
        raise validation_failed(errors)
    base = _base(request)
    out = []
    for index, item in enumerate(body):
        company = _apply(app, item)
        out.append({"id": company.id, "name": company.name, "updated_at": company.updated_at,
                    "request_id": str(item.get("request_id", index)),
                    "_links": {"self": {"href": f"{base}/api/v4/companies/{company.id}"}}})
    return Response.json(200, {"_links": {"self": {"href": f"{base}/api/v4/companies"}},
                               "_embedded": {"companies": out}}, HAL)


def list_fields(app: AmoCrmApp, request: Request) -> Response:
    page = _int_arg(request, "page", 1, 10**9)
    limit = _int_arg(request, "limit", 50, MAX_FIELDS_PAGE)
    ordered = [app.state.fields[k] for k in sorted(app.state.fields)]
    chunk = ordered[(page - 1) * limit: page * limit]
    if not chunk:
        return Response(204)
    pages = (len(ordered) + limit - 1) // limit
    base = _base(request)
    links: dict[str, Any] = {
        "self": {"href": f"{base}/api/v4/companies/custom_fields?page={page}&limit={limit}"}}
    if page < pages:
        links["next"] = {
            "href": f"{base}/api/v4/companies/custom_fields?page={page + 1}&limit={limit}"}
    body = {"_total_items": len(ordered), "_page": page, "_page_count": pages,
            "_links": links, "_embedded": {"custom_fields": [render_field(f) for f in chunk]}}
    return Response.json(200, body, HAL)


def get_field(app: AmoCrmApp, request: Request, field_id: str) -> Response:
    cf = app.state.fields.get(int(field_id))
    if cf is None:
        return Response(204)
    return Response.json(200, render_field(cf), HAL)


def add_fields(app: AmoCrmApp, request: Request) -> Response:
    body = _json_list(request)
    errors: list[tuple[int, str, str, str]] = []
    codes = {f.code for f in app.state.fields.values() if f.code}
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
                                 sort=item.get("sort"))
        if cf.type in ENUM_TYPES:
            app.state.set_enums(cf, [{"value": e["value"], "sort": e.get("sort", 0)}
                                     for e in item.get("enums") or []])
        created.append(render_field(cf))
    return Response.json(200, {"_total_items": len(created),
                               "_embedded": {"custom_fields": created}}, HAL)


def update_field(app: AmoCrmApp, request: Request, field_id: str) -> Response:
    cf = app.state.fields.get(int(field_id))
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
