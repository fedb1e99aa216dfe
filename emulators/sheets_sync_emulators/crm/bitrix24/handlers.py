"""Bitrix24 REST methods, one function each: ``(app, params) -> Outcome``.

Companies, contacts, leads and deals share one set of methods (``crm.{entity}.list``,
``.get``, ``.add``, ``.update``, ``.delete``, ``.fields``, ``.userfield.list/add/update``),
plus ``crm.status.list`` (deal stages, lead statuses), ``profile``/``user.current`` and
``batch`` with ``$result[...]`` references. That is what the sheets-sync adapter,
``fast-bitrix24`` (``get_all``, ``get_by_ID``, ``call``) and ``b24pysdk``
(``client.crm.company.list()``...) call for ordinary work. Method names are matched
case-insensitively, as Bitrix24 does (b24pysdk sends ``crm.company.List``).

Shapes follow the recorded answers (``crm.lead.list`` pages with ``next``/``total``, batches
with ``result_error`` as a list or a map) and the official docs' examples (``crm.company.list``,
``crm.company.update`` "Company is not found", ``crm.deal.get`` with ``STAGE_SEMANTIC_ID``,
``OPPORTUNITY`` "1000000.00" and ``CLOSEDATE`` as a datetime, ``crm.company.userfield.list``
with an ``enumeration`` ``LIST``, ``userfield.add`` "The 'USER_TYPE_ID' field is not
found."). Stated assumptions where neither says:

* ``start=-1`` (no count) answers without ``total`` and ``next``.
* An enumeration value that is not one of the field's item IDs is refused by
  ``.update``/``.add`` with ``error_description`` naming the field.
* A batch over 50 commands answers 400 ``ERROR_BATCH_LENGTH_EXCEEDED``.
* Standard numbers (``REVENUE``, ``OPPORTUNITY``) come back as strings, as most Bitrix24
  values do; an empty multiple user field comes back as ``[]``; a deal or lead without a
  company has ``COMPANY_ID`` ``"0"``.
* ``$result[cmd][KEY]...`` in a batch command is replaced by that earlier command's result
  (a whole list or map where the reference is the whole value), as the batch guide shows;
  ``$result_next[cmd]`` and ``$result_total[cmd]`` likewise. A reference to a command that
  failed or has not run is left as it is.
* A filter compares dates as instants, numbers as numbers and the rest as text; ``%`` is a
  case-insensitive substring match.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .php import parse_query, php_array
from .state import DEAL_STAGES, ENTITY_FIELDS, ENTITY_TITLES, LEAD_STATUSES, Item, UserField
from .state import date_value as date_value

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


def _param(params: dict[str, Any], name: str) -> Any:
    """A parameter by name in any case (``id``, ``ID``, ``Id`` all reach Bitrix24)."""
    for key, value in params.items():
        if key.lower() == name.lower():
            return value
    return None


# -- records ---------------------------------------------------------------------------------


def _render_value(app: Bitrix24App, entity: str, key: str, value: Any) -> Any:
    uf = app.state.ufs[entity].get(key)
    if uf is not None:
        if uf.multiple:
            return [str(v) for v in value] if isinstance(value, list) and value else []
        return None if value is None else str(value)
    if key == "ID":
        return str(value)
    if key == "COMPANY_ID" and entity in ("deal", "lead") and value in (None, ""):
        return "0"
    if value is None:
        return None
    kind = ENTITY_FIELDS[entity].get(key, ("",))[0]
    if kind == "double" and not isinstance(value, bool):
        try:
            return f"{float(value):.2f}"
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, int | float):
        return str(value)
    return value


def _select(app: Bitrix24App, entity: str, select: Any) -> list[str]:
    names = list(select.values()) if isinstance(select, dict) else \
        [select] if isinstance(select, str) else list(select or [])
    if not names:
        names = ["*"]
    standard = ENTITY_FIELDS[entity]
    out = ["ID"]
    for name in names:
        name = str(name)
        if name == "*":
            out += [k for k, v in standard.items() if v[0] != "crm_multifield"]
        elif name == "UF_*":
            out += list(app.state.ufs[entity])
        else:
            out.append(name.upper() if name.upper() in standard else name)
    return list(dict.fromkeys(out))


def render_item(app: Bitrix24App, item: Item, select: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    standard = ENTITY_FIELDS[item.entity]
    for key in select:
        if key == "ID":
            row["ID"] = str(item.id)
        elif key in standard or key in app.state.ufs[item.entity]:
            row[key] = _render_value(app, item.entity, key, item.fields.get(key))
    return row


def _instant(value: Any) -> float | None:
    text = str(value).strip()
    if not text:
        return None
    try:
        if re.fullmatch(r"\d{2}\.\d{2}\.\d{4}.*", text):
            day = dt.datetime.strptime(text[:10], "%d.%m.%Y")
            return day.replace(tzinfo=dt.timezone(dt.timedelta(hours=3))).timestamp()
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone(dt.timedelta(hours=3)))
    return parsed.timestamp()


def _typed(entity: str, key: str, value: Any) -> Any:
    kind = ENTITY_FIELDS[entity].get(key, ("string",))[0]
    if value is None:
        return None
    if key == "ID" or kind in ("integer", "double", "user", "crm_company", "crm_contact",
                               "crm_lead", "crm_category"):
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if kind in ("datetime", "date"):
        return _instant(value)
    return str(value).lower()


_OPS = (">=", "<=", "!=", "!@", "!%", ">", "<", "=", "@", "!", "%")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b}


def _condition(entity: str, key: str, value: Any) -> Callable[[Item], bool]:
    """One filter entry (``">DATE_MODIFY": "2026-01-01"``) as a test of a record, parsed
    once per request rather than once per record."""
    op = ""
    for candidate in _OPS:
        if key.startswith(candidate):
            op, key = candidate, key[len(candidate):]
            break
    key = key.upper() if key.upper() in ENTITY_FIELDS[entity] else key

    def actual_of(item: Item) -> Any:
        raw = item.id if key == "ID" else item.fields.get(key)
        if key == "COMPANY_ID" and raw in (None, ""):
            raw = 0
        return raw

    if op in ("@", "!@") or (op in ("", "=") and isinstance(value, list)):
        wanted_set = [_typed(entity, key, v) for v in
                      (value if isinstance(value, list) else [value])]
        negate = op == "!@"
        return lambda item: (_typed(entity, key, actual_of(item)) in wanted_set) != negate
    if op in ("%", "!%"):
        needle, negate = str(value).lower(), op == "!%"
        return lambda item: (needle in str(actual_of(item) or "").lower()) != negate
    wanted = _typed(entity, key, value) if value not in ("", None) else None
    if op in ("", "="):
        return lambda item: (lambda a: a == wanted or (wanted is None and a in (None, "", 0.0)))(
            _typed(entity, key, actual_of(item)))
    if op in ("!", "!="):
        return lambda item: _typed(entity, key, actual_of(item)) != wanted
    compare = _COMPARE[op]

    def test(item: Item) -> bool:
        actual = _typed(entity, key, actual_of(item))
        if actual is None or wanted is None:
            return False
        try:
            return compare(actual, wanted)
        except TypeError:
            return False
    if key == "ID" and isinstance(wanted, float):
        # records are kept in id order: the list can bisect instead of testing each one
        low, high = -math.inf, math.inf
        if op == ">":
            low = math.floor(wanted) + 1
        elif op == ">=":
            low = math.ceil(wanted)
        elif op == "<":
            high = math.ceil(wanted) - 1
        else:
            high = math.floor(wanted)
        return _Bounded(test, (low, high))
    return test


class _Bounded:
    """A filter test on ID that also says its range, so a list can bisect for it."""

    def __init__(self, test: Callable[[Item], bool], bounds: tuple[float, float]) -> None:
        self.test, self.bounds = test, bounds

    def __call__(self, item: Item) -> bool:
        return self.test(item)


def _matches(entity: str, item: Item, key: str, value: Any) -> bool:
    return _condition(entity, key, value)(item)


def _sort_key(entity: str, key: str) -> Callable[[Item], Any]:
    def sort_key(item: Item) -> Any:
        raw = item.id if key == "ID" else item.fields.get(key)
        value = _typed(entity, key, raw)
        return (value is None, 0.0 if value is None or isinstance(value, str) else value,
                value if isinstance(value, str) else "")
    return sort_key


def list_items(app: Bitrix24App, entity: str, params: dict[str, Any]) -> Outcome:
    filt = _param(params, "filter") or {}
    if not isinstance(filt, dict):
        raise MethodError(400, "", "Parameter 'filter' must be array.")
    order = _param(params, "order") or {"ID": "ASC"}
    if not isinstance(order, dict):
        raise MethodError(400, "", "Parameter 'order' must be array.")
    tests = [_condition(entity, str(k), v) for k, v in filt.items()]
    # records are kept in id order (ids only grow), so ID ASC needs no sort
    records = app.state.items[entity]
    ids = list(records)
    for test in tests:  # ID ranges: a bisect each
        if isinstance(test, _Bounded):
            low, high = test.bounds
            ids = ids[bisect.bisect_left(ids, low):bisect.bisect_right(ids, high)]
    tests = [t for t in tests if not isinstance(t, _Bounded)]
    if tests:
        ids = [i for i in ids if all(t(records[i]) for t in tests)]
    orders = [(str(k).upper(), str(d).upper() == "DESC") for k, d in order.items()]
    if orders != [("ID", False)]:
        rows = [records[i] for i in ids]
        for name, descending in reversed(orders):
            rows.sort(key=_sort_key(entity, name), reverse=descending)
        ids = [r.id for r in rows]
    select = _select(app, entity, _param(params, "select"))
    start = _int(_param(params, "start") or 0, "start")
    if start == -1:
        return Outcome([render_item(app, records[i], select) for i in ids[:PAGE]])
    chunk = ids[start:start + PAGE]
    more = start + PAGE < len(ids)
    return Outcome([render_item(app, records[i], select) for i in chunk], total=len(ids),
                   next=start + PAGE if more else None)


def _record_id(params: dict[str, Any]) -> int:
    raw = _param(params, "id")
    if raw in (None, ""):
        raise MethodError(400, "", "ID is not defined or invalid.")
    item_id = _int(raw, "ID")
    if item_id <= 0:
        raise MethodError(400, "", "ID is not defined or invalid.")
    return item_id


def get_item(app: Bitrix24App, entity: str, params: dict[str, Any]) -> Outcome:
    item = app.state.items[entity].get(_record_id(params))
    if item is None:
        raise MethodError(400, "", "Not found")
    select = _select(app, entity, ["*", "UF_*"])
    row = render_item(app, item, select)
    for key, (kind, _, _) in ENTITY_FIELDS[entity].items():
        if kind == "crm_multifield" and item.fields.get(key):
            row[key] = item.fields[key]
    return Outcome(row)


def _fields(params: dict[str, Any]) -> dict[str, Any]:
    fields = _param(params, "fields") or {}
    if not isinstance(fields, dict):
        raise MethodError(400, "", "Parameter 'fields' must be array.")
    return fields


def _check_fields(app: Bitrix24App, entity: str, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        uf = app.state.ufs[entity].get(key)
        if uf is not None and uf.user_type_id == "enumeration" and value not in (None, ""):
            if uf.item_by_id(value) is None:
                raise MethodError(400, "", f"Field '{uf.label}' ({key}): value {value} is "
                                           "not a valid list item.")


def _write(app: Bitrix24App, item: Item, fields: dict[str, Any]) -> None:
    standard = ENTITY_FIELDS[item.entity]
    for key, value in fields.items():
        key = key.upper() if key.upper() in standard else key
        if key in standard and standard[key][2]:
            continue
        if key in standard or key in app.state.ufs[item.entity]:
            if standard.get(key, ("",))[0] == "crm_multifield":
                item.fields[key] = _multifield(key, value)
            else:
                app.state.set_value(item, key, None if value == "" else value, touch=False)


def _multifield(key: str, value: Any) -> list[dict[str, str]]:
    entries = value.values() if isinstance(value, dict) else value or []
    out = []
    for n, entry in enumerate(entries):
        if isinstance(entry, dict) and entry.get("VALUE"):
            out.append({"ID": str(n + 1), "VALUE_TYPE": str(entry.get("VALUE_TYPE", "WORK")),
                        "VALUE": str(entry["VALUE"]), "TYPE_ID": key})
    return out


def add_item(app: Bitrix24App, entity: str, params: dict[str, Any]) -> Outcome:
    fields = _fields(params)
    _check_fields(app, entity, fields)
    item = app.state.add(entity)
    _write(app, item, fields)
    app.state.derive(item)
    return Outcome(item.id)


def update_item(app: Bitrix24App, entity: str, params: dict[str, Any]) -> Outcome:
    item_id = _record_id(params)
    item = app.state.items[entity].get(item_id)
    if item is None:
        raise MethodError(400, "", f"{ENTITY_TITLES[entity]} is not found")
    if str(item_id) in app.faults.rejected:
        raise MethodError(400, "", app.faults.rejected[str(item_id)] or "Access denied.")
    fields = _fields(params)
    _check_fields(app, entity, fields)
    _write(app, item, fields)
    app.state.touch(item)
    return Outcome(True)


def delete_item(app: Bitrix24App, entity: str, params: dict[str, Any]) -> Outcome:
    if not app.state.remove(entity, _record_id(params)):
        raise MethodError(400, "", "Not found")
    return Outcome(True)


def item_fields(app: Bitrix24App, entity: str, params: dict[str, Any]) -> Outcome:
    out: dict[str, Any] = {}
    for key, (kind, title, read_only) in ENTITY_FIELDS[entity].items():
        out[key] = {"type": kind, "isRequired": key == "TITLE" and entity != "contact",
                    "isReadOnly": read_only, "isImmutable": False,
                    "isMultiple": kind == "crm_multifield", "isDynamic": False, "title": title}
        if key in ("STAGE_ID", "STATUS_ID"):
            out[key]["statusType"] = "DEAL_STAGE" if entity == "deal" else "STATUS"
    for key, uf in app.state.ufs[entity].items():
        entry: dict[str, Any] = {
            "type": uf.user_type_id, "isRequired": False, "isReadOnly": False,
            "isImmutable": False, "isMultiple": uf.multiple, "isDynamic": True, "title": key,
            "listLabel": uf.label, "formLabel": uf.label, "filterLabel": uf.label,
            "settings": {"DISPLAY": "LIST"} if uf.user_type_id == "enumeration" else {}}
        if uf.user_type_id == "enumeration":
            entry["items"] = [{"ID": i["ID"], "VALUE": i["VALUE"]} for i in uf.items]
        out[key] = entry
    return Outcome(out)


# -- user fields -----------------------------------------------------------------------------


def render_userfield(uf: UserField) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ID": str(uf.id), "ENTITY_ID": f"CRM_{uf.entity.upper()}", "FIELD_NAME": uf.field_name,
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


def userfield_list(app: Bitrix24App, entity: str, params: dict[str, Any]) -> Outcome:
    filt = _param(params, "filter") or {}
    if not isinstance(filt, dict):
        raise MethodError(400, "", "Parameter 'filter' must be array.")
    rows = [uf for uf in app.state.ufs[entity].values()
            if all(str(render_userfield(uf).get(k)) == str(v) for k, v in filt.items())]
    return Outcome([render_userfield(uf) for uf in rows], total=len(rows))


def _label(value: Any) -> str:
    if isinstance(value, dict):  # {"ru": "...", "en": "..."}
        return str(next(iter(value.values()), ""))
    return str(value or "")


def userfield_add(app: Bitrix24App, entity: str, params: dict[str, Any]) -> Outcome:
    fields = _param(params, "fields") or {}
    if not isinstance(fields, dict) or not fields.get("USER_TYPE_ID"):
        raise MethodError(400, "", "The 'USER_TYPE_ID' field is not found.")
    name = str(fields.get("FIELD_NAME") or "")
    if not name:
        raise MethodError(400, "", "The 'FIELD_NAME' field is not found.")
    full = name if name.startswith("UF_CRM_") else f"UF_CRM_{name}"
    if full in app.state.ufs[entity]:
        raise MethodError(400, "ERROR_CORE", f"Field {full} already exists.")
    label = _label(fields.get("EDIT_FORM_LABEL") or fields.get("LIST_COLUMN_LABEL") or full)
    uf = app.state.add_userfield(full, str(fields["USER_TYPE_ID"]), label,
                                 multiple=str(fields.get("MULTIPLE", "N")) == "Y",
                                 entity=entity)
    items = fields.get("LIST") or []
    for item in (items.values() if isinstance(items, dict) else items):
        app.state.add_item(uf, str(item.get("VALUE")), _int(item.get("SORT", 0), "SORT") or None)
    return Outcome(uf.id)


def userfield_update(app: Bitrix24App, entity: str, params: dict[str, Any]) -> Outcome:
    uf_id = _int(_param(params, "id"), "ID")
    uf = next((u for u in app.state.ufs[entity].values() if u.id == uf_id), None)
    if uf is None:
        raise MethodError(400, "", "The user field is not found.")
    fields = _param(params, "fields") or {}
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


# -- reference lists -------------------------------------------------------------------------

_SEMANTICS = {"P": "process", "S": "success", "F": "failure"}


def status_list(app: Bitrix24App, params: dict[str, Any]) -> Outcome:
    rows = []
    number = 0
    for entity_id, table in (("DEAL_STAGE", DEAL_STAGES), ("STATUS", LEAD_STATUSES)):
        for sort, (status_id, name, group) in enumerate(table, start=1):
            number += 1
            rows.append({"ID": str(number), "ENTITY_ID": entity_id, "STATUS_ID": status_id,
                         "NAME": name, "NAME_INIT": name, "SORT": str(sort * 10),
                         "SYSTEM": "Y", "CATEGORY_ID": "0" if entity_id == "DEAL_STAGE"
                         else None, "COLOR": "#39A8EF",
                         "SEMANTICS": None if group == "P" else group,
                         "EXTRA": {"SEMANTICS": _SEMANTICS[group], "COLOR": "#39A8EF"}})
    filt = _param(params, "filter") or {}
    if isinstance(filt, dict):
        rows = [r for r in rows if all(str(r.get(str(k).upper())) == str(v)
                                       for k, v in filt.items())]
    return Outcome(rows)


def profile(app: Bitrix24App, params: dict[str, Any]) -> Outcome:
    return Outcome({"ID": str(app.state.user_id), "ADMIN": True, "NAME": "Emulator",
                    "LAST_NAME": "", "PERSONAL_GENDER": "", "TIME_ZONE": "",
                    "TIME_ZONE_OFFSET": 10800})


def _entity_methods() -> dict[str, Method]:
    table: dict[str, Method] = {}
    actions: dict[str, Callable[[Bitrix24App, str, dict[str, Any]], Outcome]] = {
        "list": list_items, "get": get_item, "add": add_item, "update": update_item,
        "delete": delete_item, "fields": item_fields, "userfield.list": userfield_list,
        "userfield.add": userfield_add, "userfield.update": userfield_update,
    }
    for entity in ENTITY_FIELDS:
        for action, impl in actions.items():
            table[f"crm.{entity}.{action}"] = \
                (lambda app, params, _e=entity, _f=impl: _f(app, _e, params))
    return table


METHODS: dict[str, Method] = {
    **_entity_methods(),
    "crm.status.list": status_list,
    "profile": profile,
    "user.current": profile,
}

# the names the companies-only emulator exported
company_list = METHODS["crm.company.list"]
company_update = METHODS["crm.company.update"]
company_fields = METHODS["crm.company.fields"]


def find(method: str) -> Method | None:
    """The implementation of a method name, matched case-insensitively."""
    return METHODS.get(method.lower())


# -- batch -----------------------------------------------------------------------------------

_REF = re.compile(r"\$(result|result_next|result_total)((?:\[[^\[\]]*\])+)")


def _resolve(value: Any, done: dict[str, dict[str, Any]]) -> Any:
    """Replace ``$result[cmd][KEY]...`` references in a parsed command parameter."""
    if isinstance(value, dict):
        return {k: _resolve(v, done) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, done) for v in value]
    if not isinstance(value, str) or "$result" not in value:
        return value

    def lookup(match: re.Match[str]) -> Any:
        keys = re.findall(r"\[([^\[\]]*)\]", match.group(2))
        node: Any = done[match.group(1)]
        for key in keys:
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                raise KeyError(key)
        return node

    whole = _REF.fullmatch(value)
    if whole is not None:
        try:
            return lookup(whole)
        except KeyError:
            return value

    def text(match: re.Match[str]) -> str:
        try:
            found = lookup(match)
        except KeyError:
            return match.group(0)
        return ",".join(map(str, found)) if isinstance(found, list) else str(found)
    return _REF.sub(text, value)


def batch(app: Bitrix24App, params: dict[str, Any]) -> Outcome:
    commands = _param(params, "cmd") or {}
    if isinstance(commands, list):
        commands = {str(i): c for i, c in enumerate(commands)}
    if not isinstance(commands, dict):
        raise MethodError(400, "", "Parameter 'cmd' must be array.")
    if len(commands) > MAX_BATCH:
        raise MethodError(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
    halt = str(_param(params, "halt") or 0) in ("1", "true", "True", "Y")
    results: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    totals: dict[str, Any] = {}
    nexts: dict[str, Any] = {}
    times: dict[str, Any] = {}
    done = {"result": results, "result_next": nexts, "result_total": totals}
    for key, command in commands.items():
        key = str(key)
        method, _, query = str(command).partition("?")
        start = time.time()
        try:
            outcome = app.call(method, _resolve(parse_query(query), done))
        except MethodError as exc:
            errors[key] = exc.body()
            if halt:
                break
            continue
        results[key] = outcome.result
        times[key] = time_block(app, method.lower(), start)
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


