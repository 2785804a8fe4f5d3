"""Strategic merge of a patch into an object, as `kustomize build` does it.

Kustomize 5 merges with kyaml's walker (merge2), not with the apiserver's
strategic merge, and its output is the oracle, quirks included:

* maps merge recursively; a `null` in the patch removes the field; a `null`
  already in the target stays;
* merge lists (see `merge_keys`) are matched by their keys, and the result
  lists the patch's elements first, then the target's remaining ones
  (kustomize merges with "prepend"); a list merged by several keys (container
  ports: containerPort + protocol) moves each target element it re-keys to the
  end, primitive merge lists (finalizers) are unions, patch values first;
* every other list, and every list of a kind without a schema (CRDs), is
  replaced by the patch's list as it stands (directives inside it stay);
* `$patch: delete|replace|merge` on a map, and as a lone `{$patch: ...}`
  element of a merge list, act on that map or list; `$patch: replace` on a list
  element does not take effect (the target's element wins), as in kustomize;
* `$setElementOrder/...`, `$retainKeys` and `$deleteFromPrimitiveList/...` are
  not directives to kustomize: they are copied into the result like any field;
* walking the target normalises its merge lists even where the patch does not
  touch them (duplicated keys collapse to the last one, empty elements go).

The inputs are never mutated. The result shares unchanged subtrees with the
target, and the subtrees the patch adds with the patch: a caller that edits
results in place applies a fresh copy of a patch to each object.
"""

from __future__ import annotations

from typing import Any, Final

import yaml

from agent.errors import RenderError
from agent.render.merge_keys import Field, SchemaNode, schema_for


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


# A field absent from its map (kyaml: a nil node), as opposed to an explicit null.
_MISSING: Final = _Sentinel("MISSING")
# A walk result meaning "remove this field / element".
_CLEAR: Final = _Sentinel("CLEAR")
# The Element of an ElementSetter that deletes instead of setting.
_DELETE: Final = _Sentinel("DELETE")

_DIRECTIVE: Final = "$patch"
_DIRECTIVES: Final = ("delete", "replace", "merge")

_MAP, _SEQ, _SCALAR = "MappingNode", "SequenceNode", "ScalarNode"


def strategic_merge(
    target: dict[str, Any], patch: dict[str, Any], *, where: str | None = None
) -> dict[str, Any]:
    """Merge `patch` into `target` and return the result as a new dict.

    An empty dict means the patch deleted the whole object (`$patch: delete`
    at its top). Errors (a patch whose value kind differs from the target's, an
    unknown `$patch` value) raise RenderError naming `where` (the patch file).
    """
    try:
        result = _walk(target, patch, None)
    except RenderError as failure:
        if where is None or failure.where is not None:
            raise
        raise RenderError(failure.message, where=where) from None
    if result is _CLEAR or result is _MISSING or result is None:
        return {}
    if not isinstance(result, dict):
        raise RenderError("strategic merge patch did not produce an object")
    return result


# ---------------------------------------------------------------- node helpers


def _is_null(value: object) -> bool:
    return value is _MISSING or value is None


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return _MAP
    if isinstance(value, list):
        return _SEQ
    return _SCALAR


def _scalar_text(value: object) -> str:
    """The text kyaml compares for a node (its YNode().Value); maps and lists have none."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return ""
    if isinstance(value, float):
        dumped: str = yaml.safe_dump(value, explicit_end=False)
        return dumped.split("\n", 1)[0]
    return str(value)


def _key_text(element: object, key: str) -> str:
    """A merge key's value as kyaml lists it: "" when missing, null or empty."""
    if not isinstance(element, dict):
        return ""
    value = element.get(key)
    if isinstance(value, str):
        return value
    if value is None or value in ({}, []):
        return ""
    return _scalar_text(value)


def _kind_error(expected: str, node: object) -> RenderError:
    shown = yaml.safe_dump(node, default_flow_style=False, sort_keys=False).rstrip("\n")
    if shown.endswith("\n..."):
        shown = shown[: -len("\n...")]
    return RenderError(
        f"wrong node kind: expected {expected} but got {_kind(node)}: node contents:\n{shown}"
    )


def _check_kinds(expected: str, dest: object, origin: object) -> None:
    if not _is_null(dest) and _kind(dest) != expected:
        raise _kind_error(expected, dest)
    if not _is_null(origin) and _kind(origin) != expected:
        raise _kind_error(expected, origin)


