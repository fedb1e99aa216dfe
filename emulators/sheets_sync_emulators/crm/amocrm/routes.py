"""amoCRM URL patterns -> handlers (companies, contacts and leads share them)."""

from __future__ import annotations

import re

from ..core import Route
from . import handlers as h

ENT = r"(?P<entity_type>companies|contacts|leads)"

ROUTES: list[Route] = [
    ("GET", re.compile(r"/api/v4/leads/pipelines"), h.list_pipelines),
    ("GET", re.compile(r"/api/v4/leads/pipelines/(?P<pipeline_id>\d+)"), h.get_pipeline),
    ("GET", re.compile(r"/api/v4/leads/pipelines/(?P<pipeline_id>\d+)/statuses"),
     h.list_statuses),
    ("GET", re.compile(rf"/api/v4/{ENT}"), h.list_entities),
    ("POST", re.compile(rf"/api/v4/{ENT}"), h.add_entities),
    ("PATCH", re.compile(rf"/api/v4/{ENT}"), h.update_entities),
    ("GET", re.compile(rf"/api/v4/{ENT}/custom_fields"), h.list_fields),
    ("POST", re.compile(rf"/api/v4/{ENT}/custom_fields"), h.add_fields),
    ("GET", re.compile(rf"/api/v4/{ENT}/custom_fields/(?P<field_id>\d+)"), h.get_field),
    ("PATCH", re.compile(rf"/api/v4/{ENT}/custom_fields/(?P<field_id>\d+)"), h.update_field),
    ("GET", re.compile(rf"/api/v4/{ENT}/(?P<entity_id>\d+)"), h.get_entity),
    ("PATCH", re.compile(rf"/api/v4/{ENT}/(?P<entity_id>\d+)"), h.update_entity),
    ("GET", re.compile(r"/api/v4/account"), h.account),
]
