"""PHP's ways with arrays, which Bitrix24's REST answers and parameters follow.

* :func:`php_array`: PHP has one array type; ``json_encode`` writes it as a JSON list when its
  keys are exactly 0, 1, ... n-1 in order (so an empty map comes out as ``[]``), else as an
  object. Bitrix24's ``batch`` answers show both (recorded: a single command keyed ``0`` gives
  ``result`` as a list; keys ``"2","4","8","0"`` give an object).
* :func:`parse_query`: ``fields[UF_CRM_X]=45&select[]=ID`` into nested dicts and lists, as
  PHP's ``$_GET`` does; Bitrix24 batch commands are written this way.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl


def php_array(mapping: dict[str, Any]) -> Any:
    keys = list(mapping)
    if keys == [str(i) for i in range(len(keys))]:
        return list(mapping.values())
    return mapping


_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def parse_query(query: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for raw_key, value in parse_qsl(query, keep_blank_values=True):
        match = _KEY.match(raw_key)
        if match is None:
            result[raw_key] = value
            continue
        path = [match.group(1)] + re.findall(r"\[([^\[\]]*)\]", match.group(2))
        node: Any = result
        for i, part in enumerate(path):
            last = i == len(path) - 1
            if part == "":
                # "name[]" appends: we keep such arrays as dicts keyed "0", "1", ...
                part = str(len(node))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _listify(result)


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _listify(v) for k, v in node.items()}
        keys = list(node)
        if keys and keys == [str(i) for i in range(len(keys))]:
            return list(node.values())
    return node
