"""HubSpot URL patterns -> handlers."""

from __future__ import annotations

import re

from ..core import Route
from . import handlers as h

ROUTES: list[Route] = [
    ("GET", re.compile(r"/crm/v3/objects/companies"), h.list_companies),
    ("POST", re.compile(r"/crm/v3/objects/companies/batch/update"), h.batch_update),
    ("GET", re.compile(r"/crm/v3/properties/companies"), h.list_properties),
    ("POST", re.compile(r"/crm/v3/properties/companies"), h.create_property),
    ("GET", re.compile(r"/crm/v3/properties/companies/(?P<name>[^/]+)"), h.get_property),
    ("PATCH", re.compile(r"/crm/v3/properties/companies/(?P<name>[^/]+)"), h.update_property),
]
