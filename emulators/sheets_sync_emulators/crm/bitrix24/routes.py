"""Bitrix24 webhook URL pattern: ``/rest/{user_id}/{code}/{method}[.json]``."""

from __future__ import annotations

import re

from ..core import Route

WEBHOOK = re.compile(r"/rest/(?P<user_id>[^/]+)/(?P<code>[^/]+)/(?P<method>[\w.]+?)(?:\.json)?")

ROUTES: list[Route] = []  # dispatch is by method name; see Bitrix24App.handle_method