# ---------------------------------------------------------------- the walk


def _resolve_schema(schema: SchemaNode | None, dest: object, origin: object) -> SchemaNode | None:
    if schema is not None:
        return schema
    for node in (dest, origin):
        if isinstance(node, dict):
            found = schema_for(node.get("apiVersion"), node.get("kind"))
            if found is not None:
                return found
    return None


def _walk(dest: object, origin: object, field: Field | SchemaNode | None) -> object:
    """Merge one node of the patch (origin) into one node of the target (dest)."""
    if isinstance(field, Field):
        schema, list_field = field.node, field
    else:
        schema, list_field = field, None
    if not _is_null(dest):
        kind = _kind(dest)
    elif not _is_null(origin):
        kind = _kind(origin)
    else:
        return _walk_nulls(dest, origin)
    _check_kinds(kind, dest, origin)
    if kind == _MAP:
        return _walk_map(dest, origin, _resolve_schema(schema, dest, origin))
    if kind == _SEQ and list_field is not None and list_field.merge:
        return _walk_merge_list(dest, origin, list_field)
    # A scalar or a list replaced as a whole: the patch's value wins, and
    # its null removes the field.
    if origin is _MISSING:
        return dest
    return _CLEAR if origin is None else origin


def _walk_nulls(dest: object, origin: object) -> object:
    # Both absent or null: an explicit null in the target survives a patch
    # that does not mention it; a null in the patch clears the field.
    if dest is None and origin is _MISSING:
        return None
    return _CLEAR


def _map_directive(node: dict[str, Any], *, strict: bool) -> tuple[str, dict[str, Any]]:
    """Read and strip a map's `$patch`; unknown values raise only when `strict`."""
    if _DIRECTIVE not in node:
        return "merge", node
    raw = node[_DIRECTIVE]
    value = raw if isinstance(raw, str) else _scalar_text(raw)
    if value not in _DIRECTIVES:
        if strict:
            raise RenderError(f"unknown patch strategy '{value}'")
        return "unknown", node
    return value, {k: v for k, v in node.items() if k != _DIRECTIVE}


def _walk_map(dest: object, origin: object, schema: SchemaNode | None) -> object:
    if _is_null(dest):
        assert isinstance(origin, dict)
        directive, origin = _map_directive(origin, strict=False)
        if directive == "delete":
            return _CLEAR
        return _merge_fields(origin, origin, schema, same=True)
    if origin is None:
        return _CLEAR
    assert isinstance(dest, dict)
    if origin is _MISSING:
        return _untouched_map(dest, schema)
    assert isinstance(origin, dict)
    same = dest is origin
    directive, origin = _map_directive(origin, strict=True)
    if directive == "delete":
        return _CLEAR
    if directive == "replace" or same:
        return _merge_fields(origin, origin, schema, same=True)
    return _merge_fields(dest, origin, schema, same=False)


# The fields of a known type that the table does not list: known to the
# schema, so never looked up again by apiVersion/kind, and without merge lists.
_OPAQUE: Final = Field(node={})


def _field_of(schema: SchemaNode | None, key: object) -> Field | None:
    if schema is None:
        return None
    return schema.get(key, _OPAQUE) if isinstance(key, str) else _OPAQUE


def _merge_fields(
    dest: dict[str, Any], origin: dict[str, Any], schema: SchemaNode | None, *, same: bool
) -> dict[str, Any]:
    result: dict[str, Any] | None = None
    if same:
        keys = sorted(dest, key=str)
    else:
        # Fields the patch does not name keep their value (bar normalising).
        for key, old in dest.items():
            if key not in origin:
                new = _untouched_value(old, _field_of(schema, key))
                if new is not old:
                    if result is None:
                        result = dict(dest)
                    result[key] = new
        # kyaml visits fields in sorted order, so new ones are appended sorted.
        keys = sorted(origin, key=str)
    for key in keys:
        old = dest.get(key, _MISSING)
        field = _field_of(schema, key)
        new = _walk(old, origin.get(key, _MISSING), field)
        if new is _CLEAR or new is _MISSING:
            if old is _MISSING:
                continue
            if result is None:
                result = dict(dest)
            del result[key]
        elif new is not old or old is _MISSING:
            if result is None:
                result = dict(dest)
            result[key] = new
    return dest if result is None else result


