"""amoCRM/Kommo account state: companies and their custom fields, as plain objects.

Tests seed it directly::

    field = app.state.add_field("Revenue", "numeric", code="REVENUE")
    app.state.add_company("Acme", {"REVENUE": 125000})
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

FIELD_TYPES = {"text", "numeric", "checkbox", "select", "multiselect", "date", "url",
               "textarea", "radiobutton", "streetaddress", "smart_address", "birthday",
               "legal_entity", "date_time", "price", "category", "tracking_data", "monetary",
               "multitext"}
ENUM_TYPES = {"select", "multiselect", "radiobutton", "category", "multitext"}


@dataclass
class CustomField:
    id: int
    name: str
    type: str
    code: str | None = None
    sort: int = 500
    enums: list[dict[str, Any]] = field(default_factory=list)  # {"id", "value", "sort"}
    is_predefined: bool = False

    def enum_by_id(self, enum_id: int) -> dict[str, Any] | None:
        return next((e for e in self.enums if e["id"] == enum_id), None)

    def enum_by_value(self, value: str) -> dict[str, Any] | None:
        return next((e for e in self.enums if e["value"] == value), None)


@dataclass
class Company:
    id: int
    name: str
    values: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # field id -> values
    created_at: int = 0
    updated_at: int = 0
    responsible_user_id: int = 1000001


class AmoState:
    account_id = 31000000

    def __init__(self, token: str = "amo-test-token", subdomain: str = "example") -> None:
        self.token, self.subdomain = token, subdomain
        self.reset()

    def reset(self) -> None:
        self.timezone = "Europe/Moscow"  # the account's, as GET /api/v4/account answers it
        self.fields: dict[int, CustomField] = {}
        self.companies: dict[int, Company] = {}
        self._next_field, self._next_enum, self._next_company = 410001, 820001, 12000001
        for name, kind, code in (("Телефон", "multitext", "PHONE"),
                                 ("Email", "multitext", "EMAIL"),
                                 ("Web", "url", "WEB"), ("Адрес", "textarea", "ADDRESS")):
            cf = self.add_field(name, kind, code=code)
            cf.is_predefined = True
            if kind == "multitext":
                cf.enums = [self._enum(v, (i + 1) * 2) for i, v in
                            enumerate(("WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER"))]

    def _enum(self, value: str, sort: int) -> dict[str, Any]:
        self._next_enum += 1
        return {"id": self._next_enum, "value": value, "sort": sort}

    # -- fields -----------------------------------------------------------------------
    def add_field(self, name: str, type: str, code: str | None = None,  # noqa: A002
                  enums: list[str] | None = None, sort: int | None = None) -> CustomField:
        self._next_field += 1
        cf = CustomField(self._next_field, name, type, code,
                         sort if sort is not None else 500 + len(self.fields))
        cf.enums = [self._enum(v, (i + 1) * 10) for i, v in enumerate(enums or [])]
        self.fields[cf.id] = cf
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

    def field(self, key: int | str) -> CustomField | None:
        if isinstance(key, int) or str(key).isdigit():
            return self.fields.get(int(key))
        return next((f for f in self.fields.values()
                     if f.code == key or f.name == key), None)

    # -- companies ----------------------------------------------------------------------
    def add_company(self, name: str, values: dict[int | str, Any] | None = None) -> Company:
        self._next_company += 1
        now = int(time.time())
        company = Company(self._next_company, name, created_at=now, updated_at=now)
        for key, value in (values or {}).items():
            self.set_value(company, key, value)
        self.companies[company.id] = company
        return company

    def set_value(self, company: Company, key: int | str, value: Any) -> None:
        cf = self.field(key)
        if cf is None:
            raise KeyError(f"no custom field {key!r}")
        if value is None:
            company.values.pop(cf.id, None)
            return
        if cf.type in ("select", "radiobutton"):
            enum = cf.enum_by_value(str(value))
            if enum is None:
                raise KeyError(f"{value!r} is not an option of {cf.name!r}")
            company.values[cf.id] = [{"value": enum["value"], "enum_id": enum["id"]}]
        elif cf.type == "checkbox":
            company.values[cf.id] = [{"value": bool(value)}]
        elif cf.type in ("date", "date_time", "birthday"):
            company.values[cf.id] = [{"value": int(value)}]
        else:
            company.values[cf.id] = [{"value": str(value)}]
        company.updated_at = int(time.time())

    def value_of(self, company_id: int | str, key: int | str) -> Any:
        """The plain value (an option's text for selects) of a company's field, or None."""
        cf = self.field(key)
        company = self.companies.get(int(company_id))
        if cf is None or company is None or cf.id not in company.values:
            return None
        return company.values[cf.id][0]["value"]

    def delete_company(self, company_id: int | str) -> None:
        self.companies.pop(int(company_id), None)

    def rename_company(self, company_id: int | str, name: str) -> None:
        company = self.companies[int(company_id)]
        company.name = name
        company.updated_at = int(time.time())
