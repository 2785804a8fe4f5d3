"""Legacy `vars:`: `$(NAME)` in the varReference fields becomes a field of another object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.errors import RenderError
from agent.render.fieldpath import get_value
from agent.render.fieldspec import FieldSpec, walk
from agent.render.resource import CLUSTER_SCOPED, Gvk, Res, effective_ns, split_api_version


@dataclass(frozen=True)
class Var:
    name: str
    gvk: Gvk
    obj_name: str
    namespace: str
    field_path: str


def parse_vars(entries: Any, where: str) -> list[Var]:
    if not isinstance(entries, list):
        raise RenderError("vars must be a list", where=where)
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("name") or not isinstance(
                entry.get("objref"), dict):
            raise RenderError("each var needs a name and an objref", where=where)
        ref = entry["objref"]
        group, version = str(ref.get("group") or ""), str(ref.get("version") or "")
        if ref.get("apiVersion"):
            group, version = split_api_version(str(ref["apiVersion"]))
        fieldref = entry.get("fieldref") or {}
        out.append(Var(str(entry["name"]), Gvk(group, version, str(ref.get("kind") or "")),
                       str(ref.get("name") or ""), str(ref.get("namespace") or ""),
                       str(fieldref.get("fieldpath") or fieldref.get("fieldPath")
                           or "metadata.name")))
    return out


def bind_vars(resources: list[Res], new_vars: list[Var], known: dict[str, Var],
              where: str) -> None:
    """Kustomize's MergeVars: remember which object each var points at, at declaration."""
    for var in new_vars:
        if var.name in known:
            raise RenderError(f"var {var.name!r} already encountered", where=where)
        strict = bool(var.namespace) or var.gvk.kind in CLUSTER_SCOPED

        def hit(res: Res, var: Var = var, strict: bool = strict) -> bool:
            for rid in res.all_ids():
                if rid.gvk != var.gvk or rid.name != var.obj_name:
                    continue
                if not strict or effective_ns(rid.gvk.kind, rid.namespace) == effective_ns(
                        var.gvk.kind, var.namespace):
                    return True
            return False
        matched = [r for r in resources if hit(r)]
        if len(matched) > 1:
            raise RenderError(f"found {len(matched)} resId matches for var {var.name!r} "
                              "(unable to disambiguate)", where=where)
        if matched:
            matched[0].refvars.append(var.name)
        known[var.name] = var


def resolve_vars(resources: list[Res], known: dict[str, Var], specs: list[FieldSpec]) -> None:
    if not known:
        return
    values: dict[str, Any] = {}
    for name, var in known.items():
        owner = next((r for r in resources if name in r.refvars), None)
        if owner is None:
            raise RenderError(f"var {name!r} cannot be mapped to a field in the set of known "
                              "resources", where="vars")
        try:
            values[name] = get_value(owner.obj, var.field_path, where=str(owner.cur_id()))
        except RenderError:
            raise RenderError(f"field specified in var {name!r} ({var.field_path}) not found "
                              "in corresponding resource", where=str(owner.cur_id())) from None

    def setter(container: Any, key: Any) -> None:
        value = container.get(key)
        if isinstance(value, str):
            container[key] = _substitute(value, values)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    value[i] = _substitute(item, values)
        elif isinstance(value, dict):
            for k, item in value.items():
                if isinstance(item, str):
                    value[k] = _substitute(item, values)

    for res in resources:
        gvk = res.gvk
        for fs in specs:
            if fs.gvk.selects(gvk):
                walk(res.obj, fs.segments, False, False, setter, where=str(res.cur_id()))


def _substitute(text: str, values: dict[str, Any]) -> Any:
    if "$" not in text:
        return text
    if text.startswith("$(") and text.endswith(")") and text[2:-1] in values \
            and text.count("$(") == 1:
        value = values[text[2:-1]]
        return value if not isinstance(value, (dict, list)) else text
    return _expand(text, values)


def _expand(text: str, values: dict[str, Any]) -> str:
    """Kubernetes `$(VAR)` expansion: `$$` escapes, unknown names stay as written."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "$" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                close = text.find(")", i + 2)
                if close != -1:
                    name = text[i + 2:close]
                    out.append(_fmt(values[name]) if name in values else f"$({name})")
                    i = close + 1
                    continue
                out.append("$(")
                i += 2
                continue
            out.append("$" + nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