def _untouched_value(value: object, field: Field | None) -> object:
    if isinstance(value, dict):
        schema = field.node if field is not None else None
        return _untouched_map(value, _resolve_schema(schema, value, _MISSING))
    if isinstance(value, list) and field is not None and field.merge:
        if _merge_list_is_normal(value, field):
            return value
        return _walk_merge_list(value, _MISSING, field)
    return value


def _untouched_map(dest: dict[str, Any], schema: SchemaNode | None) -> dict[str, Any]:
    """Merging nothing into `dest`: `dest` itself, unless a merge list needs normalising."""
    if schema is None:
        result: dict[str, Any] | None = None
        for key, value in dest.items():
            if isinstance(value, dict):
                new = _untouched_map(value, _resolve_schema(None, value, _MISSING))
                if new is not value:
                    if result is None:
                        result = dict(dest)
                    result[key] = new
        return dest if result is None else result
    for key, field in schema.items():
        value = dest.get(key, _MISSING)
        if value is _MISSING or value is None:
            continue
        if not _untouched_is_identity(value, field):
            return _merge_fields(dest, {}, schema, same=False)
    return dest


def _untouched_is_identity(value: object, field: Field) -> bool:
    if isinstance(value, dict):
        return _untouched_map(value, field.node) is value
    if not isinstance(value, list) or not field.merge:
        return True
    return _merge_list_is_normal(value, field)


def _merge_list_is_normal(items: list[Any], field: Field) -> bool:
    """True when merging nothing into this merge list leaves it as it is."""
    keys = field.keys
    if not keys:
        seen_text: set[str] = set()
        for item in items:
            if item is None or isinstance(item, dict | list):
                return False
            text = _scalar_text(item)
            if text in seen_text:
                return False
            seen_text.add(text)
        return True
    node = field.node
    if len(keys) == 1:
        key = keys[0]
        seen: set[str] = set()
        for item in items:
            if not isinstance(item, dict) or not item:
                return False
            text = _key_text(item, key)
            if text == "" or text in seen:
                return False
            seen.add(text)
            if node and _untouched_map(item, node) is not item:
                return False
        return True
    tuples: list[tuple[str, ...]] = []
    for item in items:
        if not isinstance(item, dict) or not item:
            return False
        key_values = tuple(_key_text(item, key) for key in keys)
        if key_values[0] == "":
            return False
        if key_values in tuples:
            return False
        if len(keys) > 1 and any(_values_match(key_values, other)[0] for other in tuples):
            return False
        tuples.append(key_values)
        if node and _untouched_map(item, node) is not item:
            return False
    return True


# ---------------------------------------------------------------- merge lists


def _seq_directive(node: list[Any]) -> tuple[str, list[Any]]:
    """A lone `{$patch: ...}` element of a merge list is a directive for the list."""
    marker = next((e for e in node if isinstance(e, dict) and _DIRECTIVE in e), None)
    if marker is None or len(marker) > 1:
        return "merge", node
    raw = marker[_DIRECTIVE]
    value = raw if isinstance(raw, str) else _scalar_text(raw)
    if value not in _DIRECTIVES:
        raise RenderError(f"unknown patch strategy '{value}'")
    return value, _element_setter(node, _DELETE, (_DIRECTIVE,), (value,))


def _walk_merge_list(dest: object, origin: object, field: Field) -> object:
    same = False
    if _is_null(dest):
        assert isinstance(origin, list)
        dest, same = origin, True
    elif origin is None:
        return _CLEAR
    elif origin is not _MISSING:
        assert isinstance(origin, list)
        # Inside a subtree the patch adds, kyaml merges the patch with itself:
        # one node, so what the walk does to one side it does to the other.
        same = dest is origin
        directive, origin = _seq_directive(origin)
        if directive == "delete":
            return _CLEAR
        if directive == "replace" or same:
            dest, same = origin, True
    assert isinstance(dest, list)
    if same:
        return _merge_list(dest, dest, field, shared=True)
    if origin is _MISSING:
        if _merge_list_is_normal(dest, field):
            return dest
        return _merge_list(dest, [], field, shared=False)
    assert isinstance(origin, list)
    if len(field.keys) == 1:
        simple = _merge_simple_list(dest, origin, field)
        if simple is not None:
            return simple
    return _merge_list(dest, origin, field, shared=False)


