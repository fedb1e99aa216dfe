"""Bitrix24 portal state: companies and company user fields (``UF_CRM_*``), as plain objects.

Tests seed it directly::

    uf = app.state.add_userfield("POTENTIAL", "enumeration", label="Потенциал",
                                 items=["high", "low"])
    app.state.add_company("Acme", REVENUE=125000, UF_CRM_POTENTIAL="high")
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

STANDARD_FIELDS: dict[str, tuple[str, str, bool]] = {
    # name: (type, title, read only)
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


@dataclass
class UserField:
    id: int
    field_name: str  # UF_CRM_...
    user_type_id: str  # string, double, integer, enumeration, boolean, date...
    label: str
    multiple: bool = False
    items: list[dict[str, str]] = field(default_factory=list)  # {"ID","SORT","VALUE","DEF","XML_ID"}
    sort: int = 100

    def item_by_id(self, item_id: Any) -> dict[str, str] | None:
        return next((i for i in self.items if i["ID"] == str(item_id)), None)

    def item_by_value(self, value: str) -> dict[str, str] | None:
        return next((i for i in self.items if i["VALUE"] == value), None)


@dataclass
class Company:
    id: int
    fields: dict[str, Any]


def _now() -> str:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=3))).replace(microsecond=0).isoformat()


class Bitrix24State:
    def __init__(self, user_id: int = 1, code: str = "b24webhookcode0001") -> None:
        self.user_id, self.code = user_id, code
        self.reset()

    def reset(self) -> None:
        self.companies: dict[int, Company] = {}
        self.userfields: dict[str, UserField] = {}
        self._next_company, self._next_uf, self._next_item = 2900, 5800, 3150

    def add_userfield(self, name: str, user_type_id: str, label: str | None = None,
                      items: list[str] | None = None, multiple: bool = False) -> UserField:
        field_name = name if name.startswith("UF_CRM_") else f"UF_CRM_{name}"
        self._next_uf += 2
        uf = UserField(self._next_uf, field_name, user_type_id, label or field_name, multiple)
        for value in items or []:
            self.add_item(uf, value)
        self.userfields[field_name] = uf
        return uf

    def add_item(self, uf: UserField, value: str, sort: int | None = None) -> dict[str, str]:
        self._next_item += 2
        item = {"ID": str(self._next_item), "SORT": str(sort or (len(uf.items) + 1) * 10),
                "VALUE": value, "DEF": "N", "XML_ID": f"x{self._next_item}"}
        uf.items.append(item)
        return item

    def add_company(self, title: str, **values: Any) -> Company:
        self._next_company += 2
        now = _now()
        company = Company(self._next_company, {"TITLE": title, "DATE_CREATE": now,
                                               "DATE_MODIFY": now, "ASSIGNED_BY_ID": "1",
                                               "CURRENCY_ID": "RUB"})
        for key, value in values.items():
            self.set_value(company, key, value)
        self.companies[company.id] = company
        return company

    def set_value(self, company: Company, key: str, value: Any) -> None:
        uf = self.userfields.get(key)
        if uf is not None and uf.user_type_id == "enumeration" and value is not None:
            item = uf.item_by_value(str(value)) or uf.item_by_id(value)
            if item is None:
                raise KeyError(f"{value!r} is not an item of {key}")
            value = item["ID"]
        company.fields[key] = value
        company.fields["DATE_MODIFY"] = _now()

    def value_of(self, company_id: int | str, key: str) -> Any:
        """A company's value; enumeration items come back as their VALUE text."""
        company = self.companies.get(int(company_id))
        if company is None:
            return None
        value = company.fields.get(key)
        uf = self.userfields.get(key)
        if uf is not None and uf.user_type_id == "enumeration" and value is not None:
            item = uf.item_by_id(value)
            return item["VALUE"] if item else None
        return value

    def delete_company(self, company_id: int | str) -> None:
        self.companies.pop(int(company_id), None)

    def rename_company(self, company_id: int | str, title: str) -> None:
        self.set_value(self.companies[int(company_id)], "TITLE", title)
