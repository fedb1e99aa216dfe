"""amoCRM / Kommo (API v4) companies as the client list.

Config (``[crm]``)::

    kind = "amocrm"                       # or "kommo": the same API
    url = "https://example.amocrm.ru"     # the account address (Kommo: https://x.kommo.com)
    token_env = "AMOCRM_TOKEN"            # a long-lived token (or token_file = "...")
    category_field = "SS_CATEGORY"        # the category field's code (or its numeric id)
    category_label = "Category"           # its name when `sheets-sync crm setup` creates it
    rate_limit = "7/1s"                   # amoCRM allows 7 requests per second
    batch_size = 50                       # companies per PATCH (at most 50)

``[fields]`` values are amoCRM keys: a standard company attribute (``id``, ``name``,
``responsible_user_id``, ``created_at``...), a custom field's numeric ``field_id`` or its
``field_code``, or its exact name. Values are normalised: select options to their text,
numbers to numbers, dates to ISO dates, checkboxes to booleans, several values to one text.

Requests: one ``GET /api/v4/companies/custom_fields`` page per 50 fields, one
``GET /api/v4/companies`` per 250 companies (an empty page answers 204), one
``PATCH /api/v4/companies`` per 50 changed categories. A 400 with ``validation-errors`` names
the rejected elements; they go to :attr:`WriteResult.rejected` and the rest is re-sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from ..errors import ConfigError, CrmError
from .base import CheckItem, CrmSettings, WriteResult
from .http import HttpClient, HttpOptions, RatePolicy, batch_size, json_body

PAGE = 250
MAX_BATCH = 50
STANDARD = ("id", "name", "responsible_user_id", "group_id", "created_by", "updated_by",
            "created_at", "updated_at", "closest_task_at", "account_id")
SELECT_TYPES = ("select", "radiobutton")


class AmoCrm:
    vendor = "amoCRM"

    def __init__(self, settings: CrmSettings) -> None:
        self.settings = settings
        self.vendor = "Kommo" if settings.kind == "kommo" else "amoCRM"
        opts = settings.options
        self.http_options = HttpOptions.from_settings(
            opts, settings.base_dir, kind=settings.kind, vendor=self.vendor,
            default_rate=RatePolicy(7, 1.0), token_env_default="AMOCRM_TOKEN")
        self.batch = batch_size(opts, MAX_BATCH)
        self.category_key = str(opts.get("category_field", settings.category_field))
        self.category_label = str(opts.get("category_label", "Category"))
        self.http = HttpClient(self.vendor, self.http_options,
                               headers={"Authorization": f"Bearer {self.http_options.secret}"},
                               describe=describe_error)
        self._fields: list[dict[str, Any]] | None = None

    # -- metadata ---------------------------------------------------------------------
    def custom_fields(self, refresh: bool = False) -> list[dict[str, Any]]:
        if self._fields is None or refresh:
            fields: list[dict[str, Any]] = []
            url: str | None = "api/v4/companies/custom_fields?page=1&limit=50"
            while url:
                response = self.http.request("GET", url)
                body = json_body(response)
                if response.status_code == 204 or not isinstance(body, dict):
                    break
                fields.extend(body.get("_embedded", {}).get("custom_fields") or [])
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
        rows = []
        page = 1
        url: str | None = f"api/v4/companies?page={page}&limit={PAGE}"
        while url:
            response = self.http.request("GET", url)
            body = json_body(response)
            if response.status_code == 204 or not isinstance(body, dict):
                break
            for company in body.get("_embedded", {}).get("companies") or []:
                rows.append(self._row(company, resolved))
            url = next_link(body)
        frame = pd.DataFrame(rows, columns=keys)
        frame[self.settings.id_field] = frame[self.settings.id_field].astype(str)
        return frame

    def _row(self, company: Mapping[str, Any],
             resolved: Mapping[str, dict[str, Any] | None]) -> dict[str, Any]:
        by_id = {v.get("field_id"): v for v in company.get("custom_fields_values") or []}
        row: dict[str, Any] = {}
        for key, cf in resolved.items():
            if cf is None:
                value = company.get(key) if key in STANDARD else None
                row[key] = str(value) if key == "id" and value is not None else value
            else:
                row[key] = normalise_value(cf, by_id.get(cf["id"]))
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
        result = WriteResult()
        if not changes:
            return result
        cf = self._category()
        enums = {e["value"]: e["id"] for e in cf.get("enums") or []}
        pending: list[tuple[str, str]] = []
        for client_id, code in changes.items():
            if not str(client_id).isdigit():
                result.rejected[client_id] = f"{client_id!r} is not an {self.vendor} company id"
            elif code not in enums:
                result.rejected[client_id] = (f"category {code!r} is not an option of field "
                                              f"{self.category_key!r}; run `sheets-sync crm "
                                              "setup`")
            else:
                pending.append((client_id, code))
        for start in range(0, len(pending), self.batch):
            self._patch(pending[start:start + self.batch], cf["id"], enums, result)
        return result

    def _patch(self, chunk: list[tuple[str, str]], field_id: int, enums: Mapping[str, int],
               result: WriteResult) -> None:
        while chunk:
            body = [{"id": int(cid), "custom_fields_values": [
                {"field_id": field_id, "values": [{"enum_id": enums[code]}]}]}
                for cid, code in chunk]
            response = self.http.request("PATCH", "api/v4/companies", json=body, expect=(400,))
            if response.status_code != 400:
                result.written.extend(cid for cid, _ in chunk)
                return
            failed = validation_errors(json_body(response))
            if not failed:
                raise CrmError(f"{self.vendor} PATCH /api/v4/companies: HTTP 400: "
                               f"{describe_error(response)}")
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


def normalise_value(cf: Mapping[str, Any], entry: Mapping[str, Any] | None) -> Any:
    """One company's value of custom field ``cf`` in plain Python (None when empty)."""
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
            stamp = dt.datetime.fromtimestamp(value, dt.UTC)
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
        return " - ".join(p for p in parts if p) or str(body)[:300]
    return (response.text or response.reason or "")[:300]
