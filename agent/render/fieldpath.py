"""Dotted field paths as replacements and vars write them:
`spec.template.spec.containers.[name=app].image`, `spec.ports.0.port`,
`spec.containers[0].image`, `metadata.annotations.[example.com/x]`, `*`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from agent.errors import RenderError

_INDEXED = re.compile(r"^([^\[]+)\[(\d+)\]$")


def split_outside(text: str, sep: str, opening: str, closing: str) -> list[str]:
    """Split `text` on `sep` where it stands outside `opening`...`closing` brackets."""
    parts, cur, depth = [], "", 0
    for ch in text:
        if ch == opening:
            depth += 1
        elif ch == closing:
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def split_dotted(path: str) -> list[str]:
    """Split on dots outside brackets (kyaml's SmarterPathSplitter)."""
    parts = split_outside(path, ".", "[", "]")
    out: list[str] = []
    for part in parts:
        m = _INDEXED.match(part)
        if m:
            out += [m.group(1), m.group(2)]
        elif part:
            out.append(part)
    return out


def _unbracket(seg: str) -> str:
    if seg.startswith("[") and seg.endswith("]") and "=" not in seg:
        return seg[1:-1]
    return seg


def find(node: Any, segs: list[str], *, create: Any = None,
         where: str = "") -> Iterator[tuple[Any, Any]]:
    """Yield (container, key) for every field matching the path.

    With `create` (a value), missing map keys along the way are created; the
    last one gets a copy of `create` so the caller can overwrite it.
    """
    if not segs:
        return
    seg, rest = segs[0], segs[1:]
    last = not rest
    if isinstance(node, list):
        if seg in {"*", "[*]"}:
            indexes: list[int] = list(range(len(node)))
        elif seg.startswith("[") and "=" in seg:
            key, _, val = seg[1:-1].partition("=")
            indexes = [i for i, item in enumerate(node)
                       if isinstance(item, dict) and _text(item.get(key)) == val]
            if not indexes and create is not None:
                node.append({key: val})
                indexes = [len(node) - 1]
        elif seg.isdigit() or (seg.startswith("[") and seg[1:-1].isdigit()):
            i = int(seg.strip("[]"))
            indexes = [i] if i < len(node) else []
        elif seg == "-" and create is not None:
            node.append(None)
            indexes = [len(node) - 1]
        else:
            raise RenderError(f"path element {seg!r} cannot select from a list", where=where)
        for i in indexes:
            if last:
                yield node, i
            else:
                yield from find(node[i], rest, create=create, where=where)
        return
    if not isinstance(node, dict):
        return
    if seg == "*":
        keys = list(node)
    else:
        key = _unbracket(seg)
        if key not in node or node[key] is None:
            if create is None:
                return
            if last:
                node[key] = create
            else:
                nxt = rest[0]
                node[key] = [] if (nxt.startswith("[") and "=" in nxt) or nxt.isdigit() \
                    else {}
        keys = [key]
    for key in keys:
        if last:
            yield node, key
        else:
            yield from find(node[key], rest, create=create, where=where)


def get_value(obj: Any, path: str, *, where: str) -> Any:
    hits = list(find(obj, split_dotted(path), where=where))
    if not hits:
        raise RenderError(f"field {path!r} not found", where=where)
    container, key = hits[0]
    return container[key]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
