"""HubSpot (CRM v3) companies as the client list.

Config (``[crm]``)::

    kind = "hubspot"
    url = "https://api.hubapi.com"       # the default
    token_env = "HUBSPOT_TOKEN"          # a private app's access token (or token_file)
    category_field = "client_category"   # an enumeration property's internal name
    category_label = "Client category"   # its label when `sheets-sync crm setup` creates it
    category_group = "companyinformation"
    rate_limit = "100/10s"               # Free/Starter; Professional/Enterprise: "190/10s"
    batch_size = 100                     # inputs per batch/update (at most 100)

``[fields]`` values are property internal names (``name``, ``annualrevenue``, custom ones);
``id`` (or ``hs_object_id``) is the record id. HubSpot sends every value as a string; they are
normalised by the property's type: numbers to numbers, ``"true"``/``"false"`` to booleans,
``""`` to None, enumeration values to their labels (the category stays its value, the code).

Requests: ``GET /crm/v3/properties/companies`` once, one ``GET /crm/v3/objects/companies`` per
100 companies, one ``POST .../batch/update`` per 100 changed categories. A 207 Multi-Status
names the failed ids in ``errors[].context.ids``: those are rejected, the rest is written. A
whole-batch 400 ``VALIDATION_ERROR`` that names no ids is sent again once as two halves; a half
refused again without ids is reported as rejected as a whole, with HubSpot's message (at most
3 requests per batch, where bisecting down to single records took 2N-1).

A read is complete or it fails: every page must have HubSpot's shape (``results``, a list of
records with an ``id`` and ``properties``; ``paging.next.after`` a non-empty text); a page that
does not (an HTML page, an empty or cut-off body, an error body with status 200) is retried and
then fails the sync (exit 4) before anything is written, as does an ``after`` cursor seen twice.
A batch answer must account for every id it was sent (in ``results`` or ``errors``), or the
batch is not written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import requests

from ..errors import ConfigError, CrmError
from ..http import expect_json, json_body, text_summary
from .base import CheckItem, CrmSettings, WriteResult
from .http import HttpClient, HttpOptions, Pages, RatePolicy, batch_size, write_in_batches

PAGE = 100
MAX_BATCH = 100
ID_KEYS = ("id", "hs_object_id")
_NAME = re.compile(r"[a-z][a-z0-9_]*")


class HubSpotCrm:
    vendor = "HubSpot"

    def __init__(self, settings: CrmSettings) -> None:
        self.settings = settings
        opts = settings.options
        self.http_options = HttpOptions.from_settings(
            opts, settings.base_dir, kind="hubspot", vendor=self.vendor,
            extra_keys=("category_group",), default_url="https://api.hubapi.com",
            default_rate=RatePolicy(100, 10.0), token_env_default="HUBSPOT_TOKEN")
        self.batch = batch_size(opts, MAX_BATCH)
        self.category_key = str(opts.get("category_field", settings.category_field))
        if not _NAME.fullmatch(self.category_key):
            raise ConfigError(f"[crm] category_field = {self.category_key!r}: HubSpot property "
                              "names are lower case letters, digits and _, e.g. "
                              "category_field = \"client_category\".")
        self.category_label = str(opts.get("category_label", "Client category"))
        self.category_group = str(opts.get("category_group", "companyinformation"))
        self.http = HttpClient(self.vendor, self.http_options,
                               headers={"Authorization": f"Bearer {self.http_options.secret}"},
                               describe=describe_error)
        self._properties: dict[str, dict[str, Any]] | None = None

    def properties(self, refresh: bool = False) -> dict[str, dict[str, Any]]:
        if self._properties is None or refresh:
            body = self.http.request("GET", "crm/v3/properties/companies",
                                     accept=expect_json(_properties_shape)).json()
            self._properties = {p["name"]: p for p in body["results"]}
        return self._properties

    # -- fetch ------------------------------------------------------------------------
    def fetch(self) -> pd.DataFrame:
        props = self.properties(refresh=True)
        keys = list(dict.fromkeys([self.settings.id_field, *self.settings.fields,
                                   self.category_key]))
        missing = [k for k in keys if k not in props and k not in ID_KEYS
                   and k != self.category_key]
        if missing:
            raise ConfigError(f"[fields]: HubSpot companies have no property {missing[0]!r}. "
                              "Use internal property names (e.g. name, annualrevenue); "
                              "`sheets-sync check` lists what exists.")
        wanted = [k for k in keys if k in props]
        rows: list[dict[str, Any]] = []
        after: str | None = None
        pages = Pages(self.vendor, "GET /crm/v3/objects/companies")
        while True:
            params: dict[str, Any] = {"limit": PAGE, "archived": "false",
                                      "properties": ",".join(wanted)}
            if after:
                params["after"] = after
            body = self.http.request("GET", "crm/v3/objects/companies", params=params,
                                     accept=expect_json(_companies_shape)).json()
            for record in body["results"]:
                values = record.get("properties") or {}
                row = {}
                for key in keys:
                    if key in ID_KEYS:
                        row[key] = str(record.get("id"))
                    else:
                        row[key] = normalise(props.get(key), values.get(key),
                                             keep_value=key == self.category_key)
                rows.append(row)
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
            pages.next(after)
        frame = pd.DataFrame(rows, columns=keys)
        frame[self.settings.id_field] = frame[self.settings.id_field].astype(str)
        return frame

    # -- write ------------------------------------------------------------------------
    def _category(self) -> dict[str, Any]:
        prop = self.properties().get(self.category_key)
        if prop is None:
            raise CrmError(f"HubSpot has no company property {self.category_key!r} for the "
                           "category. Run `sheets-sync crm setup` to create it.")
        if prop.get("type") != "enumeration":
            raise CrmError(f"HubSpot property {self.category_key!r} is of type "
                           f"{prop.get('type')!r}, not an enumeration. Point [crm] "
                           "category_field at an enumeration property or a new name.")
        return prop

    def write_categories(self, changes: Mapping[str, str]) -> WriteResult:
        return write_in_batches(changes, self._options, lambda chunk, _, result:
                                self._update(chunk, result), size=self.batch,
                                record="a HubSpot record id",
                                option=f"an option of property {self.category_key!r}")

    def _options(self) -> dict[str, str]:
        return {o["value"]: o["value"] for o in self._category().get("options") or []}

    def _update(self, chunk: list[tuple[str, str]], result: WriteResult,
                halved: bool = False) -> None:
        if not chunk:
            return
        inputs = [{"id": cid, "properties": {self.category_key: code}} for cid, code in chunk]
        sent = {cid for cid, _ in chunk}
        response = self.http.request("POST", "crm/v3/objects/companies/batch/update",
                                     json={"inputs": inputs}, expect=(400, 404),
                                     accept=expect_json(lambda b: _updated_shape(b, sent)))
        body = json_body(response)
        body = body if isinstance(body, dict) else {}
        if response.status_code in (200, 207):
            failed = failed_ids(body)
            for cid, _ in chunk:
                if cid in failed:
                    result.rejected[cid] = failed[cid]
                else:
                    result.written.append(cid)
            return
        failed = failed_ids(body)
        named = {cid for cid, _ in chunk if cid in failed}
        if named:  # the batch names its bad ids: reject them, send the rest again
            for cid in named:
                result.rejected[cid] = failed[cid]
            self._update([item for item in chunk if item[0] not in named], result)
        elif len(chunk) == 1 or halved:  # refused again without ids: report the batch
            message = self.http.detail(response)
            if len(chunk) > 1:
                message = (f"HubSpot refused the batch of {len(chunk)} without naming a record "
                           f"({message})")
            for cid, _ in chunk:
                result.rejected[cid] = message
        else:  # nothing names the culprit: try the two halves once
            middle = len(chunk) // 2
            self._update(chunk[:middle], result, halved=True)
            self._update(chunk[middle:], result, halved=True)

    # -- setup and check --------------------------------------------------------------
    def ensure_category_field(self, codes: Sequence[str]) -> list[str]:
        path = f"crm/v3/properties/companies/{self.category_key}"
        response = self.http.request("GET", path, expect=(404,), accept=expect_json(
            lambda b: None if isinstance(b, dict) and isinstance(b.get("name"), str)
            else "not a property"))
        if response.status_code == 404:
            self.http.request("POST", "crm/v3/properties/companies", idempotent=False, json={
                "name": self.category_key, "label": self.category_label,
                "type": "enumeration", "fieldType": "select", "groupName": self.category_group,
                "description": "Client category written by sheets-sync",
                "options": [{"label": c, "value": c, "displayOrder": i, "hidden": False}
                            for i, c in enumerate(codes)]})
            self.properties(refresh=True)
            return [f"created HubSpot enumeration property {self.category_key!r} "
                    f"({self.category_label!r}) with options {', '.join(codes)}"]
        prop = json_body(response) or {}
        if prop.get("type") != "enumeration":
            raise CrmError(f"HubSpot property {self.category_key!r} is of type "
                           f"{prop.get('type')!r}, not an enumeration.")
        options = list(prop.get("options") or [])
        have = {o.get("value") for o in options}
        missing = [c for c in codes if c not in have]
        if not missing:
            return [f"HubSpot property {self.category_key!r} has every category"]
        top = max([int(o.get("displayOrder", 0)) for o in options], default=-1)
        options += [{"label": c, "value": c, "displayOrder": top + 1 + i, "hidden": False}
                    for i, c in enumerate(missing)]
        self.http.request("PATCH", path, json={"options": options})
        self.properties(refresh=True)
        return [f"added options {', '.join(missing)} to HubSpot property "
                f"{self.category_key!r}"]

    def check(self, codes: Sequence[str]) -> list[CheckItem]:
        props = self.properties(refresh=True)
        items = [CheckItem(True, f"authenticated to HubSpot at {self.http_options.base_url}")]
        for key in self.settings.fields:
            ok = key in props or key in ID_KEYS
            items.append(CheckItem(ok, f"field {key!r} " + ("exists" if ok else "is missing")))
        prop = props.get(self.category_key)
        if prop is None:
            items.append(CheckItem(False, f"category property {self.category_key!r} is "
                                          "missing: run `sheets-sync crm setup`"))
        else:
            have = {o.get("value") for o in prop.get("options") or []}
            missing = [c for c in codes if c not in have]
            items.append(CheckItem(not missing, f"category property {self.category_key!r} " + (
                "has every category" if not missing else
                f"lacks {', '.join(missing)}: run `sheets-sync crm setup`")))
        return items

    def close(self) -> None:
        self.http.close()


# ---------------------------------------------------------------------------- pure parsing


def normalise(prop: Mapping[str, Any] | None, value: Any, keep_value: bool = False) -> Any:
    """A HubSpot property value (always a string or null) in plain Python."""
    if value is None or value == "":
        return None
    kind = (prop or {}).get("type")
    if kind == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value
        return int(number) if number.is_integer() else number
    if kind == "bool" or (prop or {}).get("fieldType") == "booleancheckbox":
        return str(value).lower() == "true"
    if kind == "enumeration" and not keep_value:
        labels = {o.get("value"): o.get("label") for o in (prop or {}).get("options") or []}
        parts = [labels.get(v, v) for v in str(value).split(";")]
        return "; ".join(parts)
    return value


def failed_ids(body: Mapping[str, Any]) -> dict[str, str]:
    """``{record id: message}`` from ``errors[].context.ids`` (or a top-level ``context.ids``)."""
    failed: dict[str, str] = {}
    entries = list(body.get("errors") or [])
    if body.get("status") == "error" and body.get("context"):
        entries.append(body)  # a whole-batch error naming ids (e.g. duplicate ids)
    for entry in entries:
        context = entry.get("context") or {}
        message = entry.get("message") or entry.get("category") or "rejected"
        if entry.get("category"):
            message = f"{entry['category']}: {message}"
        for cid in context.get("ids") or context.get("id") or []:
            failed[str(cid)] = message
    return failed


def describe_error(response: requests.Response) -> str:
    body = json_body(response)
    if isinstance(body, dict) and "message" in body:
        kind = body.get("category") or body.get("errorType") or ""
        policy = f" ({body['policyName']})" if body.get("policyName") else ""
        return f"{kind}{policy}: {body['message']}" if kind else str(body["message"])
    return text_summary(response)


# ---------------------------------------------------------------------------- page shapes


def _properties_shape(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        return "no results list"
    for n, prop in enumerate(body["results"]):
        if not isinstance(prop, dict) or not isinstance(prop.get("name"), str):
            return f"property #{n} has no name"
        options = prop.get("options") or []
        if not isinstance(options, list) or not all(isinstance(o, dict) for o in options):
            return f"property #{n}: options is not a list of options"
    return None


def _companies_shape(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        return "no results list"
    for n, record in enumerate(body["results"]):
        if not isinstance(record, dict) or not str(record.get("id") or "").isdigit():
            return f"record #{n} has no id"
        if not isinstance(record.get("properties"), dict):
            return f"record #{n} has no properties object"
    paging = body.get("paging")
    if paging is not None:
        nxt = paging.get("next") if isinstance(paging, dict) else None
        if not isinstance(paging, dict) or (nxt is not None and not (
                isinstance(nxt, dict) and isinstance(nxt.get("after"), str | int))):
            return "paging.next has no after cursor"
    return None


def _updated_shape(body: Any, sent: set[str]) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        return "the answer to the update confirms nothing (no results list)"
    confirmed = {str(r.get("id")) for r in body["results"] if isinstance(r, dict)}
    confirmed |= set(failed_ids(body))
    missing = len(sent - confirmed)
    if missing:
        return f"the answer to the update does not account for {missing} of {len(sent)} records"
    return None
