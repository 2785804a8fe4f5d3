"""`replacements:` copy a field of one object into fields of others."""

from __future__ import annotations

import math
from typing import Any

from agent.errors import RenderError
from agent.render.fieldpath import find, split_dotted
from agent.render.loader import Loader
from agent.render.resource import Gvk, Res, ResId, effective_ns, matches_selector, split_api_version
from agent.render.yamlio import deep_copy, load_all

_ID_FIELDS = {"group", "version", "kind", "name", "namespace"}


def load_replacements(entries: Any, loader: Loader, what: str) -> list[dict[str, Any]]:
    where = loader.kust_where()
    if not isinstance(entries, list):
        raise RenderError(f"{what} must be a list", where=where)
    out: list[dict[str, Any]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise RenderError(f"{what} entries must be mappings", where=where)
        if "path" in entry:
            if set(entry) != {"path"}:
                raise RenderError(f"{what}: an entry with path may not have other fields",
                                  where=where)
            pwhere = loader.rel(loader.dir / str(entry["path"]))
            for doc in load_all(loader.read_text(str(entry["path"]), what=what), pwhere):
                items = doc if isinstance(doc, list) else [doc]
                for item in items:
                    _check(item, pwhere, what)
                    out.append(item)
        else:
            _check(entry, where, what)
            out.append(entry)
    return out


def _check(r: Any, where: str, what: str) -> None:
    if not isinstance(r, dict):
        raise RenderError(f"{what}: a replacement must be a mapping", where=where)
    unknown = set(map(str, r)) - {"source", "targets", "sourceValue"}
    if unknown:
        raise RenderError(f"{what}: unknown field(s) {sorted(unknown)}", where=where)
    if "sourceValue" in r:
        raise RenderError(f"{what}.sourceValue is not supported", where=where)


def _selector_id(data: Any, where: str, what: str) -> tuple[ResId, dict[str, Any]]:
    if not isinstance(data, dict):
        raise RenderError(f"{what} must be a mapping", where=where)
    group, version = str(data.get("group") or ""), str(data.get("version") or "")
    if data.get("apiVersion"):
        group, version = split_api_version(str(data["apiVersion"]))
    return ResId(Gvk(group, version, str(data.get("kind") or "")), str(data.get("name") or ""),
                 str(data.get("namespace") or "")), data


def _selected_by(rid: ResId, sel: ResId) -> bool:
    return ((not sel.name or sel.name == rid.name)
            and (not sel.namespace
                 or effective_ns(rid.gvk.kind, rid.namespace)
                 == effective_ns(rid.gvk.kind, sel.namespace))
            and sel.gvk.selects(rid.gvk))


def apply_replacements(resources: list[Res], replacements: list[dict[str, Any]], *,
                       where: str) -> None:
    for i, rep in enumerate(replacements):
        what = f"replacements[{i}]"
        value = _source_value(resources, rep.get("source"), where, what)
        targets = rep.get("targets") or []
        if not isinstance(targets, list):
            raise RenderError(f"{what}.targets must be a list", where=where)
        for j, target in enumerate(targets):
            _apply_target(resources, value, target, where, f"{what}.targets[{j}]")


def _source_value(resources: list[Res], source: Any, where: str, what: str) -> Any:
    sel, data = _selector_id(source, where, f"{what}.source")
    matches = [r for r in resources if any(_selected_by(i, sel) for i in r.all_ids())]
    if not matches:
        raise RenderError(f"{what}: nothing selected by source {sel}", where=where)
    if len(matches) > 1:
        raise RenderError(f"{what}: more than one match for source {sel}", where=where)
    path = str(data.get("fieldPath") or "metadata.name")
    hits = list(find(matches[0].obj, split_dotted(path), where=where))
    if not hits:
        raise RenderError(f"{what}: fieldPath {path!r} not found in source "
                          f"{matches[0].cur_id()}", where=where)
    container, key = hits[0]
    value = deep_copy(container[key])
    opts = data.get("options") or {}
    if opts.get("delimiter"):
        if not isinstance(value, str):
            raise RenderError(f"{what}: delimiter option can only be used with scalar values",
                              where=where)
        parts = value.split(str(opts["delimiter"]))
        index = int(opts.get("index") or 0)
        if index < 0 or index >= len(parts):
            raise RenderError(f"{what}: options.index {index} is out of bounds for value "
                              f"{value!r}", where=where)
        value = parts[index]
    return value


def _matches_meta(res: Res, data: dict[str, Any], where: str) -> bool:
    if data.get("labelSelector") and not matches_selector(
            str(data["labelSelector"]), res.labels(), where=where):
        return False
    return not (data.get("annotationSelector") and not matches_selector(
        str(data["annotationSelector"]), res.annotations(), where=where))


def _apply_target(resources: list[Res], value: Any, target: Any, where: str, what: str) -> None:
    if not isinstance(target, dict) or target.get("select") is None:
        raise RenderError(f"{what}: target must specify resources to select", where=where)
    sel, sel_data = _selector_id(target["select"], where, f"{what}.select")
    rejects = [_selector_id(r, where, f"{what}.reject") for r in target.get("reject") or []]
    paths = target.get("fieldPaths") or ["metadata.name"]
    opts = target.get("options") or {}
    for res in resources:
        ids = res.all_ids()
        if not _matches_meta(res, sel_data, where):
            continue
        if not any(_selected_by(i, sel) for i in ids):
            continue
        if any(_rejected(res, ids, rid, rdata, where) for rid, rdata in rejects):
            continue
        for path in paths:
            create = _CREATED if opts.get("create") else None
            hits = list(find(res.obj, split_dotted(str(path)), create=create, where=where))
            if not hits:
                verb = "find or create" if opts.get("create") else "find"
                raise RenderError(f"{what}: unable to {verb} field {path!r} in replacement "
                                  f"target {res.cur_id()}", where=where)
            for container, key in hits:
                if container[key] is _CREATED:
                    container[key] = _created(value)
                else:
                    container[key] = _combine(container[key], value, opts, where, what)


class _Created:
    """Marks a field the path walk created, so its value is written untyped."""


_CREATED = _Created()


def _created(value: Any) -> Any:
    # A new field holds the source's text and no tag, so its type is read from the
    # text again (as Kustomize's output, which goes through JSON, shows).
    if isinstance(value, (dict, list)):
        return deep_copy(value)
    return _yaml_scalar(_text(value))


def _rejected(res: Res, ids: list[ResId], rid: ResId, rdata: dict[str, Any],
              where: str) -> bool:
    has_id = any(rdata.get(k) for k in _ID_FIELDS | {"apiVersion"})
    has_meta = rdata.get("labelSelector") or rdata.get("annotationSelector")
    if has_meta and not _matches_meta(res, rdata, where):
        return False
    return not has_id or any(_selected_by(i, rid) for i in ids)


def _combine(current: Any, value: Any, opts: dict[str, Any], where: str, what: str) -> Any:
    if opts.get("delimiter"):
        if isinstance(current, (dict, list)):
            raise RenderError(f"{what}: delimiter option can only be used with scalar nodes",
                              where=where)
        parts = _text(current).split(str(opts["delimiter"]))
        index = int(opts.get("index") or 0)
        v = _text(value)
        if index < 0:
            parts.insert(0, v)
        elif index >= len(parts):
            parts.append(v)
        else:
            parts[index] = v
        value = str(opts["delimiter"]).join(parts)
    if current is None or isinstance(current, (dict, list)) or isinstance(value, (dict, list)):
        return deep_copy(value)
    return _retype(_text(value), current)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer() and not math.isinf(value):
        return repr(value)
    return str(value)


def _retype(text: str, like: Any) -> Any:
    """Kustomize keeps the target's scalar type and only copies the text."""
    try:
        if isinstance(like, bool):
            if text in ("true", "false"):
                return text == "true"
        elif isinstance(like, int):
            return int(text)
        elif isinstance(like, float):
            return float(text)
    except ValueError:
        pass
    if isinstance(like, str):
        return text
    return _yaml_scalar(text)


def _yaml_scalar(text: str) -> Any:
    from agent.render.yamlio import load_one
    try:
        value = load_one(text, "replacement value")
    except RenderError:
        return text
    return value if not isinstance(value, (dict, list)) else text
