"""amoCRM / Kommo (API v4) companies as the client list.

Config (``[crm]``)::

    kind = "amocrm"                       # or "kommo": the same API
    url = "https://example.amocrm.ru"     # the account address (Kommo: https://x.kommo.com)
    token_env = "AMOCRM_TOKEN"            # a long-lived token (or token_file = "...")
    category_field = "SS_CATEGORY"        # the category field's code (or its numeric id)
    category_label = "Category"           # its name when `sheets-sync crm setup` creates it
    rate_limit = "7/1s"                   # amoCRM allows 7 requests per second (paced with
                                          # headroom: about 6.4 per second)
    batch_size = 50                       # companies per PATCH (at most 50)
    timezone = "Europe/Moscow"            # only if the account endpoint does not say it

``[fields]`` values are amoCRM keys: a standard company attribute (``id``, ``name``,
``responsible_user_id``, ``created_at``...), a custom field's numeric ``field_id`` or its
``field_code``, or its exact name. Values are normalised: select options to their text,
numbers to numbers, dates to ISO dates *in the account's timezone* (``GET /api/v4/account``,
its ``timezone``; asked only when a date field is mapped), checkboxes to booleans, several
values to one text.

Requests: one ``GET /api/v4/companies/custom_fields`` page per 50 fields, one
``GET /api/v4/companies`` per 250 companies (an empty page answers 204), one
``PATCH /api/v4/companies`` per 50 changed categories. A 400 with ``validation-errors`` names
the rejected elements; they go to :attr:`WriteResult.rejected` and the rest is re-sent.

A read is complete or it fails: every page must have amoCRM's shape (``_embedded.companies``, a
list of companies with a numeric ``id``...); a page that does not (an HTML page, an empty or
cut-off body, an error body with status 200) is retried and then fails the sync (exit 4) before
anything is written, as does a ``next`` link seen twice. A PATCH answered 200 must list every
company it was sent, or it is not written. A 403 is amoCRM's block of an address that kept
exceeding the limit: writing stops for this run (exit 4) and resumes at the next sync.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import requests

from ..errors import ConfigError, CrmError, RemoteError
from ..http import expect_json, json_body, text_summary
from .base import CheckItem, CrmSettings, WriteResult
from .http import HttpClient, HttpOptions, Pages, RatePolicy, batch_size, write_in_batches

PAGE = 250
MAX_BATCH = 50
STANDARD = ("id", "name", "responsible_user_id", "group_id", "created_by", "updated_by",
            "created_at", "updated_at", "closest_task_at", "account_id")
SELECT_TYPES = ("select", "radiobutton")
DATE_TYPES = ("date", "birthday", "date_time")


class AmoCrm:
    vendor = "amoCRM"

    def __init__(self, settings: CrmSettings) -> None:
        self.settings = settings
        self.vendor = "Kommo" if settings.kind == "kommo" else "amoCRM"
        opts = settings.options
        self.http_options = HttpOptions.from_settings(
            opts, settings.base_dir, kind=settings.kind, vendor=self.vendor,
            extra_keys=("timezone",), default_rate=RatePolicy(7, 1.0),
            token_env_default="AMOCRM_TOKEN")
        self.timezone_option = opts.get("timezone")
        if self.timezone_option is not None:
            self.timezone_option = _zone(self.timezone_option, "[crm] timezone",
                                         ConfigError)
        self.batch = batch_size(opts, MAX_BATCH)
        self.category_key = str(opts.get("category_field", settings.category_field))
        self.category_label = str(opts.get("category_label", "Category"))
        self.http = HttpClient(self.vendor, self.http_options,
                               headers={"Authorization": f"Bearer {self.http_options.secret}"},
                               describe=describe_error, classify=self._classify)
        self._fields: list[dict[str, Any]] | None = None

    def _classify(self, where: str, response: requests.Response) -> Exception | None:
        if response.status_code == 403:
            return RemoteError(f"{where}: {self.vendor} refuses this address (HTTP 403: "
                               f"{self.http.detail(response)}); {self.vendor} blocks an address "
                               "that kept exceeding its request limit, and lifts the block by "
                               "itself. Nothing more was written in this run; it resumes at the "
                               "next sync.")
        return None

    def timezone(self) -> dt.tzinfo:
        """The account's timezone (``GET /api/v4/account``), or ``[crm] timezone``."""
        if self.timezone_option is not None:
            return self.timezone_option
        body = json_body(self.http.request("GET", "api/v4/account",
                                           accept=expect_json(_account_shape)))
        return _zone(body["timezone"], f"{self.vendor} account timezone")

    # -- metadata ---------------------------------------------------------------------
    def custom_fields(self, refresh: bool = False) -> list[dict[str, Any]]:
        if self._fields is None or refresh:
            fields: list[dict[str, Any]] = []
            url: str | None = "api/v4/companies/custom_fields?page=1&limit=50"
            pages = Pages(self.vendor, "GET /api/v4/companies/custom_fields")
            while url:
                pages.next(url)
                response = self.http.request("GET", url, accept=expect_json(_fields_shape))
                if response.status_code == 204:
                    break
                body = response.json()
                fields.extend(body["_embedded"]["custom_fields"])
                url = next_link(body)
            self._fields = fields
        return self._fields

    def find_field(self, key: str) -> dict[str, Any] | None:
        fields = self.custom_fields()
        if key.isdigit():
            return next((f for f in fields if str(f["id"]) == key), None)
        for attr in ("code", "name"):
            hit = next((f for f in fields if (f.get(attr) or "").casefold() == key.casefold()),
                       None)
            if hit is not None:
                return hit
        return None

    # -- fetch ------------------------------------------------------------------------
    def fetch(self) -> pd.DataFrame:
        keys = list(dict.fromkeys([self.settings.id_field, *self.settings.fields,
                                   self.category_key]))
        self.custom_fields(refresh=True)  # a pass starts from the account's current fields
        resolved: dict[str, dict[str, Any] | None] = {}
        for key in keys:
            if key in STANDARD:
                resolved[key] = None
                continue
            cf = self.find_field(key)
            if cf is None and key != self.category_key:
                raise ConfigError(f"[fields]: {self.vendor} has no company field {key!r} (neither "
                                  "a standard attribute, a field id, a field code nor a field "
                                  "name). Fix the mapping; `sheets-sync check` lists the fields.")
            resolved[key] = cf
        zone = self.timezone() if any(cf is not None and cf.get("type") in DATE_TYPES
                                      for cf in resolved.values()) else dt.UTC
        rows = []
        url: str | None = f"api/v4/companies?page=1&limit={PAGE}"
        pages = Pages(self.vendor, "GET /api/v4/companies")
        while url:
            pages.next(url)
            response = self.http.request("GET", url, accept=expect_json(_companies_shape))
            if response.status_code == 204:
                break
            body = response.json()
            for company in body["_embedded"]["companies"]:
                rows.append(self._row(company, resolved, zone))
            url = next_link(body)
        frame = pd.DataFrame(rows, columns=keys)
        frame[self.settings.id_field] = frame[self.settings.id_field].astype(str)
        return frame

    def _row(self, company: Mapping[str, Any], resolved: Mapping[str, dict[str, Any] | None],
             zone: dt.tzinfo = dt.UTC) -> dict[str, Any]:
        by_id = {v.get("field_id"): v for v in company.get("custom_fields_values") or []}
        row: dict[str, Any] = {}
        for key, cf in resolved.items():
            if cf is None:
                value = company.get(key) if key in STANDARD else None
                row[key] = str(value) if key == "id" and value is not None else value
            else:
                row[key] = normalise_value(cf, by_id.get(cf["id"]), zone)
        return row

    # -- write ------------------------------------------------------------------------
    def _category(self, create_hint: bool = True) -> dict[str, Any]:
        cf = self.find_field(self.category_key)
        if cf is None:
            raise CrmError(f"{self.vendor} has no company field {self.category_key!r} for the "
                           "category. Run `sheets-sync crm setup` to create it.")
        if cf.get("type") not in SELECT_TYPES:
            raise CrmError(f"{self.vendor} field {self.category_key!r} is of type "
                           f"{cf.get('type')!r}, not a list (select). Point [crm] "
                           "category_field at a select field, or at a new code for setup "
                           "to create.")
        return cf

    def write_categories(self, changes: Mapping[str, str]) -> WriteResult:
        return write_in_batches(changes, self._enums, self._patch, size=self.batch,
                                record=("an amoCRM" if self.vendor == "amoCRM" else "a Kommo")
                                + " company id",
                                option=f"an option of field {self.category_key!r}")

    def _enums(self) -> dict[str, int]:
        return {e["value"]: e["id"] for e in self._category().get("enums") or []}

    def _patch(self, chunk: list[tuple[str, str]], enums: Mapping[str, int],
               result: WriteResult) -> None:
        field_id = self._category()["id"]
        while chunk:
            body = [{"id": int(cid), "custom_fields_values": [
                {"field_id": field_id, "values": [{"enum_id": enums[code]}]}]}
                for cid, code in chunk]
            sent = {int(cid) for cid, _ in chunk}
            response = self.http.request("PATCH", "api/v4/companies", json=body, expect=(400,),
                                         accept=expect_json(lambda b, sent=sent:
                                                            _patched_shape(b, sent)))
            if response.status_code != 400:
                result.written.extend(cid for cid, _ in chunk)
                return
            failed = validation_errors(json_body(response))
            if not failed:
                raise CrmError(f"{self.vendor} PATCH /api/v4/companies: HTTP 400: "
                               f"{self.http.detail(response)}")
            keep = []
            for index, item in enumerate(chunk):
                if index in failed:
                    result.rejected[item[0]] = failed[index]
                else:
                    keep.append(item)
            chunk = keep

    # -- setup and check --------------------------------------------------------------
    def ensure_category_field(self, codes: Sequence[str]) -> list[str]:
        cf = self.find_field(self.category_key)
        if cf is None:
            if self.category_key.isdigit():
                raise ConfigError(f"[crm] category_field = {self.category_key!r}: {self.vendor} "
                                  "has no field with that id. Give a field code instead "
                                  "(e.g. \"SS_CATEGORY\") and setup will create it.")
            body = [{"name": self.category_label, "type": "select", "code": self.category_key,
                     "sort": 510,
                     "enums": [{"value": c, "sort": (i + 1) * 10} for i, c in enumerate(codes)]}]
            self.http.request("POST", "api/v4/companies/custom_fields", json=body,
                              idempotent=False)
            self.custom_fields(refresh=True)
            return [f"created {self.vendor} select field {self.category_label!r} (code "
                    f"{self.category_key}) with options {', '.join(codes)}"]
        cf = self._category()
        existing = [e["value"] for e in cf.get("enums") or []]
        missing = [c for c in codes if c not in existing]
        if not missing:
            return [f"{self.vendor} field {self.category_key!r} has every category"]
        enums = [{"id": e["id"], "value": e["value"], "sort": e.get("sort", 0)}
                 for e in cf.get("enums") or []]
        top = max([e["sort"] for e in enums], default=0)
        enums += [{"value": c, "sort": top + (i + 1) * 10} for i, c in enumerate(missing)]
        self.http.request("PATCH", f"api/v4/companies/custom_fields/{cf['id']}",
                          json={"enums": enums})
        self.custom_fields(refresh=True)
        return [f"added options {', '.join(missing)} to {self.vendor} field "
                f"{self.category_key!r}"]

    def check(self, codes: Sequence[str]) -> list[CheckItem]:
        self.custom_fields(refresh=True)
        items = [CheckItem(True, f"authenticated to {self.vendor} at "
                                 f"{self.http_options.base_url}")]
        for key in self.settings.fields:
            ok = key in STANDARD or self.find_field(key) is not None
            items.append(CheckItem(ok, f"field {key!r} " + ("exists" if ok else "is missing")))
        cf = self.find_field(self.category_key)
        if cf is None:
            items.append(CheckItem(False, f"category field {self.category_key!r} is missing: "
                                          "run `sheets-sync crm setup`"))
        else:
            have = {e["value"] for e in cf.get("enums") or []}
            missing = [c for c in codes if c not in have]
            items.append(CheckItem(not missing, f"category field {self.category_key!r} " + (
                "has every category" if not missing else
                f"lacks {', '.join(missing)}: run `sheets-sync crm setup`")))
        return items

    def close(self) -> None:
        self.http.close()