def _merge_simple_list(dest: list[Any], origin: list[Any], field: Field) -> list[Any] | None:
    """The common case, without kyaml's list machinery: one merge key, present
    and distinct on every element of both lists, no directives. The result is
    the patch's elements (merged into their targets) then the target's others.
    Returns None when the case is not that simple.
    """
    key = field.keys[0]
    named: set[str] = set()
    for item in origin:
        if not isinstance(item, dict) or not item or _DIRECTIVE in item:
            return None
        text = _key_text(item, key)
        if text == "" or text in named:
            return None
        named.add(text)
    position: dict[str, int] = {}
    for index, item in enumerate(dest):
        if not isinstance(item, dict) or not item:
            return None
        text = _key_text(item, key)
        if text == "" or text in position:
            return None
        position[text] = index
    result: list[Any] = []
    for item in origin:
        text = _key_text(item, key)
        found = position.get(text)
        merged = _walk(_MISSING if found is None else dest[found], item, field.node)
        if not isinstance(merged, dict) or _key_text(merged, key) != text:
            return None
        result.append(merged)
    node = field.node
    for item in dest:
        if _key_text(item, key) not in named:
            # An element the patch leaves alone must come out as it went in.
            if node and _untouched_map(item, node) is not item:
                return None
            result.append(item)
    return result


