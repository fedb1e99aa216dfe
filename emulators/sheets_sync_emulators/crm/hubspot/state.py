"""HubSpot portal state: companies, contacts and deals, their property definitions, the deal
pipelines and the associations between records, as plain objects.

Every stored value is a string, as HubSpot keeps them::

    app.state.add_property("potential", "Potential", "enumeration", options=["high", "low"])
    acme = app.state.add_company(name="Acme", annualrevenue="125000", potential="high")
    app.state.add_contact(email="ann@acme.test", firstname="Ann", company_id=acme.id)
    app.state.add_deal(dealname="Order 1", amount="1500", closedate="2026-03-01",
                       dealstage="closedwon", company_id=acme.id)
    app.state.seed_deals(200, seed=1)   # deterministic demo deals over the companies

Timestamps (``createdate``, ``hs_lastmodifieddate``) come from :attr:`HubSpotState.wall`
(``time.time`` unless a test sets another), so a test can move "now" without sleeping.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OBJECT_TYPES = ("companies", "contacts", "deals")

DEFAULT_PROPERTIES: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    # object type: (name, label, type, fieldType)
    "companies": (
        ("name", "Company name", "string", "text"),
        ("domain", "Company Domain Name", "string", "text"),
        ("city", "City", "string", "text"),
        ("industry", "Industry", "enumeration", "select"),
        ("annualrevenue", "Annual Revenue", "number", "number"),
        ("numberofemployees", "Number of Employees", "number", "number"),
        ("createdate", "Create Date", "datetime", "date"),
        ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date"),
        ("hs_object_id", "Record ID", "number", "number"),
    ),
    "contacts": (
        ("email", "Email", "string", "text"),
        ("firstname", "First Name", "string", "text"),
        ("lastname", "Last Name", "string", "text"),
        ("phone", "Phone Number", "string", "phonenumber"),
        ("company", "Company Name", "string", "text"),
        ("createdate", "Create Date", "datetime", "date"),
        ("lastmodifieddate", "Last Modified Date", "datetime", "date"),
        ("hs_object_id", "Record ID", "number", "number"),
    ),
    "deals": (
        ("dealname", "Deal Name", "string", "text"),
        ("amount", "Amount", "number", "number"),
        ("closedate", "Close Date", "datetime", "date"),
        ("dealstage", "Deal Stage", "enumeration", "radio"),
        ("pipeline", "Pipeline", "enumeration", "select"),
        ("hs_is_closed_won", "Is Closed Won", "bool", "booleancheckbox"),
        ("hs_is_closed", "Is Deal Closed?", "bool", "booleancheckbox"),
        ("createdate", "Create Date", "datetime", "date"),
        ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date"),
        ("hs_object_id", "Record ID", "number", "number"),
    ),
}

# the property each object type stamps on every change (contacts differ from the others)
MODIFIED = {"companies": "hs_lastmodifieddate", "contacts": "lastmodifieddate",
            "deals": "hs_lastmodifieddate"}
# the first id of each object type (HubSpot's ids are unique per object type)
FIRST_ID = {"companies": 18000000000, "contacts": 51000000000, "deals": 32000000000}

# The default sales pipeline as HubSpot creates it in a new portal: (id, label, probability,
# closed). "closedwon" and "closedlost" are the closed stages; won is probability 1.0.
DEFAULT_STAGES = (
    ("appointmentscheduled", "Appointment Scheduled", "0.2", False),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", False),
    ("presentationscheduled", "Presentation Scheduled", "0.6", False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", False),
    ("contractsent", "Contract Sent", "0.9", False),
    ("closedwon", "Closed Won", "1.0", True),
    ("closedlost", "Closed Lost", "0.0", True),
)


def iso(seconds: float) -> str:
    stamp = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(time.time())


def parse_time(value: str | int | float) -> float:
    """HubSpot datetime values: epoch milliseconds, an ISO 8601 instant or a date (UTC)."""
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text) / 1000.0
    if len(text) == 10:
        text += "T00:00:00Z"
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass
class Property:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str = "companyinformation"
    options: list[dict[str, Any]] = field(default_factory=list)
    hubspot_defined: bool = False
    description: str = ""
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)

    def option_values(self) -> list[str]:
        return [o["value"] for o in self.options]


@dataclass
class Record:
    """A company, contact or deal: ``properties`` are strings (or None), ids are strings."""

    id: str
    properties: dict[str, str | None]
    created_at: str
    updated_at: str
    object_type: str = "companies"
    # to type -> ids, as an ordered set (a company can hold thousands of deals)
    associations: dict[str, dict[str, None]] = field(default_factory=dict)


Company = Record  # the name the companies-only emulator used


@dataclass
class Stage:
    id: str
    label: str
    display_order: int
    probability: str
    is_closed: bool


@dataclass
class Pipeline:
    id: str
    label: str
    display_order: int
    stages: list[Stage]

    def stage(self, stage_id: str) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)


class HubSpotState:
    portal_id = 44000000

    def __init__(self, token: str = "pat-na1-emulator-token") -> None:
        self.token = token
        self.wall: Callable[[], float] = time.time
        self.reset()

    def reset(self) -> None:
        self.objects: dict[str, dict[str, Record]] = {t: {} for t in OBJECT_TYPES}
        self.props: dict[str, dict[str, Property]] = {t: {} for t in OBJECT_TYPES}
        self._next = dict(FIRST_ID)
        groups = {"companies": "companyinformation", "contacts": "contactinformation",
                  "deals": "dealinformation"}
        for object_type, rows in DEFAULT_PROPERTIES.items():
            for name, label, kind, field_type in rows:
                self.props[object_type][name] = Property(
                    name, label, kind, field_type, groups[object_type], hubspot_defined=True)
        self.pipelines: list[Pipeline] = [Pipeline("default", "Sales Pipeline", 0, [
            Stage(sid, label, i, probability, closed)
            for i, (sid, label, probability, closed) in enumerate(DEFAULT_STAGES)])]
        self._sync_stage_options()

    # -- the companies-only names the adapter tests use ---------------------------------
    @property
    def companies(self) -> dict[str, Record]:
        return self.objects["companies"]

    @property
    def properties(self) -> dict[str, Property]:
        return self.props["companies"]

    @property
    def contacts(self) -> dict[str, Record]:
        return self.objects["contacts"]

    @property
    def deals(self) -> dict[str, Record]:
        return self.objects["deals"]

    def now(self) -> str:
        return iso(self.wall())

    # -- properties ---------------------------------------------------------------------
    def add_property(self, name: str, label: str, type: str = "string",  # noqa: A002
                     field_type: str | None = None, options: list[str] | None = None,
                     group_name: str = "companyinformation",
                     object_type: str = "companies") -> Property:
        prop = Property(name, label, type, field_type or ("select" if type == "enumeration"
                                                          else "text"), group_name)
        prop.options = [{"label": v, "value": v, "description": "", "displayOrder": i,
                         "hidden": False} for i, v in enumerate(options or [])]
        self.props[object_type][name] = prop
        return prop

    # -- records ------------------------------------------------------------------------
    def add_record(self, object_type: str, properties: dict[str, Any]) -> Record:
        self._next[object_type] += 3
        record_id = str(self._next[object_type])
        given = {k: None if v is None else str(v) for k, v in properties.items()}
        stamp = given.pop("createdate", None) or self.now()
        modified = given.pop(MODIFIED[object_type], None) or stamp
        values: dict[str, str | None] = {"createdate": stamp, MODIFIED[object_type]: modified,
                                         "hs_object_id": record_id}
        values.update(given)
        record = Record(record_id, values, stamp, modified, object_type)
        self.objects[object_type][record_id] = record
        if object_type == "deals":
            self._derive_deal(record)
        return record

    def add_company(self, **properties: Any) -> Record:
        return self.add_record("companies", properties)

    def add_contact(self, company_id: str | int | None = None, **properties: Any) -> Record:
        record = self.add_record("contacts", properties)
        if company_id is not None:
            self.associate("contacts", record.id, "companies", str(company_id))
        return record

    def add_deal(self, company_id: str | int | None = None, **properties: Any) -> Record:
        """A deal; ``closedate`` may be a date, an ISO instant or epoch ms; ``dealstage``
        defaults to ``appointmentscheduled`` and ``pipeline`` to ``default``."""
        properties.setdefault("pipeline", "default")
        properties.setdefault("dealstage", "appointmentscheduled")
        if properties.get("closedate") not in (None, ""):
            properties["closedate"] = iso(parse_time(properties["closedate"]))
        record = self.add_record("deals", properties)
        if company_id is not None:
            self.associate("deals", record.id, "companies", str(company_id))
        return record

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        for a_type, a_id, b_type, b_id in ((from_type, from_id, to_type, to_id),
                                           (to_type, to_id, from_type, from_id)):
            self.objects[a_type][str(a_id)].associations.setdefault(b_type, {})[str(b_id)] = None

    def dissociate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        for a_type, a_id, b_type, b_id in ((from_type, from_id, to_type, to_id),
                                           (to_type, to_id, from_type, from_id)):
            record = self.objects[a_type].get(str(a_id))
            if record is not None:
                record.associations.get(b_type, {}).pop(str(b_id), None)

    def set_record_value(self, object_type: str, record_id: str | int, name: str,
                         value: Any) -> None:
        record = self.objects[object_type][str(record_id)]
        record.properties[name] = None if value is None else str(value)
        if object_type == "deals" and name == "closedate" and value not in (None, ""):
            record.properties[name] = iso(parse_time(str(value)))
        record.updated_at = record.properties[MODIFIED[object_type]] = self.now()
        if object_type == "deals":
            self._derive_deal(record)

    def archive(self, object_type: str, record_id: str | int) -> bool:
        record = self.objects[object_type].pop(str(record_id), None)
        if record is None:
            return False
        for to_type, ids in record.associations.items():
            for other in list(ids):
                self.dissociate(object_type, record.id, to_type, other)
        return True

    def set_value(self, company_id: str, name: str, value: Any) -> None:
        self.set_record_value("companies", company_id, name, value)

    def value_of(self, company_id: str | int, name: str) -> str | None:
        company = self.companies.get(str(company_id))
        return None if company is None else company.properties.get(name)

    def delete_company(self, company_id: str | int) -> None:
        self.archive("companies", company_id)

    def rename_company(self, company_id: str | int, name: str) -> None:
        self.set_value(str(company_id), "name", name)

    # -- pipelines ----------------------------------------------------------------------
    def pipeline(self, pipeline_id: str) -> Pipeline | None:
        return next((p for p in self.pipelines if p.id == pipeline_id), None)

    def add_pipeline(self, pipeline_id: str, label: str,
                     stages: list[tuple[str, str, str, bool]]) -> Pipeline:
        """Stages as (id, label, probability "0.0".."1.0", closed)."""
        pipeline = Pipeline(pipeline_id, label, len(self.pipelines),
                            [Stage(*s[:2], i, s[2], s[3]) for i, s in enumerate(stages)])
        self.pipelines.append(pipeline)
        self._sync_stage_options()
        return pipeline

    def won_stages(self) -> set[str]:
        return {s.id for p in self.pipelines for s in p.stages
                if s.is_closed and float(s.probability) >= 1.0}

    def _sync_stage_options(self) -> None:
        stages = self.props["deals"]["dealstage"]
        stages.options = [{"label": s.label, "value": s.id, "description": "",
                           "displayOrder": s.display_order, "hidden": False}
                          for p in self.pipelines for s in p.stages]
        pipes = self.props["deals"]["pipeline"]
        pipes.options = [{"label": p.label, "value": p.id, "description": "",
                          "displayOrder": p.display_order, "hidden": False}
                         for p in self.pipelines]

    def _derive_deal(self, record: Record) -> None:
        """``hs_is_closed_won``/``hs_is_closed`` follow the stage, as HubSpot computes them."""
        stage_id = record.properties.get("dealstage") or ""
        stage = next((s for p in self.pipelines for s in p.stages if s.id == stage_id), None)
        closed = stage is not None and stage.is_closed
        won = closed and stage is not None and float(stage.probability) >= 1.0
        record.properties["hs_is_closed"] = "true" if closed else "false"
        record.properties["hs_is_closed_won"] = "true" if won else "false"

    # -- demo data ----------------------------------------------------------------------
    def seed_deals(self, count: int, seed: int = 1, as_of: dt.date | None = None,
                   companies: list[str] | None = None) -> list[Record]:
        """``count`` deals over the companies (all, or the given ids), deterministic for a
        ``seed`` and ``as_of`` date: see :func:`~sheets_sync_emulators.crm.deals.plan`."""
        from ..deals import plan

        ids = companies if companies is not None else sorted(self.companies, key=int)
        out = []
        for deal in plan(count, len(ids), random.Random(seed), as_of):
            stage = {"won": "closedwon", "lost": "closedlost"}.get(deal.outcome,
                                                                    "contractsent")
            stamp = iso(deal.modified)
            out.append(self.add_deal(
                company_id=ids[deal.client] if ids else None,
                dealname=f"Deal {deal.number}", amount=str(deal.amount),
                closedate=deal.closed.isoformat() if deal.closed else None,
                dealstage=stage, createdate=iso(deal.created), hs_lastmodifieddate=stamp))
        return out
