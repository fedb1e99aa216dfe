"""amoCRM URL patterns -> handlers."""

from __future__ import annotations

import re

from ..core import Route
from . import handlers as h

ROUTES: list[Route] = [
    ("GET", re.compile(r"/api/v4/companies"), h.list_companies),
    ("PATCH", re.compile(r"/api/v4/companies"), h.update_companies),
    ("GET", re.compile(r"/api/v4/companies/custom_fields"), h.list_fields),
    ("POST", re.compile(r"/api/v4/companies/custom_fields"), h.add_fields),
    ("GET", re.compile(r"/api/v4/companies/custom_fields/(?P<field_id>\d+)"), h.get_field),
    ("PATCH", re.compile(r"/api/v4/companies/custom_fields/(?P<field_id>\d+)"), h.update_field),
    ("GET", re.compile(r"/api/v4/account"), h.account),
]