def _values_match(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[bool, tuple[str, ...]]:
    # Two key tuples name the same element when they share a value and differ
    # only where one of them is empty (a port with and without its protocol).
    if len(first) != len(second):
        return False, ()
    common = False
    merged: list[str] = []
    for a, b in zip(first, second, strict=True):
        if a == b:
            common = True
            merged.append(a)
        elif a and b:
            return False, ()
        else:
            merged.append(a or b)
    return common, tuple(merged)


def _merge_values(values_list: list[tuple[str, ...]]) -> None:
    # The outer row is read once per outer step, as Go's range does, even
    # though the inner steps overwrite it.
    for i in range(len(values_list)):
        first = values_list[i]
        for j in range(len(values_list)):
            matched, merged = _values_match(first, values_list[j])
            if matched:
                values_list[i] = merged
                values_list[j] = merged


def _valid_keys(
    values_list: list[tuple[str, ...]], values: tuple[str, ...], keys: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # Keys no element gives a value for are left out of the match.
    present = {keys[i] for row in values_list for i, v in enumerate(row) if v != ""}
    if not present:
        return keys, values
    valid_keys = tuple(k for k in keys if k in present)
    valid_values = tuple(v for i, v in enumerate(values) if v != "" or keys[i] in present)
    return valid_keys, valid_values


def _find_element(items: list[Any], keys: tuple[str, ...], values: tuple[str, ...]) -> int:
    """Index of the first element whose keys equal the values (kyaml ElementMatcher), or -1."""
    if not keys or keys[0] == "":
        wanted = values[0] if values else ""
        for index, item in enumerate(items):
            if _scalar_text(item) == wanted:
                return index
        return -1
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        if all(
            key in item and _scalar_text(item[key]) == value
            for key, value in zip(keys, values, strict=True)
        ):
            return index
    return -1


def _field_matches(item: object, name: str, value: str) -> bool:
    # kyaml FieldMatcher with a string value: "" matches any value.
    if item is None:
        return False
    if name == "":
        if isinstance(item, dict | list):
            raise _kind_error(_SCALAR, item)
        return _scalar_text(item) == value
    if not isinstance(item, dict):
        raise _kind_error(_MAP, item)
    if name not in item:
        return False
    return value == "" or _scalar_text(item[name]) == value


def _element_setter(
    items: list[Any], element: object, keys: tuple[str, ...], values: tuple[str, ...]
) -> list[Any]:
    """kyaml's ElementSetter: replace every element matching the keys, else append.

    With `_DELETE` it removes the matches. Like kyaml it also drops null and
    empty-map elements on the way.
    """
    if not keys:
        keys = ("",)
    mapping_setter = keys[0] != "" and bool(values) and values[0] != ""
    deleting = element is _DELETE or element is None
    result: list[Any] = []
    found_any = False
    for item in items:
        if item is None or (isinstance(item, dict) and not item):
            continue
        if not isinstance(item, dict) and mapping_setter:
            result.append(item)
            continue
        found = bool(values)
        for j, key in enumerate(keys):
            if j < len(values) and not _field_matches(item, key, values[j]):
                found = False
                break
        if not found:
            if values:
                result.append(item)
            continue
        found_any = True
        if not deleting:
            result.append(element)
    if not deleting and not found_any:
        result.append(element)
    return result


def _append_list(dst: list[Any], src: list[Any], keys: tuple[str, ...]) -> list[Any]:
    """kyaml appendListNode: set each src element into dst by its keys."""
    for element in src:
        if keys[0] == "":
            dst = _element_setter(dst, element, ("",), (_scalar_text(element),))
            continue
        values: list[str] = []
        for key in keys:
            if element is None:
                dst = [*dst, element]
                continue
            if not isinstance(element, dict):
                raise _kind_error(_MAP, element)
            if key not in element:
                dst = [*dst, element]
                continue
            values.append(_scalar_text(element[key]))
        if len(keys) > 1:
            dst = _element_setter(dst, _DELETE, keys, tuple(values))
        dst = _element_setter(dst, element, keys, tuple(values))
    return dst


def _element_choice(dest: object, origin: object) -> str:
    """Which node kyaml merges an element into in place: "dest", "origin" or "none"."""
    if not isinstance(dest, dict):
        return "origin" if isinstance(origin, dict) else "none"
    if origin is None:
        return "none"
    if isinstance(origin, dict) and origin.get(_DIRECTIVE) == "replace":
        return "origin"
    return "dest"


def _merge_list(dest: list[Any], origin: list[Any], field: Field, *, shared: bool) -> list[Any]:
    """Merge the elements of a merge list; `shared` when kyaml merges a list with itself."""
    keys = field.keys
    working: list[Any] = list(dest)
    patch: list[Any] = working if shared else list(origin)
    sources = (patch, working)  # kustomize prepends: the patch's elements come first
    values_list: list[tuple[str, ...]]
    if keys:
        values_list = []
        for source in (sources[0],) if shared else sources:
            for item in source:
                row = tuple(_key_text(item, key) for key in keys)
                if row not in values_list:
                    values_list.append(row)
        if len(keys) > 1:
            _merge_values(values_list)
    else:
        keys = ("",)
        seen: set[str] = set()
        values_list = []
        for source in (sources[0],) if shared else sources:
            for item in source:
                text = _scalar_text(item)
                if text not in seen:
                    seen.add(text)
                    values_list.append((text,))
    items: list[Any] = []
    valid_keys: tuple[str, ...] = keys
    element_field: SchemaNode | None = field.node
    for values in values_list:
        valid_keys, valid_values = _valid_keys(values_list, values, keys)
        match_keys, match_values = _valid_keys([values], values, keys)
        dest_index = _find_element(working, match_keys, match_values)
        dest_el = working[dest_index] if dest_index >= 0 else _MISSING
        if shared:
            origin_index, origin_el = dest_index, dest_el
        else:
            origin_index = _find_element(patch, match_keys, match_values)
            origin_el = patch[origin_index] if origin_index >= 0 else _MISSING
        choice = _element_choice(dest_el, origin_el)
        merged = _walk(dest_el, origin_el, element_field)
        if merged is _CLEAR or merged is _MISSING or merged is None or merged == {}:
            if (
                isinstance(origin_el, dict)
                and origin_el.get(_DIRECTIVE) in _DIRECTIVES
                and origin_index >= 0
            ):
                # kyaml strips the directive from the patch's node even when
                # the element it names then survives the deletion below.
                patch[origin_index] = _map_directive(origin_el, strict=False)[1]
            working = _element_setter(working, _DELETE, valid_keys, valid_values)
            if shared:
                patch = working
            continue
        if isinstance(merged, dict):
            pairs = zip(valid_keys, valid_values, strict=False)
            missing = [(k, v) for k, v in pairs if v != "" and k not in merged]
            if missing:
                merged = {**merged, **dict(missing)}
        # kyaml merges in place: the node it merged into now holds the result.
        if choice == "dest" or (choice == "origin" and shared):
            if dest_index >= 0:
                working[dest_index] = merged
        elif choice == "origin" and origin_index >= 0:
            patch[origin_index] = merged
        items = _element_setter(items, merged, valid_keys, valid_values)
    if not values_list:
        return working
    return _append_list(items, working, valid_keys)


__all__ = ["strategic_merge"]
