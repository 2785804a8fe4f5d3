"""JSON patch (RFC 6902) the way `kustomize build` applies it.

Kustomize hands the object, as JSON, to evanphx/json-patch (v4), so its
leniencies are part of the behaviour operators rely on, and kept here:

* `replace` of a missing object member adds it; of a missing array index fails;
* negative array indexes count from the end (`add` at -1 appends); `-` appends
  for `add` and for the destination of `move`/`copy`;
* a missing `value` is null; `copy` from a missing member copies null; `test`
  of a missing member passes when the value is null;
* a path is split on `/` after its first segment, so `data/key` means `/key`;
  `~1` and `~0` decode to `/` and `~`;
* `test` compares scalars by their JSON text (`1` is not `1.0`).

Error texts follow the library's, prefixed with the op's position. The inputs
are not mutated: each op copies the containers on its path and the values it
inserts; the result shares every other subtree with the target.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

from agent.errors import RenderError

_MISSING: Final = object()
_INDEX: Final = re.compile(r"[+-]?[0-9]+")

Container = dict[str, Any] | list[Any]
Edit = Callable[[Container, str], None]


class _OpError(Exception):
    """One op could not be applied; `apply_json6902` turns it into a RenderError."""


def apply_json6902(
    target: dict[str, Any], ops: list[dict[str, Any]], *, where: str
) -> dict[str, Any]:
    """Apply the JSON patch `ops` to `target` and return the result as a new dict.

    Raises RenderError naming `where`, the op's position and the op itself when
    an op is malformed or does not apply.
    """
    if not isinstance(ops, list):
        raise RenderError("a JSON 6902 patch must be a list of operations", where=where)
    doc: Any = target
    for index, op in enumerate(ops):
        try:
            doc = _apply_op(doc, op)
        except _OpError as failure:
            shown = json.dumps(op, sort_keys=True, default=str)
            raise RenderError(f"json patch op {index} {shown}: {failure}", where=where) from None
    if not isinstance(doc, dict):
        raise RenderError("json patch did not leave an object", where=where)
    return doc


# ---------------------------------------------------------------- ops


def _apply_op(doc: Any, op: object) -> Any:
    if not isinstance(op, dict):
        raise _OpError("an operation must be a map with 'op' and 'path'")
    kind = op.get("op")
    path = _field(op, "path", kind)
    if kind == "add":
        value = _clone(op.get("value"))
        return _edit(doc, path, lambda c, k: _add(c, k, value), "add")
    if kind == "remove":
        return _edit(doc, path, _remove, "remove")
    if kind == "replace":
        value = _clone(op.get("value"))
        if path == "":
            # The library swaps the whole document for an object or array and
            # silently ignores any other value.
            return value if isinstance(value, dict | list) else doc
        return _edit(doc, path, lambda c, k: _replace(c, k, value), "replace")
    if kind == "test":
        if "value" not in op:
            # kustomize crashes on this one; refuse it clearly instead.
            raise _OpError("test operation has no value to compare")
        _test(doc, path, op["value"])
        return doc
    if kind in ("move", "copy"):
        source = _field(op, "from", kind)
        found = _get(doc, source, kind, "from ")
        value = None if found is _MISSING else found
        if kind == "move":
            doc = _edit(doc, source, _remove, kind, "from ")
        else:
            value = _clone(value)
        return _edit(doc, path, lambda c, k: _add(c, k, value), kind, "destination ")
    raise _OpError(f"Unexpected kind: {kind}")


def _clone(value: Any) -> Any:
    # Values from the patch are copied in: one patch applied to many objects
    # must not leave them sharing a subtree a later transformer edits in place.
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def _field(op: dict[str, Any], name: str, kind: object) -> str:
    value = op.get(name, _MISSING)
    if not isinstance(value, str):
        raise _OpError(f"{kind} operation failed to decode {name}: missing value")
    return value


def _test(doc: Any, path: str, expected: Any) -> None:
    found = doc if path == "" else _get(doc, path, "test", "")
    if found is _MISSING or found is None:
        if expected is None:
            return
    elif expected is not None and _json_equal(found, expected):
        return
    raise _OpError(f"testing value {path} failed: test failed")


def _json_equal(left: Any, right: Any) -> bool:
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(_json_equal, left, right))
    return json.dumps(left, default=str) == json.dumps(right, default=str)


# ---------------------------------------------------------------- pointers


def _split(path: str) -> list[str] | None:
    parts = path.split("/")
    if len(parts) < 2:
        return None
    return [part.replace("~1", "/").replace("~0", "~") for part in parts[1:]]


def _index(key: str, size: int, *, extra: int = 0) -> int:
    """An array index as the library reads it; negative counts from the end."""
    if not _INDEX.fullmatch(key):
        raise _OpError(f'strconv.Atoi: parsing "{key}": invalid syntax')
    index = int(key)
    limit = size + extra
    if index < 0:
        if index < -limit:
            raise _OpError(f"Unable to access invalid index: {index}: invalid index referenced")
        index += limit
    if index >= limit:
        raise _OpError(f"Unable to access invalid index: {index}: invalid index referenced")
    return index


def _child(node: Any, key: str) -> Any:
    """The container at `key` under `node`, or _MISSING when the path does not go on."""
    if isinstance(node, dict):
        found = node.get(key, _MISSING)
    elif isinstance(node, list):
        try:
            found = node[_index(key, len(node))]
        except _OpError:
            return _MISSING
    else:
        return _MISSING
    return found if isinstance(found, dict | list) else _MISSING


def _container(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts:
        node = _child(node, part)
        if node is _MISSING:
            return _MISSING
    return node


def _locate(doc: Any, path: str, kind: str, which: str) -> tuple[list[str], str]:
    parts = _split(path)
    if parts is None or _container(doc, parts[:-1]) is _MISSING:
        shown = f'"{path}"' if kind in ("add", "remove") else path
        verb = "is" if kind == "test" else "doc is"
        raise _OpError(f"{kind} operation does not apply: {verb} missing {which}path: {shown}")
    return parts[:-1], parts[-1]


def _get(doc: Any, path: str, kind: str, which: str) -> Any:
    parents, key = _locate(doc, path, kind, which)
    node = _container(doc, parents)
    if isinstance(node, dict):
        return node.get(key, _MISSING)
    try:
        return node[_index(key, len(node))]
    except _OpError as failure:
        raise _OpError(f"error in {kind} for path: '{path}': {failure}") from None


def _edit(doc: Any, path: str, change: Edit, kind: str, which: str = "") -> Any:
    parents, key = _locate(doc, path, kind, which)
    try:
        return _rebuild(doc, parents, key, change)
    except _OpError as failure:
        if kind == "replace":
            raise _OpError(
                f"replace operation does not apply: doc is missing key: {path}: missing value"
            ) from None
        raise _OpError(f"error in {kind} for path: '{path}': {failure}") from None


def _rebuild(node: Any, parents: list[str], key: str, change: Edit) -> Any:
    # Copy-on-write along the path: siblings stay shared with the input.
    fresh: Container = dict(node) if isinstance(node, dict) else list(node)
    if not parents:
        change(fresh, key)
        return fresh
    head = parents[0]
    if isinstance(fresh, dict):
        fresh[head] = _rebuild(fresh[head], parents[1:], key, change)
    else:
        position = _index(head, len(fresh))
        fresh[position] = _rebuild(fresh[position], parents[1:], key, change)
    return fresh


def _add(container: Container, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
    elif key == "-":
        container.append(value)
    else:
        if not _INDEX.fullmatch(key):
            raise _OpError(f"value was not a proper array index: '{key}'")
        container.insert(_index(key, len(container), extra=1), value)


def _remove(container: Container, key: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise _OpError(f"Unable to remove nonexistent key: {key}: missing value")
        del container[key]
    else:
        del container[_index(key, len(container))]


def _replace(container: Container, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    container[_index(key, len(container))] = value
