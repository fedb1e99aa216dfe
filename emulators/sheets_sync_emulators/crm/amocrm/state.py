"""amoCRM/Kommo account state: companies, contacts and leads (сделки), their custom fields, and
the lead pipelines, as plain objects.

Tests seed it directly::

    field = app.state.add_field("Revenue", "numeric", code="REVENUE")
    acme = app.state.add_company("Acme", {"REVENUE": 125000})
    app.state.add_contact("Анна Петрова", company_id=acme.id)
    app.state.add_lead("Заказ 1", price=1500, status_id=142, closed_at=1767225600,
                       company_id=acme.id)
    app.state.seed_deals(200, seed=1)   # deterministic demo leads over the companies

``created_at``/``updated_at`` are unix seconds from :attr:`AmoState.wall` (``time.time``
unless a test sets another).
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FIELD_TYPES = {"text", "numeric", "checkbox", "select", "multiselect", "date", "url",
               "textarea", "radiobutton", "streetaddress", "smart_address", "birthday",
               "legal_entity", "date_time", "price", "category", "tracking_data", "monetary",
               "multitext"}
ENUM_TYPES = {"select", "multiselect", "radiobutton", "category", "multitext"}
ENTITY_TYPES = ("companies", "contacts", "leads")

WON, LOST = 142, 143  # amoCRM's fixed ids of the closed statuses, in every pipeline


@dataclass
class CustomField:
    id: int
    name: str
    type: str
    code: str | None = None
    sort: int = 500
    enums: list[dict[str, Any]] = field(default_factory=list)  # {"id", "value", "sort"}
    is_predefined: bool = False
    entity_type: str = "companies"

    def enum_by_id(self, enum_id: int) -> dict[str, Any] | None:
        return next((e for e in self.enums if e["id"] == enum_id), None)

    def enum_by_value(self, value: str) -> dict[str, Any] | None:
        return next((e for e in self.enums if e["value"] == value), None)


@dataclass
class Entity:
    """A company, contact or lead. ``extra`` holds the entity's own fields: a lead's
    ``price``, ``status_id``, ``pipeline_id``, ``closed_at``, ``loss_reason_id``; a contact's
    ``first_name``, ``last_name``. Links: ``company_id`` (a lead's or contact's company) and
    ``contact_ids`` (a lead's contacts)."""

    id: int
    name: str
    values: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # field id -> values
    created_at: int = 0
    updated_at: int = 0
    responsible_user_id: int = 1000001
    entity_type: str = "companies"
    extra: dict[str, Any] = field(default_factory=dict)
    company_id: int | None = None
    contact_ids: list[int] = field(default_factory=list)


Company = Entity  # the name the companies-only emulator used


@dataclass
class Status:
    id: int
    name: str
    sort: int
    color: str
    type: int = 0  # 1: the "unsorted" status


@dataclass
class Pipeline:
    id: int
    name: str
    sort: int
    is_main: bool
    statuses: list[Status]


class AmoState:
    account_id = 31000000

    def __init__(self, token: str = "amo-test-token", subdomain: str = "example") -> None:
        self.token, self.subdomain = token, subdomain
        self.wall: Callable[[], float] = time.time
        self.reset()

    def reset(self) -> None:
        self.timezone = "Europe/Moscow"  # the account's, as GET /api/v4/account answers it
        self.custom_fields: dict[str, dict[int, CustomField]] = {e: {} for e in ENTITY_TYPES}
        self.entities: dict[str, dict[int, Entity]] = {e: {} for e in ENTITY_TYPES}
        self._next_field, self._next_enum = 410001, 820001
        self._next = {"companies": 12000001, "contacts": 15000001, "leads": 21000001}
        for entity_type in ("companies", "contacts"):
            for name, kind, code in (("Телефон", "multitext", "PHONE"),
                                     ("Email", "multitext", "EMAIL"),
                                     ("Web", "url", "WEB"), ("Адрес", "textarea", "ADDRESS")):
                if entity_type == "contacts" and code in ("WEB", "ADDRESS"):
                    continue
                cf = self.add_field(name, kind, code=code, entity_type=entity_type)
                cf.is_predefined = True
                if kind == "multitext":
                    cf.enums = [self._enum(v, (i + 1) * 2) for i, v in
                                enumerate(("WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER"))]
        self.pipelines: dict[int, Pipeline] = {}
        self.add_pipeline("Воронка", ["Первичный контакт", "Переговоры", "Принимают решение",
                                      "Согласование договора"], is_main=True)

    def now(self) -> int:
        return int(self.wall())

    # -- the companies-only names the adapter tests use ---------------------------------
    @property
    def companies(self) -> dict[int, Entity]:
        return self.entities["companies"]

    @property
    def contacts(self) -> dict[int, Entity]:
        return self.entities["contacts"]

    @property
    def leads(self) -> dict[int, Entity]:
        return self.entities["leads"]

    @property
    def fields(self) -> dict[int, CustomField]:
        return self.custom_fields["companies"]

    def _enum(self, value: str, sort: int) -> dict[str, Any]:
        self._next_enum += 1
        return {"id": self._next_enum, "value": value, "sort": sort}

    # -- fields -------------------------------------------------------------------------
    def add_field(self, name: str, type: str, code: str | None = None,  # noqa: A002
                  enums: list[str] | None = None, sort: int | None = None,
                  entity_type: str = "companies") -> CustomField:
        self._next_field += 1
        table = self.custom_fields[entity_type]
        cf = CustomField(self._next_field, name, type, code,
                         sort if sort is not None else 500 + len(table),
                         entity_type=entity_type)
        cf.enums = [self._enum(v, (i + 1) * 10) for i, v in enumerate(enums or [])]
        table[cf.id] = cf
        return cf

    def set_enums(self, cf: CustomField, enums: list[dict[str, Any]]) -> None:
        """Replace the option list: entries with an ``id`` keep it, the others are new."""
        result = []
        for i, item in enumerate(enums):
            sort = int(item.get("sort", (i + 1) * 10))
            if item.get("id") is not None:
                old = cf.enum_by_id(int(item["id"]))
                if old is None:
                    continue
                result.append({"id": old["id"], "value": str(item.get("value", old["value"])),
                               "sort": sort})
            else:
                result.append(self._enum(str(item["value"]), sort))
        cf.enums = result

    def field(self, key: int | str, entity_type: str = "companies") -> CustomField | None:
        table = self.custom_fields[entity_type]
        if isinstance(key, int) or str(key).isdigit():
            return table.get(int(key))
        return next((f for f in table.values() if f.code == key or f.name == key), None)

    # -- entities -----------------------------------------------------------------------
    def add(self, entity_type: str, name: str, values: dict[int | str, Any] | None = None,
            created_at: int | None = None, updated_at: int | None = None,
            company_id: int | None = None, **extra: Any) -> Entity:
        self._next[entity_type] += 1
        now = self.now()
        created = int(created_at) if created_at is not None else now
        entity = Entity(self._next[entity_type], name, created_at=created,
                        updated_at=int(updated_at) if updated_at is not None else created,
                        entity_type=entity_type, extra=extra,
                        company_id=int(company_id) if company_id else None)
        for key, value in (values or {}).items():
            self.set_value(entity, key, value, touch=False)
        self.entities[entity_type][entity.id] = entity
        return entity

    def add_company(self, name: str, values: dict[int | str, Any] | None = None) -> Entity:
        return self.add("companies", name, values)

    def add_contact(self, name: str, values: dict[int | str, Any] | None = None,
                    company_id: int | None = None, first_name: str = "",
                    last_name: str = "") -> Entity:
        first, _, last = name.partition(" ")
        return self.add("contacts", name, values, company_id=company_id,
                        first_name=first_name or first, last_name=last_name or last)

    def add_lead(self, name: str, price: int = 0, status_id: int | None = None,
                 pipeline_id: int | None = None, closed_at: int | None = None,
                 company_id: int | None = None, values: dict[int | str, Any] | None = None,
                 created_at: int | None = None, updated_at: int | None = None,
                 loss_reason_id: int | None = None) -> Entity:
        """A lead (сделка). ``status_id`` 142 is won, 143 lost (amoCRM's fixed ids); without
        one, the pipeline's first status. ``closed_at`` (unix seconds) is set to the update
        time when a lead is closed without one, as amoCRM does."""
        pipeline = self.pipelines[pipeline_id] if pipeline_id else self.main_pipeline()
        status = status_id if status_id is not None else pipeline.statuses[1].id
        lead = self.add("leads", name, values, created_at=created_at, updated_at=updated_at,
                        company_id=company_id, price=int(price), status_id=int(status),
                        pipeline_id=pipeline.id, closed_at=closed_at,
                        loss_reason_id=loss_reason_id)
        if status in (WON, LOST) and closed_at is None:
            lead.extra["closed_at"] = lead.updated_at
        return lead

    def set_value(self, entity: Entity, key: int | str, value: Any, touch: bool = True) -> None:
        cf = self.field(key, entity.entity_type)
        if cf is None:
            raise KeyError(f"no custom field {key!r}")
        if value is None:
            entity.values.pop(cf.id, None)
        elif cf.type in ("select", "radiobutton"):
            enum = cf.enum_by_value(str(value))
            if enum is None:
                raise KeyError(f"{value!r} is not an option of {cf.name!r}")
            entity.values[cf.id] = [{"value": enum["value"], "enum_id": enum["id"]}]
        elif cf.type == "checkbox":
            entity.values[cf.id] = [{"value": bool(value)}]
        elif cf.type in ("date", "date_time", "birthday"):
            entity.values[cf.id] = [{"value": int(value)}]
        else:
            entity.values[cf.id] = [{"value": str(value)}]
        if touch:
            entity.updated_at = self.now()

    def touch(self, entity: Entity) -> None:
        entity.updated_at = self.now()

    def value_of(self, company_id: int | str, key: int | str,
                 entity_type: str = "companies") -> Any:
        """The plain value (an option's text for selects) of a record's field, or None."""
        cf = self.field(key, entity_type)
        entity = self.entities[entity_type].get(int(company_id))
        if cf is None or entity is None or cf.id not in entity.values:
            return None
        return entity.values[cf.id][0]["value"]

    def delete_company(self, company_id: int | str) -> None:
        self.companies.pop(int(company_id), None)

    def rename_company(self, company_id: int | str, name: str) -> None:
        company = self.companies[int(company_id)]
        company.name = name
        company.updated_at = self.now()

    # -- pipelines ----------------------------------------------------------------------
    def add_pipeline(self, name: str, statuses: list[str], is_main: bool = False) -> Pipeline:
        """A pipeline with "Неразобранное" first, the given statuses, then 142 and 143."""
        pipeline_id = 7000000 + 100 * (len(self.pipelines) + 1)
        rows = [Status(pipeline_id + 1, "Неразобранное", 10, "#c1c1c1", type=1)]
        rows += [Status(pipeline_id + 2 + i, label, 20 + 10 * i, "#99ccff")
                 for i, label in enumerate(statuses)]
        rows += [Status(WON, "Успешно реализовано", 10000, "#CCFF66"),
                 Status(LOST, "Закрыто и не реализовано", 11000, "#D5D8DB")]
        pipeline = Pipeline(pipeline_id, name, len(self.pipelines) + 1, is_main, rows)
        self.pipelines[pipeline_id] = pipeline
        return pipeline

    def main_pipeline(self) -> Pipeline:
        return next(p for p in self.pipelines.values() if p.is_main)

    # -- demo data ----------------------------------------------------------------------
    def seed_deals(self, count: int, seed: int = 1, as_of: dt.date | None = None,
                   companies: list[int] | None = None) -> list[Entity]:
        """``count`` leads over the companies (all, or the given ids), deterministic for a
        ``seed`` and ``as_of`` date: see :func:`~sheets_sync_emulators.crm.deals.plan`."""
        from ..deals import epoch, plan

        ids = companies if companies is not None else sorted(self.companies)
        pipeline = self.main_pipeline()
        out = []
        for deal in plan(count, len(ids), random.Random(seed), as_of):
            status = {"won": WON, "lost": LOST}.get(deal.outcome, pipeline.statuses[2].id)
            closed = int(min(epoch(deal.closed, 12), deal.modified)) \
                if deal.closed and deal.outcome != "open" else None
            out.append(self.add_lead(
                f"Сделка {deal.number}", price=deal.amount, status_id=status,
                closed_at=closed, company_id=ids[deal.client] if ids else None,
                created_at=int(deal.created), updated_at=int(deal.modified)))
        return out
