"""Bitrix24 companies (REST, through an incoming webhook) as the client list.

Config (``[crm]``)::

    kind = "bitrix24"
    url = "https://example.bitrix24.ru/rest/1/"   # the webhook URL *without* its secret code
    token_env = "BITRIX24_WEBHOOK"                # the code (or the whole webhook URL)
    category_field = "UF_CRM_SS_CATEGORY"         # a list (enumeration) user field
    category_label = "Категория клиента"          # its label when setup creates it
    rate_limit = "50/25s"                         # the portal's bucket: 50, draining 2/s
    paging = "id"                                 # "id": ">ID" filter with start=-1 (fast on
                                                  # big portals); "offset": start/next
    batch_size = 50                               # crm.company.update commands per batch

``[fields]`` values are Bitrix24 field names: ``TITLE``, ``REVENUE``, ``UF_CRM_...``.
Normalised on the way in: list items to their text, numbers and money to numbers, ``Y``/``N``
to booleans, phones/e-mails to one text, PHP's empty ``[]`` and ``""`` to None.

Requests: ``crm.company.fields`` once, one ``crm.company.list`` per 50 companies, one
``batch`` of up to 50 ``crm.company.update`` commands per 50 changed categories. A batch is
always HTTP 200; per-command failures come in ``result_error``, either as a map keyed by our
command names or, as recorded on live portals, as a plain list (then the failed commands are
the ones missing from ``result``, in order).

A read is complete or it fails: every answer must have Bitrix24's shape (``result``; for
``crm.company.list`` a list of companies with a numeric ``ID``); an answer that does not (an
HTML page, an empty or cut-off body, an error body with status 200) is retried and then fails
the sync (exit 4) before anything is written, as does a paging cursor (the last ``ID`` or
``next``) seen twice. A batch answer must account for every command (a result or an error),
or the batch is not written. ``OPERATION_TIME_LIMIT`` or ``QUERY_LIMIT_EXCEEDED`` inside a
batch stops writing for this run (exit 4; it resumes at the next sync) and rejects nobody.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import pandas as pd
import requests

from ..errors import ConfigError, CrmError, RemoteError
from ..http import Accept, expect_json, forget_secret, json_body, register_secret, text_summary
from .base import CheckItem, CrmSettings, WriteResult
from .http import (
    HttpClient,
    HttpOptions,
    Pages,
    RatePolicy,
    batch_size,
    read_secret,
    write_in_batches,
)

PAGE = 50
MAX_BATCH = 50
_WEBHOOK = re.compile(r"(https?://[^/\s]+(?:/[^\s]*?)?/rest/\d+)/([^/\s]+)/?$")
_NUMERIC = {"double", "integer", "money"}
#: per-command errors that are the portal's limits, not a refusal of the record
LIMIT_ERRORS = ("OPERATION_TIME_LIMIT", "QUERY_LIMIT_EXCEEDED")
NO_ANSWER = "no result and no error for this command"


class Bitrix24Crm:
    vendor = "Bitrix24"

    def __init__(self, settings: CrmSettings) -> None:
        self.settings = settings
        opts = dict(settings.options)
        secret, _ = read_secret(opts, settings.base_dir, self.vendor, "BITRIX24_WEBHOOK")
        whole = _WEBHOOK.match(secret)
        url = str(opts.get("url") or "")
        if re.search(r"/rest/\d+/[^/\s]+/?$", url):
            raise ConfigError("[crm] url contains the webhook's secret code: keep only "
                              "https://PORTAL/rest/USER_ID/ in url and put the code in the "
                              "environment variable named by token_env (or token_file).")
        if whole:
            base, code = whole.group(1), whole.group(2)
        else:
            if not url:
                raise ConfigError("[crm] url: set the webhook address without its code, e.g. "
                                  "url = \"https://example.bitrix24.ru/rest/1/\", or put the "
                                  "whole webhook URL in the token.")
            base, code = url.rstrip("/"), secret.strip("/")
            if not re.search(r"/rest/\d+$", base):
                raise ConfigError(f"[crm] url = {url!r}: a Bitrix24 webhook address looks like "
                                  "https://example.bitrix24.ru/rest/1/ (portal, /rest/, user id).")
        register_secret(code)
        opts["url"] = f"{base}/{code}"
        self.http_options = HttpOptions.from_settings(
            opts, settings.base_dir, kind="bitrix24", vendor=self.vendor,
            extra_keys=("paging",), default_rate=RatePolicy(50, 25.0),
            token_env_default="BITRIX24_WEBHOOK")
        if whole:  # the URL itself is not secret, its code is: keep the portal readable
            forget_secret(secret)
        self.paging = str(opts.get("paging", "id"))
        if self.paging not in ("id", "offset"):
            raise ConfigError(f"[crm] paging = {self.paging!r}: use \"id\" or \"offset\".")
        self.batch = batch_size(opts, MAX_BATCH)
        self.category_key = str(opts.get("category_field", settings.category_field))
        if not self.category_key.startswith("UF_CRM_"):
            raise ConfigError(f"[crm] category_field = {self.category_key!r}: Bitrix24 user "
                              "fields are named UF_CRM_..., e.g. category_field = "
                              "\"UF_CRM_SS_CATEGORY\".")
        self.category_label = str(opts.get("category_label", "Category"))
        self.http = HttpClient(self.vendor, self.http_options, headers={},
                               describe=describe_error,
                               shape="bucket")  # rate_limit "50/25s": a bucket of 50, 2/s
        self._fields: dict[str, Any] | None = None

    # -- plumbing -----------------------------------------------------------------------
    def call(self, method: str, params: Mapping[str, Any] | None = None, *,
             idempotent: bool = True, shape: Any = None) -> dict[str, Any]:
        """One REST method; ``shape(body)`` (besides "a ``result`` and no ``error``") says
        what else a valid answer holds (see :func:`~.http.expect_json`)."""
        accept: Accept = expect_json(lambda body: _answer_shape(body, shape))
        response = self.http.request("POST", f"{method}.json", json=dict(params or {}),
                                     expect=(400,), idempotent=idempotent, accept=accept)
        body = json_body(response)
        if response.status_code == 400 or not isinstance(body, dict) or "error" in body:
            raise CrmError(f"Bitrix24 {method}: {self.http.detail(response)}")
        return body

    def fields(self, refresh: bool = False) -> dict[str, Any]:
        if self._fields is None or refresh:
            result = self.call("crm.company.fields", shape=_fields_shape)["result"]
            self._fields = result
        return self._fields

    # -- fetch ------------------------------------------------------------------------
    def fetch(self) -> pd.DataFrame:
        fields = self.fields(refresh=True)
        keys = list(dict.fromkeys([self.settings.id_field, *self.settings.fields,
                                   self.category_key]))
        missing = [k for k in keys if k not in fields and k != self.category_key]
        if missing:
            raise ConfigError(f"[fields]: Bitrix24 companies have no field {missing[0]!r}. Use "
                              "a field name such as TITLE, REVENUE or UF_CRM_...; "
                              "`sheets-sync check` lists what exists.")
        select = [k for k in keys if k in fields]
        rows: list[dict[str, Any]] = []
        for page in self._pages(select):
            rows.extend({k: normalise(fields.get(k), item.get(k)) for k in keys} for item in page)
        frame = pd.DataFrame(rows, columns=keys)
        frame[self.settings.id_field] = frame[self.settings.id_field].astype(str)
        return frame

    def _pages(self, select: list[str]) -> Any:
        pages = Pages(self.vendor, "crm.company.list")
        if self.paging == "id":
            last = 0
            while True:
                result = self.call("crm.company.list", {
                    "order": {"ID": "ASC"}, "filter": {">ID": last}, "select": select,
                    "start": -1}, shape=_list_shape)["result"]
                if result:
                    yield result
                if len(result) < PAGE:
                    return
                last = int(result[-1]["ID"])
                pages.next(last)
        else:
            start: int | None = 0
            while start is not None:
                body = self.call("crm.company.list", {"order": {"ID": "ASC"},
                                                      "select": select, "start": start},
                                 shape=_list_shape)
                yield body["result"]
                start = body.get("next")
                if start is not None:
                    pages.next(start)

    # -- write ------------------------------------------------------------------------
    def _category(self) -> dict[str, Any]:
        descriptor = self.fields().get(self.category_key)
        if descriptor is None:
            raise CrmError(f"Bitrix24 has no company field {self.category_key!r} for the "
                           "category. Run `sheets-sync crm setup` to create it.")
        if descriptor.get("type") != "enumeration":
            raise CrmError(f"Bitrix24 field {self.category_key!r} is of type "
                           f"{descriptor.get('type')!r}, not a list (enumeration). Point "
                           "[crm] category_field at a list field or a new UF_CRM_ name.")
        return descriptor

    def write_categories(self, changes: Mapping[str, str]) -> WriteResult:
        return write_in_batches(changes, self._items, self._batch, size=self.batch,
                                record="a Bitrix24 company id",
                                option=f"an item of field {self.category_key}")

    def _items(self) -> dict[str, Any]:
        return {i["VALUE"]: i["ID"] for i in self._category().get("items") or []}

    def _batch(self, chunk: list[tuple[str, str]], items: Mapping[str, Any],
               result: WriteResult) -> None:
        field = quote(self.category_key)
        commands = {f"c{cid}": f"crm.company.update?id={cid}&fields[{field}]="
                               f"{quote(str(items[code]))}" for cid, code in chunk}
        keys = list(commands)
        body = self.call("batch", {"halt": 0, "cmd": commands},
                         shape=lambda b: _batch_shape(b, keys))
        outcome = batch_outcome(keys, body)
        limited = sorted({e.split(":", 1)[0] for e in outcome.values()
                          if e is not None and e.split(":", 1)[0] in LIMIT_ERRORS})
        if limited:
            raise RemoteError(
                f"Bitrix24 batch: the portal's limit was reached ({', '.join(limited)} for "
                f"{sum(1 for e in outcome.values() if e)} of {len(keys)} updates; Bitrix24 "
                "allows 480 s of method time per 10 minutes). Writing stopped for this run "
                f"after {len(result.written)} categories; it resumes at the next sync.")
        for cid, _ in chunk:
            error = outcome.get(f"c{cid}")
            if error is None:
                result.written.append(cid)
            else:
                result.rejected[cid] = error

    # -- setup and check --------------------------------------------------------------
    def _userfield(self) -> dict[str, Any] | None:
        result = self.call("crm.company.userfield.list",
                           {"filter": {"FIELD_NAME": self.category_key}}).get("result") or []
        return next((f for f in result if f.get("FIELD_NAME") == self.category_key), None)

    def ensure_category_field(self, codes: Sequence[str]) -> list[str]:
        uf = self._userfield()
        if uf is None:
            self.call("crm.company.userfield.add", {"fields": {
                "FIELD_NAME": self.category_key[len("UF_CRM_"):],
                "USER_TYPE_ID": "enumeration", "MULTIPLE": "N", "MANDATORY": "N",
                "EDIT_FORM_LABEL": self.category_label, "LIST_COLUMN_LABEL": self.category_label,
                "SETTINGS": {"DISPLAY": "LIST"},
                "LIST": [{"VALUE": c, "SORT": (i + 1) * 10} for i, c in enumerate(codes)]}},
                idempotent=False)
            self.fields(refresh=True)
            return [f"created Bitrix24 list field {self.category_key} ({self.category_label!r}) "
                    f"with items {', '.join(codes)}"]
        if uf.get("USER_TYPE_ID") != "enumeration":
            raise CrmError(f"Bitrix24 field {self.category_key} is of type "
                           f"{uf.get('USER_TYPE_ID')!r}, not a list (enumeration).")
        have = [i.get("VALUE") for i in uf.get("LIST") or []]
        missing = [c for c in codes if c not in have]
        if not missing:
            return [f"Bitrix24 field {self.category_key} has every category"]
        listing = [{"ID": i["ID"], "VALUE": i["VALUE"]} for i in uf.get("LIST") or []]
        listing += [{"VALUE": c} for c in missing]
        self.call("crm.company.userfield.update", {"id": uf["ID"], "fields": {"LIST": listing}})
        self.fields(refresh=True)
        return [f"added items {', '.join(missing)} to Bitrix24 field {self.category_key}"]

    def check(self, codes: Sequence[str]) -> list[CheckItem]:
        fields = self.fields(refresh=True)
        items = [CheckItem(True, f"authenticated to Bitrix24 at "
                                 f"{self.http_options.base_url.rsplit('/', 1)[0]}/***/")]
        for key in self.settings.fields:
            ok = key in fields
            items.append(CheckItem(ok, f"field {key!r} " + ("exists" if ok else "is missing")))
        descriptor = fields.get(self.category_key)
        if descriptor is None:
            items.append(CheckItem(False, f"category field {self.category_key} is missing: run "
                                          "`sheets-sync crm setup`"))
        else:
            have = {i.get("VALUE") for i in descriptor.get("items") or []}
            missing = [c for c in codes if c not in have]
            items.append(CheckItem(not missing, f"category field {self.category_key} " + (
                "has every category" if not missing else
                f"lacks {', '.join(missing)}: run `sheets-sync crm setup`")))
        return items

    def close(self) -> None:
        self.http.close()


# ---------------------------------------------------------------------------- pure parsing


def normalise(descriptor: Mapping[str, Any] | None, value: Any) -> Any:
    """A Bitrix24 value in plain Python, using the field's descriptor from crm.*.fields."""
    if value is None or value is False or value == "" or (
            isinstance(value, list | dict) and not value):
        return None
    kind = (descriptor or {}).get("type")
    if isinstance(value, list):
        parts = [normalise(descriptor, v) for v in value]
        parts = [p for p in parts if p is not None]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else ", ".join(str(p) for p in parts)
    if isinstance(value, dict):  # crm_multifield: {"ID","VALUE_TYPE","VALUE","TYPE_ID"}
        return value.get("VALUE")
    if kind == "enumeration":
        items = {str(i.get("ID")): i.get("VALUE") for i in descriptor.get("items") or []}
        return items.get(str(value), value)
    if kind in _NUMERIC:
        text = str(value).split("|", 1)[0].strip()  # money: "1250.50|RUB"
        try:
            number = float(text)
        except ValueError:
            return value
        return int(number) if number.is_integer() else number
    if kind in ("boolean", "char") and str(value) in ("Y", "N", "1", "0"):
        return str(value) in ("Y", "1")
    return value