# ---------------------------------------------------------------------------- pure parsing


def normalise_value(cf: Mapping[str, Any], entry: Mapping[str, Any] | None,
                    zone: dt.tzinfo = dt.UTC) -> Any:
    """One company's value of custom field ``cf`` in plain Python (None when empty).

    Dates are unix timestamps; their calendar day is the one in ``zone``, the account's
    timezone (a date set as 15.11 at 00:00 Moscow time is 14.11 21:00 UTC).
    """
    if not entry:
        return None
    values = entry.get("values") or []
    if not values:
        return None
    kind = cf.get("type")
    enums = {e["id"]: e["value"] for e in cf.get("enums") or []}
    out = []
    for v in values:
        value = v.get("value")
        if "enum_id" in v and v["enum_id"] in enums and kind in ("select", "radiobutton",
                                                                  "multiselect", "category"):
            value = enums[v["enum_id"]]
        if kind in ("numeric", "price", "monetary") and value not in (None, ""):
            try:
                number = float(str(value).replace(",", "."))
                value = int(number) if number.is_integer() else number
            except ValueError:
                pass
        elif kind in ("date", "birthday", "date_time") and isinstance(value, int | float):
            stamp = dt.datetime.fromtimestamp(value, zone)
            value = stamp.date().isoformat() if kind != "date_time" else stamp.isoformat()
        elif kind == "checkbox":
            value = bool(value)
        out.append(value)
    if len(out) == 1:
        return out[0]
    return ", ".join(str(v) for v in out if v is not None)


