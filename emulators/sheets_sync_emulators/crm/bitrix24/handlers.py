"""Bitrix24 REST methods the adapter uses, one function each: ``(app, params) -> Outcome``.

Shapes follow the recorded answers (``crm.lead.list`` pages with ``next``/``total``, batches
with ``result_error`` as a list or a map) and the official docs' examples (``crm.company.list``,
``crm.company.update`` "Company is not found", ``crm.company.userfield.list`` with an
``enumeration`` ``LIST``, ``userfield.add`` "The 'USER_TYPE_ID' field is not found."). Stated
assumptions where neither says:

* ``start=-1`` (no count) answers without ``total`` and ``next``.
* An enumeration value that is not one of the field's item IDs is refused by
  ``crm.company.update`` with ``error_description`` naming the field.
* A batch over 50 commands answers 400 ``ERROR_BATCH_LENGTH_EXCEEDED``.
* Standard numbers (``REVENUE``) come back as strings, as most Bitrix24 values do; an empty
  multiple user field comes back as ``[]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .php import parse_query, php_array
from .state import STANDARD_FIELDS, Company, UserField

if TYPE_CHECKING:
    from . import Bitrix24App

PAGE = 50
MAX_BATCH = 50


class MethodError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class Outcome:
    result: Any
    total: int | None = None
    next: int | None = None


Method = Callable[["Bitrix24App", dict[str, Any]], Outcome]


def time_block(app: Bitrix24App, method: str, start: float) -> dict[str, Any]:
    finish = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S+03:00", time.gmtime(start + 3 * 3600))
    now = app.clock()
    return {"start": start, "finish": finish, "duration": finish - start,
            "processing": finish - start, "date_start": stamp, "date_finish": stamp,
            "operating_reset_at": int(start + app.operation.window),
            "operating": app.operation.used(method, now)}


def _int(value: Any, name: str) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise MethodError(400, "", f"{name} is not defined or invalid.") from None


# -- companies --------------------------------------------------------------------------


def _render_value(app: Bitrix24App, key: str, value: Any) -> Any:
    uf = app.state.userfields.get(key)
    if uf is not None:
        if uf.multiple:
            return [str(v) for v in value] if isinstance(value, list) and value else []
        return None if value is None else str(value)
    if key == "ID":
        return str(value)
    if value is None:
        return None
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, int | float):
        return str(value)
    return value


def _select(app: Bitrix24App, select: Any) -> list[str]:
    names = list(select.values()) if isinstance(select, dict) else list(select or [])
    if not names:
        names = ["*"]
    out = ["ID"]
    for name in names:
        if name == "*":
            out += [k for k, v in STANDARD_FIELDS.items() if v[0] != "crm_multifield"]
        elif name == "UF_*":
            out += list(app.state.userfields)
        else:
            out.append(str(name))
    return list(dict.fromkeys(out))


def _render_company(app: Bitrix24App, company: Company, select: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key in select:
        if key == "ID":
            row["ID"] = str(company.id)
        elif key in STANDARD_FIELDS or key in app.state.userfields:
            row[key] = _render_value(app, key, company.fields.get(key))
    return row


def _matches(company: Company, key: str, value: Any) -> bool:
    op = ""
    for candidate in (">=", "<=", "!=", ">", "<", "=", "@", "!"):
        if key.startswith(candidate):
            op, key = candidate, key[len(candidate):]
            break
    actual = company.id if key == "ID" else company.fields.get(key)
    if key == "ID":
        if op == "@":
            return actual in {int(v) for v in (value if isinstance(value, list) else [value])}
        value = int(value)
    tests = {">": lambda: actual > value, ">=": lambda: actual >= value,
             "<": lambda: actual < value, "<=": lambda: actual <= value,
             "!=": lambda: actual != value, "!": lambda: actual != value}
    if op in tests:
        try:
            return bool(tests[op]())
        except TypeError:
            return False
    return str(actual) == str(value)


def company_list(app: Bitrix24App, params: dict[str, Any]) -> Outcome:
    filt = params.get("filter") or {}
    if not isinstance(filt, dict):
        raise MethodError(400, "", "Parameter 'filter' must be array.")
    order = params.get("order") or {"ID": "ASC"}
    rows = [c for c in app.state.companies.values()
            if all(_matches(c, k, v) for k, v in filt.items())]
    descending = str(order.get("ID", "ASC")).upper() == "DESC" if isinstance(order, dict) \
        else False
    rows.sort(key=lambda c: c.id, reverse=descending)
    select = _select(app, params.get("select"))
    start = _int(params.get("start", 0), "start")
    if start == -1:
        return Outcome([_render_company(app, c, select) for c in rows[:PAGE]])
    chunk = rows[start:start + PAGE]
    more = start + PAGE < len(rows)
    return Outcome([_render_company(app, c, select) for c in chunk], total=len(rows),
                   next=start + PAGE if more else None)


def company_update(app: Bitrix24App, params: dict[str, Any]) -> Outcome:
    raw = params.get("id", params.get("ID"))
    if raw in (None, ""):
        raise MethodError(400, "", "ID is not defined or invalid.")
    company_id = _int(raw, "ID")
    if company_id <= 0:
        raise MethodError(400, "", "ID is not defined or invalid.")
    company = app.state.companies.get(company_id)
    if company is None:
        raise MethodError(400, "", "Company is not found")
    if str(company_id) in app.faults.rejected:
        raise MethodError(400, "", app.faults.rejected[str(company_id)] or "Access denied.")
    fields = params.get("fields") or {}
    if not isinstance(fields, dict):
        raise MethodError(400, "", "Parameter 'fields' must be array.")
    for key, value in fields.items():
        uf = app.state.userfields.get(key)
        if uf is not None and uf.user_type_id == "enumeration" and value not in (None, ""):
            if uf.item_by_id(value) is None:
                raise MethodError(400, "", f"Field '{uf.label}' ({key}): value {value} is "
                                           "not a valid list item.")
    for key, value in fields.items():
        if key in STANDARD_FIELDS and STANDARD_FIELDS[key][2]:
            continue
        if key in STANDARD_FIELDS or key in app.state.userfields:
            company.fields[key] = None if value == "" else value
    app.state.set_value(company, "TITLE", company.fields.get("TITLE"))  # touches DATE_MODIFY
    return Outcome(True)


def company_fields(app: Bitrix24App, params: dict[str, Any]) -> Outcome:
    out: dict[str, Any] = {}
    for key, (kind, title, read_only) in STANDARD_FIELDS.items():
        out[key] = {"type": kind, "isRequired": key == "TITLE", "isReadOnly": read_only,
                    "isImmutable": False, "isMultiple": kind == "crm_multifield",
                    "isDynamic": False, "title": title}
    for key, uf in app.state.userfields.items():
        entry: dict[str, Any] = {
            "type": uf.user_type_id, "isRequired": False, "isReadOnly": False,
            "isImmutable": False, "isMultiple": uf.multiple, "isDynamic": True, "title": key,
            "listLabel": uf.label, "formLabel": uf.label, "filterLabel": uf.label,
            "settings": {"DISPLAY": "LIST"} if uf.user_type_id == "enumeration" else {}}
        if uf.user_type_id == "enumeration":
            entry["items"] = [{"ID": i["ID"], "VALUE": i["VALUE"]} for i in uf.items]
        out[key] = entry
    return Outcome(out)


# -- user fields ------------------------------------------------------------------------


def render_userfield(uf: UserField) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ID": str(uf.id), "ENTITY_ID": "CRM_COMPANY", "FIELD_NAME": uf.field_name,
        "USER_TYPE_ID": uf.user_type_id, "XML_ID": None, "SORT": str(uf.sort),
        "MULTIPLE": "Y" if uf.multiple else "N", "MANDATORY": "N", "SHOW_FILTER": "E",
        "SHOW_IN_LIST": "Y", "EDIT_IN_LIST": "Y", "IS_SEARCHABLE": "N",
        "SETTINGS": ({"DISPLAY": "LIST", "LIST_HEIGHT": 1, "CAPTION_NO_VALUE": "",
                      "SHOW_NO_VALUE": "Y"} if uf.user_type_id == "enumeration" else
                     {"SIZE": 20, "ROWS": 1, "REGEXP": "", "MIN_LENGTH": 0, "MAX_LENGTH": 0,
                      "DEFAULT_VALUE": None}),
        "EDIT_FORM_LABEL": uf.label, "LIST_COLUMN_LABEL": uf.label,
        "LIST_FILTER_LABEL": uf.label, "ERROR_MESSAGE": None, "HELP_MESSAGE": None,
    }
    if uf.user_type_id == "enumeration":
        body["LIST"] = [dict(i) for i in uf.items]
    return body


def userfield_list(app: Bitrix24App, params: dict[str, Any]) -> Outcome:
    filt = params.get("filter") or {}
    if not isinstance(filt, dict):
        raise MethodError(400, "", "Parameter 'filter' must be array.")
    rows = [uf for uf in app.state.userfields.values()
            if all(str(render_userfield(uf).get(k)) == str(v) for k, v in filt.items())]
    return Outcome([render_userfield(uf) for uf in rows], total=len(rows))


def _label(value: Any) -> str:
    if isinstance(value, dict):  # {"ru": "...", "en": "..."}
        return str(next(iter(value.values()), ""))
    return str(value or "")


def userfield_add(app: Bitrix24App, params: dict[str, Any]) -> Outcome:
    fields = params.get("fields") or {}
    if not isinstance(fields, dict) or not fields.get("USER_TYPE_ID"):
        raise MethodError(400, "", "The 'USER_TYPE_ID' field is not found.")
    name = str(fields.get("FIELD_NAME") or "")
    if not name:
        raise MethodError(400, "", "The 'FIELD_NAME' field is not found.")
    full = name if name.startswith("UF_CRM_") else f"UF_CRM_{name}"
    if full in app.state.userfields:
        raise MethodError(400, "ERROR_CORE", f"Field {full} already exists.")
    label = _label(fields.get("EDIT_FORM_LABEL") or fields.get("LIST_COLUMN_LABEL") or full)
    uf = app.state.add_userfield(full, str(fields["USER_TYPE_ID"]), label,
                                 multiple=str(fields.get("MULTIPLE", "N")) == "Y")
    items = fields.get("LIST") or []
    for item in (items.values() if isinstance(items, dict) else items):
        app.state.add_item(uf, str(item.get("VALUE")), _int(item.get("SORT", 0), "SORT") or None)
    return Outcome(uf.id)


def userfield_update(app: Bitrix24App, params: dict[str, Any]) -> Outcome:
    uf_id = _int(params.get("id", params.get("ID")), "ID")
    uf = next((u for u in app.state.userfields.values() if u.id == uf_id), None)
    if uf is None:
        raise MethodError(400, "", "The user field is not found.")
    fields = params.get("fields") or {}
    items = fields.get("LIST") or []
    for item in (items.values() if isinstance(items, dict) else items):
        if item.get("ID"):
            old = uf.item_by_id(item["ID"])
            if old is None:
                continue
            if str(item.get("DEL", "N")) == "Y":
                uf.items.remove(old)
            elif "VALUE" in item:
                old["VALUE"] = str(item["VALUE"])
        else:
            app.state.add_item(uf, str(item.get("VALUE")))
    if "EDIT_FORM_LABEL" in fields:
        uf.label = _label(fields["EDIT_FORM_LABEL"])
    return Outcome(True)


def profile(app: Bitrix24App, params: dict[str, Any]) -> Outcome:
    return Outcome({"ID": str(app.state.user_id), "ADMIN": True, "NAME": "Emulator",
                    "LAST_NAME": "", "PERSONAL_GENDER": "", "TIME_ZONE": "",
                    "TIME_ZONE_OFFSET": 10800})


METHODS: dict[str, Method] = {
    "crm.company.list": company_list,
    "crm.company.update": company_update,
    "crm.company.fields": company_fields,
    "crm.company.userfield.list": userfield_list,
    "crm.company.userfield.add": userfield_add,
    "crm.company.userfield.update": userfield_update,
    "profile": profile,
}


# -- batch ------------------------------------------------------------------------------


def batch(app: Bitrix24App, params: dict[str, Any]) -> Outcome:
    commands = params.get("cmd") or {}
    if isinstance(commands, list):
        commands = {str(i): c for i, c in enumerate(commands)}
    if not isinstance(commands, dict):
        raise MethodError(400, "", "Parameter 'cmd' must be array.")
    if len(commands) > MAX_BATCH:
        raise MethodError(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
    halt = str(params.get("halt", 0)) in ("1", "true", "True")
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    totals: dict[str, Any] = {}
    nexts: dict[str, Any] = {}
    times: dict[str, Any] = {}
    for key, command in commands.items():
        key = str(key)
        method, _, query = str(command).partition("?")
        start = time.time()
        try:
            outcome = app.call(method, parse_query(query))
        except MethodError as exc:
            errors[key] = exc.body()
            if halt:
                break
            continue
        results[key] = outcome.result
        times[key] = time_block(app, method, start)
        if outcome.total is not None:
            totals[key] = outcome.total
        if outcome.next is not None:
            nexts[key] = outcome.next
    error_part: Any = php_array(errors)
    if app.result_error_as_list:
        error_part = list(errors.values())
    return Outcome({"result": php_array(results), "result_error": error_part,
                    "result_total": php_array(totals), "result_next": php_array(nexts),
                    "result_time": php_array(times)})
