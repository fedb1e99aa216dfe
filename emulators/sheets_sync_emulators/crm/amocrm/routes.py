"""amoCRM URL patterns -> handlers (companies, contacts and leads share them).

Each entity gets its own literal routes (``GET /api/v4/leads``), so the action names faults
match on and the log shows name the entity.
"""

from __future__ import annotations

import re
from functools import partial

from ..core import Route
from . import handlers as h
from .state import ENTITY_TYPES


def _entity_routes(entity: str) -> list[Route]:
    def route(method: str, pattern: str, handler: object) -> Route:
        return (method, re.compile(pattern), partial(handler, entity_type=entity))  # type: ignore[call-overload]
    base = f"/api/v4/{entity}"
    return [
        route("GET", base, h.list_entities),
        route("POST", base, h.add_entities),
        route("PATCH", base, h.update_entities),
        route("GET", f"{base}/custom_fields", h.list_fields),
        route("POST", f"{base}/custom_fields", h.add_fields),
        route("GET", rf"{base}/custom_fields/(?P<field_id>\d+)", h.get_field),
        route("PATCH", rf"{base}/custom_fields/(?P<field_id>\d+)", h.update_field),
        route("GET", rf"{base}/(?P<entity_id>\d+)", h.get_entity),
        route("PATCH", rf"{base}/(?P<entity_id>\d+)", h.update_entity),
    ]


ROUTES: list[Route] = [
    ("GET", re.compile(r"/api/v4/leads/pipelines"), h.list_pipelines),
    ("GET", re.compile(r"/api/v4/leads/pipelines/(?P<pipeline_id>\d+)"), h.get_pipeline),
    ("GET", re.compile(r"/api/v4/leads/pipelines/(?P<pipeline_id>\d+)/statuses"),
     h.list_statuses),
    *[route for entity in ENTITY_TYPES for route in _entity_routes(entity)],
    ("GET", re.compile(r"/api/v4/account"), h.account),
]