def next_link(body: Mapping[str, Any]) -> str | None:
    """``_links.next`` as a path on our own base URL (a token is never sent elsewhere)."""
    href = (body.get("_links", {}).get("next") or {}).get("href")
    if not href:
        return None
    parts = urlsplit(str(href))
    return parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")


def validation_errors(body: Any) -> dict[int, str]:
    """``{element index: message}`` from a 400 ``validation-errors`` body."""
    failed: dict[int, str] = {}
    if not isinstance(body, dict):
        return failed
    for entry in body.get("validation-errors") or []:
        try:
            index = int(entry.get("request_id"))
        except (TypeError, ValueError):
            continue
        messages = [f"{e.get('code')}: {e.get('detail')} ({e.get('path')})"
                    for e in entry.get("errors") or []]
        failed[index] = "; ".join(messages) or "rejected"
    return failed


def describe_error(response: Any) -> str:
    body = json_body(response)
    if isinstance(body, dict):
        parts = [str(body.get("title") or ""), str(body.get("detail") or "")]
        failed = validation_errors(body)
        if failed:
            parts.append("; ".join(f"#{i}: {m}" for i, m in sorted(failed.items())))
        return " - ".join(p for p in parts if p) or text_summary(response)
    return text_summary(response)


# ---------------------------------------------------------------------------- page shapes


