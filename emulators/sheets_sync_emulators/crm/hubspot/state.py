"""HubSpot portal state: company records and company property definitions, as plain objects.

Every stored value is a string, as HubSpot keeps them::

    app.state.add_property("potential", "Potential", "enumeration", options=["high", "low"])
    app.state.add_company(name="Acme", annualrevenue="125000", potential="high")
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PROPERTIES = (
    # name, label, type, fieldType
    ("name", "Company name", "string", "text"),
    ("domain", "Company Domain Name", "string", "text"),
    ("city", "City", "string", "text"),
    ("industry", "Industry", "enumeration", "select"),
    ("annualrevenue", "Annual Revenue", "number", "number"),
    ("numberofemployees", "Number of Employees", "number", "number"),
    ("createdate", "Create Date", "datetime", "date"),
    ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date"),
    ("hs_object_id", "Record ID", "number", "number"),
)


def now_iso() -> str:
    stamp = dt.datetime.now(dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


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
class Company:
    id: str
    properties: dict[str, str | None]
    created_at: str
    updated_at: str


class HubSpotState:
    portal_id = 44000000

    def __init__(self, token: str = "pat-na1-emulator-token") -> None:
        self.token = token
        self.reset()

    def reset(self) -> None:
        self.properties: dict[str, Property] = {}
        self.companies: dict[str, Company] = {}
        self._next_id = 18000000000
        for name, label, kind, field_type in DEFAULT_PROPERTIES:
            self.properties[name] = Property(name, label, kind, field_type, hubspot_defined=True)

    def add_property(self, name: str, label: str, type: str = "string",  # noqa: A002
                     field_type: str | None = None, options: list[str] | None = None,
                     group_name: str = "companyinformation") -> Property:
        prop = Property(name, label, type, field_type or ("select" if type == "enumeration"
                                                          else "text"), group_name)
        prop.options = [{"label": v, "value": v, "description": "", "displayOrder": i,
                         "hidden": False} for i, v in enumerate(options or [])]
        self.properties[name] = prop
        return prop

    def add_company(self, **properties: Any) -> Company:
        self._next_id += 3
        stamp = now_iso()
        company_id = str(self._next_id)
        values: dict[str, str | None] = {"createdate": stamp, "hs_lastmodifieddate": stamp,
                                         "hs_object_id": company_id}
        values.update({k: None if v is None else str(v) for k, v in properties.items()})
        company = Company(company_id, values, stamp, stamp)
        self.companies[company_id] = company
        return company

    def set_value(self, company_id: str, name: str, value: Any) -> None:
        company = self.companies[str(company_id)]
        company.properties[name] = None if value is None else str(value)
        company.updated_at = company.properties["hs_lastmodifieddate"] = now_iso()

    def value_of(self, company_id: str | int, name: str) -> str | None:
        company = self.companies.get(str(company_id))
        return None if company is None else company.properties.get(name)

    def delete_company(self, company_id: str | int) -> None:
        self.companies.pop(str(company_id), None)

    def rename_company(self, company_id: str | int, name: str) -> None:
        self.set_value(str(company_id), "name", name)