def batch_outcome(commands: list[str], body: Mapping[str, Any]) -> dict[str, str | None]:
    """``{command key: None if it succeeded, else the error text}`` for one batch answer."""
    inner = body.get("result") or {}
    if not isinstance(inner, dict):
        inner = {}
    results = inner.get("result")
    errors = inner.get("result_error")
    done: set[str] = set()
    if isinstance(results, dict):
        done = {k for k, v in results.items() if v not in (False, None)}
    elif isinstance(results, list) and len(results) == len(commands):
        done = {k for k, v in zip(commands, results, strict=True) if v not in (False, None)}
    outcome: dict[str, str | None] = {k: None for k in commands if k in done}
    failed = [k for k in commands if k not in done]
    if isinstance(errors, dict):
        for key in failed:
            outcome[key] = _error_text(errors.get(key)) if key in errors else NO_ANSWER
    else:
        listed = [_error_text(e) for e in errors or []]
        if len(listed) == len(failed):
            outcome.update(dict(zip(failed, listed, strict=True)))
        else:
            joined = "; ".join(listed)
            outcome.update({k: f"one of: {joined}" if listed else NO_ANSWER for k in failed})
    return outcome


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        code, text = error.get("error") or "", error.get("error_description") or ""
        return f"{code}: {text}" if code and text else (code or text or "error")
    return str(error)


