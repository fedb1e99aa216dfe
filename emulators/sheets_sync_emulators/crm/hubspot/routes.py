"""HubSpot URL patterns -> handlers (companies, contacts and deals share them)."""

from __future__ import annotations

import re

from ..core import Route
from . import handlers as h

OBJ = r"(?P<object_type>companies|contacts|deals)"
TO = r"(?P<to_type>companies|contacts|deals)"
ID = r"(?P<record_id>[^/]+)"


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


ROUTES: list[Route] = [
    ("GET", _re(rf"/crm/v3/objects/{OBJ}"), h.list_records),
    ("POST", _re(rf"/crm/v3/objects/{OBJ}"), h.create_record),
    ("POST", _re(rf"/crm/v3/objects/{OBJ}/batch/update"), h.batch_update),
    ("POST", _re(rf"/crm/v3/objects/{OBJ}/batch/read"), h.batch_read),
    ("POST", _re(rf"/crm/v3/objects/{OBJ}/batch/create"), h.batch_create),
    ("POST", _re(rf"/crm/v3/objects/{OBJ}/batch/archive"), h.batch_archive),
    ("POST", _re(rf"/crm/v3/objects/{OBJ}/search"), h.search),
    ("GET", _re(rf"/crm/v3/objects/{OBJ}/{ID}/associations/{TO}"), h.list_associations_v3),
    ("GET", _re(rf"/crm/v3/objects/{OBJ}/{ID}"), h.get_record),
    ("PATCH", _re(rf"/crm/v3/objects/{OBJ}/{ID}"), h.update_record),
    ("DELETE", _re(rf"/crm/v3/objects/{OBJ}/{ID}"), h.archive_record),
    ("GET", _re(rf"/crm/v4/objects/{OBJ}/{ID}/associations/{TO}"), h.list_associations_v4),
    ("PUT", _re(rf"/crm/v4/objects/{OBJ}/{ID}/associations/default/{TO}/(?P<to_id>[^/]+)"),
     h.associate_default),
    ("DELETE", _re(rf"/crm/v4/objects/{OBJ}/{ID}/associations/{TO}/(?P<to_id>[^/]+)"),
     h.remove_associations),
    ("GET", _re(rf"/crm/v3/properties/{OBJ}"), h.list_properties),
    ("POST", _re(rf"/crm/v3/properties/{OBJ}"), h.create_property),
    ("GET", _re(rf"/crm/v3/properties/{OBJ}/(?P<name>[^/]+)"), h.get_property),
    ("PATCH", _re(rf"/crm/v3/properties/{OBJ}/(?P<name>[^/]+)"), h.update_property),
    ("GET", _re(r"/crm/v3/pipelines/deals"), h.list_pipelines),
    ("GET", _re(r"/crm/v3/pipelines/deals/(?P<pipeline_id>[^/]+)"), h.get_pipeline),
    ("GET", _re(r"/crm/v3/pipelines/deals/(?P<pipeline_id>[^/]+)/stages"), h.list_stages),
]
