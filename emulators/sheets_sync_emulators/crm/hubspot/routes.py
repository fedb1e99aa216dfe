"""HubSpot URL patterns -> handlers (companies, contacts and deals share them).

Each object type gets its own literal routes (``GET /crm/v3/objects/deals``), so the action
names faults match on and the log shows name the object type.
"""

from __future__ import annotations

import re
from functools import partial

from ..core import Route
from . import handlers as h
from .state import OBJECT_TYPES

ID = r"(?P<record_id>[^/]+)"


def _object_routes(obj: str) -> list[Route]:
    def route(method: str, pattern: str, handler: object) -> Route:
        return (method, re.compile(pattern), partial(handler, object_type=obj))  # type: ignore[call-overload]
    base = f"/crm/v3/objects/{obj}"
    out = [
        route("GET", base, h.list_records),
        route("POST", base, h.create_record),
        route("POST", f"{base}/batch/update", h.batch_update),
        route("POST", f"{base}/batch/read", h.batch_read),
        route("POST", f"{base}/batch/create", h.batch_create),
        route("POST", f"{base}/batch/archive", h.batch_archive),
        route("POST", f"{base}/search", h.search),
    ]
    for to in OBJECT_TYPES:
        out += [
            route("GET", rf"{base}/{ID}/associations/{to}",
                  partial(h.list_associations_v3, to_type=to)),
            route("GET", rf"/crm/v4/objects/{obj}/{ID}/associations/{to}",
                  partial(h.list_associations_v4, to_type=to)),
            route("PUT", rf"/crm/v4/objects/{obj}/{ID}/associations/default/{to}/(?P<to_id>[^/]+)",
                  partial(h.associate_default, to_type=to)),
            route("DELETE", rf"/crm/v4/objects/{obj}/{ID}/associations/{to}/(?P<to_id>[^/]+)",
                  partial(h.remove_associations, to_type=to)),
        ]
    out += [
        route("GET", rf"{base}/{ID}", h.get_record),
        route("PATCH", rf"{base}/{ID}", h.update_record),
        route("DELETE", rf"{base}/{ID}", h.archive_record),
        route("GET", f"/crm/v3/properties/{obj}", h.list_properties),
        route("POST", f"/crm/v3/properties/{obj}", h.create_property),
        route("GET", rf"/crm/v3/properties/{obj}/(?P<name>[^/]+)", h.get_property),
        route("PATCH", rf"/crm/v3/properties/{obj}/(?P<name>[^/]+)", h.update_property),
    ]
    return out


ROUTES: list[Route] = [route for obj in OBJECT_TYPES for route in _object_routes(obj)] + [
    ("GET", re.compile(r"/crm/v3/pipelines/deals"), h.list_pipelines),
    ("GET", re.compile(r"/crm/v3/pipelines/deals/(?P<pipeline_id>[^/]+)"), h.get_pipeline),
    ("GET", re.compile(r"/crm/v3/pipelines/deals/(?P<pipeline_id>[^/]+)/stages"), h.list_stages),
]