def describe_error(response: requests.Response) -> str:
    body = json_body(response)
    if isinstance(body, dict) and ("error" in body or "error_description" in body):
        return _error_text(body)
    return text_summary(response)


# ---------------------------------------------------------------------------- answer shapes


def _answer_shape(body: Any, shape: Any) -> str | None:
    if not isinstance(body, dict):
        return f"a {type(body).__name__}, not an object"
    if "error" in body:
        return f"an error answer ({_error_text(body)[:100]})"
    if "result" not in body:
        return "no result"
    return shape(body) if shape is not None else None


def _fields_shape(body: Mapping[str, Any]) -> str | None:
    result = body["result"]
    if not isinstance(result, dict) or not all(isinstance(v, dict) for v in result.values()):
        return "result is not an object of field descriptions"
    for name, field in result.items():
        items = field.get("items") or []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return f"field {str(name)[:40]}: items is not a list of list items"
    return None


def _list_shape(body: Mapping[str, Any]) -> str | None:
    result = body["result"]
    if not isinstance(result, list):
        return "result is not a list"
    for n, item in enumerate(result):
        if not isinstance(item, dict) or not str(item.get("ID") or "").isdigit():
            return f"company #{n} has no numeric ID"
    nxt = body.get("next")
    if nxt is not None and (isinstance(nxt, bool) or not isinstance(nxt, int)):
        return "next is not a number"
    return None


def _batch_shape(body: Mapping[str, Any], keys: list[str]) -> str | None:
    inner = body["result"]
    if not isinstance(inner, dict) or "result" not in inner:
        return "the batch answer confirms nothing (no result.result)"
    results, errors = inner.get("result"), inner.get("result_error")
    if not isinstance(results, dict | list) or not isinstance(errors, dict | list | None):
        return "the batch answer's result or result_error is not a list or an object"
    outcome = batch_outcome(keys, body)
    unknown = sum(1 for e in outcome.values() if e == NO_ANSWER)
    if unknown:
        return f"the batch answer accounts for neither the result nor an error of {unknown} " \
               f"of {len(keys)} commands"
    return None