def _zone(name: Any, where: str, error: type[Exception] = CrmError) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise error(f"{where} = {str(name)[:40]!r} is not a known timezone (e.g. "
                       "\"Europe/Moscow\"); set [crm] timezone to the account's.") from None


def _account_shape(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("timezone"), str) \
            or not body["timezone"]:
        return "the account has no timezone (set [crm] timezone)"
    return None


def _links_shape(body: Mapping[str, Any]) -> str | None:
    links = body.get("_links", {})
    if not isinstance(links, dict):
        return "_links is not an object"
    nxt = links.get("next")
    if nxt is not None and not (isinstance(nxt, dict) and isinstance(nxt.get("href"), str)):
        return "_links.next has no href"
    return None


def _embedded(body: Any, key: str) -> list[Any] | str:
    if not isinstance(body, dict):
        return f"a {type(body).__name__}, not an object"
    embedded = body.get("_embedded")
    if not isinstance(embedded, dict) or not isinstance(embedded.get(key), list):
        return f"no _embedded.{key} list"
    return embedded[key]


def _fields_shape(body: Any) -> str | None:
    items = _embedded(body, "custom_fields")
    if isinstance(items, str):
        return items
    for n, cf in enumerate(items):
        if not isinstance(cf, dict) or not isinstance(cf.get("id"), int) \
                or not isinstance(cf.get("type"), str):
            return f"custom field #{n} has no numeric id or no type"
        if not all(isinstance(cf.get(key), str | None) for key in ("name", "code")):
            return f"custom field #{n}: name or code is not a text"
        enums = cf.get("enums") or []
        if not isinstance(enums, list) or not all(
                isinstance(e, dict) and isinstance(e.get("id"), int) and "value" in e
                for e in enums):
            return f"custom field #{n}: enums is not a list of options with ids"
    return _links_shape(body)


def _companies_shape(body: Any) -> str | None:
    items = _embedded(body, "companies")
    if isinstance(items, str):
        return items
    for n, company in enumerate(items):
        if not isinstance(company, dict) or not isinstance(company.get("id"), int) \
                or isinstance(company.get("id"), bool):
            return f"company #{n} has no numeric id"
        values = company.get("custom_fields_values")
        if values is not None and not (isinstance(values, list) and all(
                isinstance(v, dict) and isinstance(v.get("field_id"), int)
                and isinstance(v.get("values"), list) for v in values)):
            return f"company #{n}: custom_fields_values is not a list of field values"
    return _links_shape(body)


def _patched_shape(body: Any, sent: set[int]) -> str | None:
    items = _embedded(body, "companies")
    if isinstance(items, str):
        return f"the answer to the update confirms nothing ({items})"
    confirmed = {c.get("id") for c in items if isinstance(c, dict)}
    missing = len(sent - confirmed)
    if missing:
        return f"the answer to the update does not confirm {missing} of {len(sent)} companies"
    return None
