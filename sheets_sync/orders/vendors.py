"""``[orders] source = "crm"``: the deals of the CRM in ``[crm]``, read through its adapter's
own request method (pacing, retries, masking stay the adapter's), kept in the state store.

=========  =====================================  ===========================================
vendor     deals                                  won / client / amount / close date
=========  =====================================  ===========================================
amoCRM     ``GET /api/v4/leads?with=companies``   ``status_id`` 142 / ``_embedded.companies``
           ``page``, ``limit`` 250                / ``price`` / ``closed_at`` (unix seconds)
Bitrix24   ``crm.deal.list``, ``start`` paging    ``STAGE_SEMANTIC_ID`` "S" / ``COMPANY_ID``
           of 50                                  / ``OPPORTUNITY`` / ``CLOSEDATE``
HubSpot    ``GET /crm/v3/objects/deals``          ``dealstage`` among the pipelines' closed-won
           ``associations=companies``, ``after``  stages / the associated company / ``amount``
                                                  / ``closedate``
=========  =====================================  ===========================================

Incremental where the vendor allows: amoCRM (``filter[updated_at][from]``) and Bitrix24
(``>DATE_MODIFY``) are asked only for the deals changed since the last read (an hour of
overlap), and those are merged into the deals kept in the state store; every
:data:`FULL_EVERY` a full read replaces them (a deal deleted in the CRM is seen only then).
HubSpot's list of deals has no filter and its search answers no associations, so it is read
whole each time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from ..crm.http import Pages
from ..errors import ConfigError, CrmError
from ..http import expect_json
from ..parsing import id_text
from .read import Deals

FULL_EVERY = dt.timedelta(days=7)
OVERLAP = dt.timedelta(hours=1)
AMO_WON = 142  # amoCRM's fixed status "successfully realised"
AMO_PAGE = 250
HUBSPOT_PAGE = 100

Row = tuple[str, str, "float | None", "str | None", int]  # deal id, client, amount, day, won


def read_crm_deals(crm: Any, state: Any = None, now: dt.datetime | None = None) -> Deals:
    kind = getattr(getattr(crm, "settings", None), "kind", "")
    reader = {"amocrm": _amocrm, "kommo": _amocrm, "bitrix24": _bitrix24, "hubspot": _hubspot}.get(kind)
    if reader is None:
        raise ConfigError(f"[orders] source = \"crm\": the {kind or type(crm).__name__} CRM has no "
                          "deals to read; use source = \"sql\" or \"file\"")
    now = now or dt.datetime.now(dt.UTC)
    # the account by its host (a Bitrix24 address holds the webhook's secret code in its path)
    host = urlsplit(str(getattr(getattr(crm, "http_options", None), "base_url", ""))).netloc
    source = f"{kind}:{host}"
    since = _since(state, source, now)
    rows = list(reader(crm, since))
    if state is not None:
        state.save_deals(source, rows, replace_all=since is None)
        state.put(f"deals_read:{source}", now.isoformat())
        if since is None:
            state.put(f"deals_full:{source}", now.isoformat())
        rows = state.deals(source)
    return deals_frame(rows, f"{crm.vendor} deals")


def _since(state: Any, source: str, now: dt.datetime) -> dt.datetime | None:
    """When to read changes from, or None for a full read."""
    if state is None:
        return None
    full, last = state.get(f"deals_full:{source}"), state.get(f"deals_read:{source}")
    if not full or not last:
        return None
    try:
        full_at, last_at = dt.datetime.fromisoformat(full), dt.datetime.fromisoformat(last)
    except ValueError:
        return None
    if now - full_at >= FULL_EVERY or last_at > now:
        return None
    return last_at - OVERLAP


def deals_frame(rows: list[Row] | list[tuple], where: str) -> Deals:
    """The deals frame of (deal id, client id, amount, close day, won) rows; a won deal without
    an amount or a close date is left out (the vendor has none: nothing to count)."""
    if rows:
        _, client, amount, day, won = zip(*rows, strict=True)
    else:
        client = amount = day = won = ()
    frame = pd.DataFrame({
        "client_id": pd.Categorical(np.array([c or "" for c in client], dtype=object)),
        "amount": np.array([np.nan if a is None else a for a in amount], dtype="float64"),
        "date": pd.to_datetime(pd.Series(day, dtype=object), errors="coerce").to_numpy(dtype="datetime64[ns]"),
        "cost": np.full(len(rows), np.nan),
        "won": np.array(won, dtype=bool),
    })
    blank = frame["client_id"].to_numpy(dtype=object) == ""
    deals = Deals(frame, has_cost=False, without_client=int((blank & frame["won"].to_numpy()).sum()),
                  where=where)
    deals.frame.loc[blank, "won"] = False
    return deals


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _day(value: Any, zone: dt.tzinfo = dt.UTC) -> str | None:
    """A close date as the day it is in ``zone``: unix seconds, ISO text, or a date."""
    if value in (None, "", 0):
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, zone).date().isoformat()
    text = str(value)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text[:10] if len(text) >= 10 else None
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    return moment.date().isoformat()


# ------------------------------------------------------------------ amoCRM
def _amocrm(crm: Any, since: dt.datetime | None) -> Iterator[Row]:
    zone = crm.timezone()
    url: str | None = f"api/v4/leads?with=companies&page=1&limit={AMO_PAGE}"
    if since is not None:
        url += f"&filter[updated_at][from]={int(since.timestamp())}"
    pages = Pages(crm.vendor, "GET /api/v4/leads")
    while url:
        pages.next(url)
        response = crm.http.request("GET", url, accept=expect_json(_amo_shape))
        if response.status_code == 204:  # amoCRM answers 204 to a page past the end
            break
        body = response.json()
        for lead in body["_embedded"]["leads"]:
            companies = (lead.get("_embedded") or {}).get("companies") or []
            client = id_text(companies[0].get("id")) if companies else ""
            yield (id_text(lead.get("id")), client, _number(lead.get("price")),
                   _day(lead.get("closed_at"), zone), int(lead.get("status_id") == AMO_WON))
        url = ((body.get("_links") or {}).get("next") or {}).get("href")


def _amo_shape(body: Any) -> str | None:
    leads = (body.get("_embedded") or {}).get("leads") if isinstance(body, dict) else None
    if not isinstance(leads, list) or not all(isinstance(x, dict) and "id" in x for x in leads):
        return "no _embedded.leads list of leads with ids"
    return None


# ------------------------------------------------------------------ Bitrix24
def _bitrix24(crm: Any, since: dt.datetime | None) -> Iterator[Row]:
    select = ["ID", "COMPANY_ID", "OPPORTUNITY", "CLOSEDATE", "STAGE_SEMANTIC_ID"]
    flt: dict[str, Any] = {}
    if since is not None:
        flt[">DATE_MODIFY"] = since.isoformat()
    start: int | None = 0
    pages = Pages(crm.vendor, "crm.deal.list")
    while start is not None:
        pages.next(start)
        body = crm.call("crm.deal.list", {"select": select, "filter": flt, "order": {"ID": "ASC"},
                                          "start": start}, shape=_bitrix_shape)
        for deal in body["result"]:
            company = id_text(deal.get("COMPANY_ID"))
            yield (id_text(deal.get("ID")), "" if company in ("", "0") else company,
                   _number(deal.get("OPPORTUNITY")), _day(deal.get("CLOSEDATE")),
                   int(deal.get("STAGE_SEMANTIC_ID") == "S"))
        start = body.get("next")


def _bitrix_shape(body: Any) -> str | None:
    if not isinstance(body.get("result"), list):
        return "no result list of deals"
    return None


# ------------------------------------------------------------------ HubSpot
def _hubspot(crm: Any, since: dt.datetime | None) -> Iterator[Row]:
    body = crm.http.request("GET", "crm/v3/pipelines/deals", accept=expect_json(_pipelines_shape)).json()
    won = {stage["id"] for pipeline in body["results"] for stage in pipeline.get("stages") or []
           if str((stage.get("metadata") or {}).get("isClosed")).lower() == "true"
           and _number((stage.get("metadata") or {}).get("probability")) == 1.0}
    if not won:
        raise CrmError("HubSpot: no deal pipeline has a closed-won stage (isClosed true, "
                       "probability 1.0); no deal could count as won")
    after: str | None = None
    pages = Pages(crm.vendor, "GET /crm/v3/objects/deals")
    while True:
        params: dict[str, Any] = {"limit": HUBSPOT_PAGE, "archived": "false",
                                  "properties": "amount,closedate,dealstage",
                                  "associations": "companies"}
        if after:
            params["after"] = after
        body = crm.http.request("GET", "crm/v3/objects/deals", params=params,
                                accept=expect_json(_deals_shape)).json()
        for deal in body["results"]:
            props = deal.get("properties") or {}
            links = ((deal.get("associations") or {}).get("companies") or {}).get("results") or []
            client = id_text(links[0].get("id")) if links else ""
            yield (id_text(deal.get("id")), client, _number(props.get("amount")),
                   _day(props.get("closedate")), int(props.get("dealstage") in won))
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            break
        pages.next(after)


def _pipelines_shape(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        return "no results list of pipelines"
    return None


def _deals_shape(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        return "no results list of deals"
    return None
