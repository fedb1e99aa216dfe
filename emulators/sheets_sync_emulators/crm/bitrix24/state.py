"""Bitrix24 portal state: companies, contacts, leads and deals with their user fields
(``UF_CRM_*``), and the deal stages and lead statuses, as plain objects.

Tests seed it directly::

    uf = app.state.add_userfield("POTENTIAL", "enumeration", label="Потенциал",
                                 items=["high", "low"])
    acme = app.state.add_company("Acme", REVENUE=125000, UF_CRM_POTENTIAL="high")
    app.state.add_contact("Анна", LAST_NAME="Петрова", COMPANY_ID=acme.id)
    app.state.add_deal("Заказ 1", COMPANY_ID=acme.id, OPPORTUNITY=1500,
                       CLOSEDATE="2026-03-01", STAGE_ID="WON")
    app.state.seed_deals(200, seed=1)   # deterministic demo deals over the companies

``DATE_CREATE``/``DATE_MODIFY`` come from :attr:`Bitrix24State.wall` (``time.time`` unless a
test sets another), written in the portal's timezone (+03:00).
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PORTAL_TZ = dt.timezone(dt.timedelta(hours=3))

# name: (type, title, read only)
STANDARD_FIELDS: dict[str, tuple[str, str, bool]] = {
    "ID": ("integer", "ID", True),
    "TITLE": ("string", "Название компании", False),
    "COMPANY_TYPE": ("crm_status", "Тип компании", False),
    "INDUSTRY": ("crm_status", "Сфера деятельности", False),
    "EMPLOYEES": ("crm_status", "Кол-во сотрудников", False),
    "CURRENCY_ID": ("crm_currency", "Валюта", False),
    "REVENUE": ("double", "Годовой оборот", False),
    "COMMENTS": ("string", "Комментарий", False),
    "ASSIGNED_BY_ID": ("user", "Ответственный", False),
    "DATE_CREATE": ("datetime", "Дата создания", True),
    "DATE_MODIFY": ("datetime", "Дата изменения", True),
    "PHONE": ("crm_multifield", "Телефон", False),
    "EMAIL": ("crm_multifield", "E-mail", False),
}

CONTACT_FIELDS: dict[str, tuple[str, str, bool]] = {
    "ID": ("integer", "ID", True),
    "NAME": ("string", "Имя", False),
    "SECOND_NAME": ("string", "Отчество", False),
    "LAST_NAME": ("string", "Фамилия", False),
    "POST": ("string", "Должность", False),
    "TYPE_ID": ("crm_status", "Тип контакта", False),
    "SOURCE_ID": ("crm_status", "Источник", False),
    "COMPANY_ID": ("crm_company", "Компания", False),
    "COMMENTS": ("string", "Комментарий", False),
    "ASSIGNED_BY_ID": ("user", "Ответственный", False),
    "DATE_CREATE": ("datetime", "Дата создания", True),
    "DATE_MODIFY": ("datetime", "Дата изменения", True),
    "PHONE": ("crm_multifield", "Телефон", False),
    "EMAIL": ("crm_multifield", "E-mail", False),
}

LEAD_FIELDS: dict[str, tuple[str, str, bool]] = {
    "ID": ("integer", "ID", True),
    "TITLE": ("string", "Название лида", False),
    "NAME": ("string", "Имя", False),
    "LAST_NAME": ("string", "Фамилия", False),
    "COMPANY_TITLE": ("string", "Название компании", False),
    "STATUS_ID": ("crm_status", "Стадия", False),
    "STATUS_SEMANTIC_ID": ("string", "Семантика статуса", True),
    "SOURCE_ID": ("crm_status", "Источник", False),
    "OPPORTUNITY": ("double", "Сумма", False),
    "CURRENCY_ID": ("crm_currency", "Валюта", False),
    "COMPANY_ID": ("crm_company", "Компания", False),
    "CONTACT_ID": ("crm_contact", "Контакт", False),
    "COMMENTS": ("string", "Комментарий", False),
    "ASSIGNED_BY_ID": ("user", "Ответственный", False),
    "DATE_CREATE": ("datetime", "Дата создания", True),
    "DATE_MODIFY": ("datetime", "Дата изменения", True),
    "DATE_CLOSED": ("datetime", "Дата закрытия", True),
    "PHONE": ("crm_multifield", "Телефон", False),
    "EMAIL": ("crm_multifield", "E-mail", False),
}

DEAL_FIELDS: dict[str, tuple[str, str, bool]] = {
    "ID": ("integer", "ID", True),
    "TITLE": ("string", "Название", False),
    "TYPE_ID": ("crm_status", "Тип", False),
    "CATEGORY_ID": ("crm_category", "Воронка", False),
    "STAGE_ID": ("crm_status", "Стадия сделки", False),
    "STAGE_SEMANTIC_ID": ("string", "Группа стадии", True),
    "IS_NEW": ("char", "Новая сделка", True),
    "PROBABILITY": ("integer", "Вероятность", False),
    "CURRENCY_ID": ("crm_currency", "Валюта", False),
    "OPPORTUNITY": ("double", "Сумма", False),
    "IS_MANUAL_OPPORTUNITY": ("char", "Сумма заполняется вручную", False),
    "COMPANY_ID": ("crm_company", "Компания", False),
    "CONTACT_ID": ("crm_contact", "Контакт", False),
    "LEAD_ID": ("crm_lead", "Лид", True),
    "BEGINDATE": ("date", "Дата начала", False),
    "CLOSEDATE": ("date", "Дата завершения", False),
    "OPENED": ("char", "Доступна для всех", False),
    "CLOSED": ("char", "Закрыта", False),
    "COMMENTS": ("string", "Комментарий", False),
    "ASSIGNED_BY_ID": ("user", "Ответственный", False),
    "DATE_CREATE": ("datetime", "Дата создания", True),
    "DATE_MODIFY": ("datetime", "Дата изменения", True),
}

ENTITY_FIELDS = {"company": STANDARD_FIELDS, "contact": CONTACT_FIELDS, "lead": LEAD_FIELDS,
                 "deal": DEAL_FIELDS}
ENTITY_TITLES = {"company": "Company", "contact": "Contact", "lead": "Lead", "deal": "Deal"}
FIRST_ID = {"company": 2900, "contact": 7100, "lead": 9300, "deal": 4500}

# Deal stages of the general pipeline (CATEGORY_ID 0) and lead statuses, as a new portal
# has them: (STATUS_ID, NAME, semantic P/S/F). Pipeline N > 0 prefixes "C{N}:".
DEAL_STAGES = (
    ("NEW", "Новая", "P"), ("PREPARATION", "Подготовка документов", "P"),
    ("PREPAYMENT_INVOICE", "Счёт на предоплату", "P"), ("EXECUTING", "В работе", "P"),
    ("FINAL_INVOICE", "Финальный счёт", "P"), ("WON", "Сделка успешна", "S"),
    ("LOSE", "Сделка провалена", "F"), ("APOLOGY", "Анализ причины провала", "F"),
)
LEAD_STATUSES = (
    ("NEW", "Не обработан", "P"), ("IN_PROCESS", "В работе", "P"),
    ("PROCESSED", "Обработан", "P"), ("JUNK", "Некачественный лид", "F"),
    ("CONVERTED", "Качественный лид", "S"),
)


@dataclass
class UserField:
    id: int
    field_name: str  # UF_CRM_...
    user_type_id: str  # string, double, integer, enumeration, boolean, date...
    label: str
    multiple: bool = False
    items: list[dict[str, str]] = field(default_factory=list)  # {"ID","SORT","VALUE","DEF","XML_ID"}
    sort: int = 100
    entity: str = "company"

    def item_by_id(self, item_id: Any) -> dict[str, str] | None:
        return next((i for i in self.items if i["ID"] == str(item_id)), None)

    def item_by_value(self, value: str) -> dict[str, str] | None:
        return next((i for i in self.items if i["VALUE"] == value), None)


@dataclass
class Item:
    """A company, contact, lead or deal: its fields as Bitrix24 holds them."""

    id: int
    fields: dict[str, Any]
    entity: str = "company"


Company = Item  # the name the companies-only emulator used


def stamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, PORTAL_TZ).replace(microsecond=0).isoformat()


def date_value(value: Any) -> str | None:
    """A ``date`` field as Bitrix24 answers it: the day's UTC midnight in the portal's zone
    (the documentation's examples show ``2024-09-09T02:00:00+02:00`` for 9 September)."""
    if value in (None, ""):
        return None
    text = str(value)
    day = dt.date.fromisoformat(text[:10]) if len(text) >= 10 and text[4] == "-" else \
        dt.datetime.strptime(text[:10], "%d.%m.%Y").date()
    return stamp(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def semantic(entity: str, status: str | None) -> str:
    table = DEAL_STAGES if entity == "deal" else LEAD_STATUSES
    bare = (status or "").split(":")[-1]
    return next((s for sid, _, s in table if sid == bare), "P")


class Bitrix24State:
    def __init__(self, user_id: int = 1, code: str = "b24webhookcode0001") -> None:
        self.user_id, self.code = user_id, code
        self.wall: Callable[[], float] = time.time
        self.reset()

    def reset(self) -> None:
        self.items: dict[str, dict[int, Item]] = {e: {} for e in ENTITY_FIELDS}
        self.ufs: dict[str, dict[str, UserField]] = {e: {} for e in ENTITY_FIELDS}
        self._next = dict(FIRST_ID)
        self._next_uf, self._next_item = 5800, 3150

    # -- the companies-only names the adapter tests use ---------------------------------
    @property
    def companies(self) -> dict[int, Item]:
        return self.items["company"]

    @property
    def contacts(self) -> dict[int, Item]:
        return self.items["contact"]

    @property
    def leads(self) -> dict[int, Item]:
        return self.items["lead"]

    @property
    def deals(self) -> dict[int, Item]:
        return self.items["deal"]

    @property
    def userfields(self) -> dict[str, UserField]:
        return self.ufs["company"]

    def now(self) -> str:
        return stamp(self.wall())

    # -- user fields --------------------------------------------------------------------
    def add_userfield(self, name: str, user_type_id: str, label: str | None = None,
                      items: list[str] | None = None, multiple: bool = False,
                      entity: str = "company") -> UserField:
        field_name = name if name.startswith("UF_CRM_") else f"UF_CRM_{name}"
        self._next_uf += 2
        uf = UserField(self._next_uf, field_name, user_type_id, label or field_name, multiple,
                       entity=entity)
        for value in items or []:
            self.add_item(uf, value)
        self.ufs[entity][field_name] = uf
        return uf

    def add_item(self, uf: UserField, value: str, sort: int | None = None) -> dict[str, str]:
        self._next_item += 2
        item = {"ID": str(self._next_item), "SORT": str(sort or (len(uf.items) + 1) * 10),
                "VALUE": value, "DEF": "N", "XML_ID": f"x{self._next_item}"}
        uf.items.append(item)
        return item

    # -- records ------------------------------------------------------------------------
    def add(self, entity: str, **values: Any) -> Item:
        self._next[entity] += 2
        now = self.now()
        base: dict[str, Any] = {"DATE_CREATE": now, "DATE_MODIFY": now, "ASSIGNED_BY_ID": "1"}
        if entity in ("company", "lead", "deal"):
            base["CURRENCY_ID"] = "RUB"
        if entity == "deal":
            base.update({"CATEGORY_ID": "0", "STAGE_ID": "NEW", "OPENED": "Y",
                         "TYPE_ID": "SALE", "IS_MANUAL_OPPORTUNITY": "N"})
        if entity == "lead":
            base["STATUS_ID"] = "NEW"
        item = Item(self._next[entity], base, entity)
        created = values.pop("DATE_CREATE", None)
        modified = values.pop("DATE_MODIFY", None)
        for key, value in values.items():
            self.set_value(item, key, value, touch=False)
        if created is not None:
            item.fields["DATE_CREATE"] = created
            item.fields["DATE_MODIFY"] = created
        if modified is not None:
            item.fields["DATE_MODIFY"] = modified
        self.derive(item)
        self.items[entity][item.id] = item
        return item

    def add_company(self, title: str, **values: Any) -> Item:
        return self.add("company", TITLE=title, **values)

    def add_contact(self, name: str, **values: Any) -> Item:
        return self.add("contact", NAME=name, **values)

    def add_lead(self, title: str, **values: Any) -> Item:
        return self.add("lead", TITLE=title, **values)

    def add_deal(self, title: str, **values: Any) -> Item:
        """A deal; ``CLOSEDATE``/``BEGINDATE`` as ``YYYY-MM-DD`` (or ISO), ``STAGE_ID`` as
        ``WON``, ``LOSE``... (``C1:WON`` in pipeline 1); ``STAGE_SEMANTIC_ID`` and ``CLOSED``
        follow the stage."""
        return self.add("deal", TITLE=title, **values)

    def set_value(self, item: Item, key: str, value: Any, touch: bool = True) -> None:
        uf = self.ufs[item.entity].get(key)
        if uf is not None and uf.user_type_id == "enumeration" and value is not None:
            found = uf.item_by_value(str(value)) or uf.item_by_id(value)
            if found is None:
                raise KeyError(f"{value!r} is not an item of {key}")
            value = found["ID"]
        kind = ENTITY_FIELDS[item.entity].get(key, ("", "", False))[0]
        if kind == "date":
            value = date_value(value)
        item.fields[key] = value
        if touch:
            self.touch(item)

    def touch(self, item: Item) -> None:
        """A change: ``DATE_MODIFY`` moves to now and the computed fields follow."""
        item.fields["DATE_MODIFY"] = self.now()
        self.derive(item)

    def derive(self, item: Item) -> None:
        """The fields Bitrix24 computes: a deal's stage group and CLOSED, a lead's group."""
        if item.entity == "deal":
            category = str(item.fields.get("CATEGORY_ID") or "0")
            stage = str(item.fields.get("STAGE_ID") or "NEW")
            if category != "0" and ":" not in stage:
                stage = f"C{category}:{stage}"
            elif ":" in stage:
                item.fields["CATEGORY_ID"] = stage.split(":")[0].lstrip("C") or "0"
            item.fields["STAGE_ID"] = stage
            group = semantic("deal", stage)
            item.fields["STAGE_SEMANTIC_ID"] = group
            item.fields["CLOSED"] = "N" if group == "P" else "Y"
        elif item.entity == "lead":
            item.fields["STATUS_SEMANTIC_ID"] = semantic("lead", item.fields.get("STATUS_ID"))

    def remove(self, entity: str, item_id: int | str) -> bool:
        return self.items[entity].pop(int(item_id), None) is not None

    def value_of(self, company_id: int | str, key: str, entity: str = "company") -> Any:
        """A record's value; enumeration items come back as their VALUE text."""
        item = self.items[entity].get(int(company_id))
        if item is None:
            return None
        value = item.fields.get(key)
        uf = self.ufs[entity].get(key)
        if uf is not None and uf.user_type_id == "enumeration" and value is not None:
            found = uf.item_by_id(value)
            return found["VALUE"] if found else None
        return value

    def delete_company(self, company_id: int | str) -> None:
        self.remove("company", company_id)

    def rename_company(self, company_id: int | str, title: str) -> None:
        self.set_value(self.companies[int(company_id)], "TITLE", title)

    # -- demo data ----------------------------------------------------------------------
    def seed_deals(self, count: int, seed: int = 1, as_of: dt.date | None = None,
                   companies: list[int] | None = None) -> list[Item]:
        """``count`` deals over the companies (all, or the given ids), deterministic for a
        ``seed`` and ``as_of`` date: see :func:`~sheets_sync_emulators.crm.deals.plan`."""
        from ..deals import plan

        ids = companies if companies is not None else sorted(self.companies)
        out = []
        for deal in plan(count, len(ids), random.Random(seed), as_of):
            stage = {"won": "WON", "lost": "LOSE"}.get(deal.outcome, "EXECUTING")
            out.append(self.add_deal(
                f"Сделка {deal.number}", COMPANY_ID=str(ids[deal.client]) if ids else None,
                OPPORTUNITY=f"{deal.amount:.2f}", STAGE_ID=stage,
                BEGINDATE=stamp(deal.created)[:10],
                CLOSEDATE=deal.closed.isoformat() if deal.closed else None,
                DATE_CREATE=stamp(deal.created), DATE_MODIFY=stamp(deal.modified)))
        return out
