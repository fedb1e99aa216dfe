"""Google field masks (``fields=sheets(properties,data.rowData.values.note)``)."""

from __future__ import annotations

from typing import Any

Mask = dict[str, Any]  # name -> sub-mask, or None for "everything below"


def parse(text: str) -> Mask | None:
    """Parse a mask; None means "no mask" (everything)."""
    text = (text or "").strip()
    if not text or text == "*":
        return None
    tree: Mask = {}
    pos = _parse_list(text.replace("/", "."), 0, tree)
    if pos != len(text):
        raise ValueError(f"bad field mask: {text}")
    return tree


def _merge(tree: Mask, name: str, sub: Mask | None) -> None:
    if name in tree:
        if tree[name] is None or sub is None:
            tree[name] = None
        else:
            for k, v in sub.items():
                _merge(tree[name], k, v)
    else:
        tree[name] = sub


def _parse_list(text: str, pos: int, tree: Mask) -> int:
    while pos < len(text):
        pos = _parse_path(text, pos, tree)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        break
    return pos


def _parse_path(text: str, pos: int, tree: Mask) -> int:
    start = pos
    while pos < len(text) and text[pos] not in ",.()":
        pos += 1
    name = text[start:pos].strip()
    if pos < len(text) and text[pos] == ".":
        sub: Mask = {}
        pos = _parse_path(text, pos + 1, sub)
        _merge(tree, name, sub)
        return pos
    if pos < len(text) and text[pos] == "(":
        sub = {}
        pos = _parse_list(text, pos + 1, sub)
        if pos >= len(text) or text[pos] != ")":
            raise ValueError(f"bad field mask: {text}")
        _merge(tree, name, sub)
        return pos + 1
    _merge(tree, name, None)
    return pos


def apply(obj: Any, mask: Mask | None) -> Any:
    """Keep only masked fields. Messages present in ``obj`` stay (possibly empty)."""
    if mask is None:
        return obj
    if isinstance(obj, list):
        return [apply(x, mask) for x in obj]
    if not isinstance(obj, dict):
        return obj
    if "*" in mask:
        return {k: apply(v, mask.get(k, mask["*"])) for k, v in obj.items()}
    return {k: apply(obj[k], sub) for k, sub in mask.items() if k in obj}


def subtree(mask: Mask | None, *path: str) -> Mask | bool | None:
    """The mask below ``path``; False when the path is not selected at all."""
    node: Any = mask
    for name in path:
        if node is None:
            return None
        if "*" in node and name not in node:
            node = node["*"]
            continue
        if name not in node:
            return False
        node = node[name]
    return node


def split_update_paths(fields: str) -> list[list[str]]:
    """``"gridProperties/rowCount,title"`` -> [["gridProperties", "rowCount"], ["title"]]."""
    tree = parse(fields)
    if tree is None:
        return [["*"]]
    out: list[list[str]] = []

    def walk(node: Mask, prefix: list[str]) -> None:
        for k, v in node.items():
            if v is None:
                out.append(prefix + [k])
            else:
                walk(v, prefix + [k])

    walk(tree, [])
    return out
