"""URL patterns -> (action name, handler).

Paths are matched on the raw (still percent-encoded) path, so a range such as
``%27Sheet1%27%21A1%3AB2:append`` splits cleanly at the literal ``:append`` verb.
The action names are what faults and the request log use (``"values.batchUpdate"``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from . import handlers as h

Handler = Callable[[h.Call], h.Reply]

_ID = r"(?P<id>[^/:?]+)"
_RANGE = r"(?P<range>[^/?]+?)"

ROUTES: list[tuple[str, str, str, Handler]] = [
    ("POST", r"/token", "oauth.token", h.token),
    ("POST", r"/oauth2/v4/token", "oauth.token", h.token),
    ("POST", r"/v4/spreadsheets", "spreadsheets.create", h.spreadsheets_create),
    ("GET", rf"/v4/spreadsheets/{_ID}", "spreadsheets.get", h.spreadsheets_get),
    ("POST", rf"/v4/spreadsheets/{_ID}:batchUpdate", "spreadsheets.batchUpdate", h.spreadsheets_batch_update),
    ("GET", rf"/v4/spreadsheets/{_ID}/values:batchGet", "values.batchGet", h.values_batch_get),
    ("POST", rf"/v4/spreadsheets/{_ID}/values:batchUpdate", "values.batchUpdate", h.values_batch_update),
    ("POST", rf"/v4/spreadsheets/{_ID}/values:batchClear", "values.batchClear", h.values_batch_clear),
    ("POST", rf"/v4/spreadsheets/{_ID}/values:batchGetByDataFilter", "values.batchGetByDataFilter",
     h.values_batch_get_by_data_filter),
    ("POST", rf"/v4/spreadsheets/{_ID}/values/{_RANGE}:append", "values.append", h.values_append),
    ("POST", rf"/v4/spreadsheets/{_ID}/values/{_RANGE}:clear", "values.clear", h.values_clear),
    ("GET", rf"/v4/spreadsheets/{_ID}/values/{_RANGE}", "values.get", h.values_get),
    ("PUT", rf"/v4/spreadsheets/{_ID}/values/{_RANGE}", "values.update", h.values_update),
    ("POST", rf"/v4/spreadsheets/{_ID}/developerMetadata:search", "developerMetadata.search",
     h.developer_metadata_search),
    ("GET", rf"/v4/spreadsheets/{_ID}/developerMetadata/(?P<metadata_id>\d+)", "developerMetadata.get",
     h.developer_metadata_get),
    ("POST", r"/drive/v3/files", "drive.files.create", h.drive_create),
    ("GET", r"/drive/v3/files", "drive.files.list", h.drive_list),
    ("GET", rf"/drive/v3/files/{_ID}", "drive.files.get", h.drive_get),
    ("PATCH", rf"/drive/v3/files/{_ID}", "drive.files.update", h.drive_update),
    ("DELETE", rf"/drive/v3/files/{_ID}", "drive.files.delete", h.drive_delete),
    ("PUT", rf"/upload/drive/v2/files/{_ID}", "drive.files.upload", h.drive_upload_csv),
    ("PATCH", rf"/upload/drive/v3/files/{_ID}", "drive.files.upload", h.drive_upload_csv),
    ("POST", rf"/drive/v3/files/{_ID}/copy", "drive.files.copy", h.drive_copy),
    ("GET", rf"/drive/v3/files/{_ID}/export", "drive.files.export", h.drive_export),
    ("GET", rf"/drive/v3/files/{_ID}/comments", "drive.comments.list", h.drive_comments),
    ("POST", rf"/drive/v3/files/{_ID}/permissions", "drive.permissions.create", h.permissions_create),
    ("GET", rf"/drive/v3/files/{_ID}/permissions", "drive.permissions.list", h.permissions_list),
    ("DELETE", rf"/drive/v3/files/{_ID}/permissions/(?P<permission_id>[^/]+)", "drive.permissions.delete",
     h.permissions_delete),
]

_COMPILED = [(method, re.compile(pattern + r"/?$"), action, fn) for method, pattern, action, fn in ROUTES]

# Actions that change spreadsheet data: ``state.before_next_write`` runs before these.
WRITE_ACTIONS = {
    "spreadsheets.batchUpdate", "values.batchUpdate", "values.batchClear", "values.append",
    "values.clear", "values.update",
}


def match(method: str, raw_path: str) -> tuple[str, Handler, dict[str, str]] | None:
    """Find the handler for a request; None when no route matches (a 404)."""
    for m, regex, action, fn in _COMPILED:
        if m != method:
            continue
        found = regex.match(raw_path)
        if found:
            return action, fn, found.groupdict()
    return None


def action_for(method: str, raw_path: str) -> str:
    found = match(method, raw_path)
    return found[0] if found else "unknown"
