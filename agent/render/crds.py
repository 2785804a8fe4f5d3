"""`crds:` OpenAPI definitions that teach name references and label selectors for
custom kinds (x-kubernetes-object-ref-kind / -api-version, x-kubernetes-label-selector)."""

from __future__ import annotations

from typing import Any

from agent.errors import RenderError
from agent.render.fieldspec import FieldSpec, NameRefRule, TransformerConfig
from agent.render.resource import Gvk, split_api_version


def config_from_crd(doc: Any, where: str) -> TransformerConfig:
    cfg = TransformerConfig()
    if not isinstance(doc, dict):
        raise RenderError("crds: expected an OpenAPI definitions document", where=where)
    definitions = doc.get("definitions", doc)
    if not isinstance(definitions, dict):
        raise RenderError("crds: definitions must be a mapping", where=where)
    for type_name, schema in definitions.items():
        if not isinstance(schema, dict):
            continue
        kind = str(type_name).rsplit(".", 1)[-1]
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        gvk = Gvk(kind=kind)
        if gvks and isinstance(gvks[0], dict):
            gvk = Gvk(str(gvks[0].get("group") or ""), str(gvks[0].get("version") or ""),
                      str(gvks[0].get("kind") or kind))
        _walk_props(schema, definitions, gvk, "", cfg, seen=set())
    return cfg


def _walk_props(schema: dict[str, Any], definitions: dict[str, Any], gvk: Gvk, path: str,
                cfg: TransformerConfig, *, seen: set[str]) -> None:
    props = schema.get("properties") or {}
    for name, prop in props.items():
        if not isinstance(prop, dict):
            continue
        sub = f"{path}/{name}" if path else str(name)
        if "x-kubernetes-label-selector" in prop:
            cfg.common_labels.append(FieldSpec(Gvk(kind=gvk.kind), sub, True))
        ref_kind = prop.get("x-kubernetes-object-ref-kind")
        if ref_kind:
            group, version = split_api_version(str(prop.get("x-kubernetes-object-ref-api-version")
                                                   or ""))
            cfg.add_nameref(NameRefRule(Gvk(group, version, str(ref_kind)),
                                        (FieldSpec(Gvk(kind=gvk.kind), sub),)))
        ref = prop.get("$ref")
        if isinstance(ref, str):
            target = ref.rsplit("/", 1)[-1]
            if target not in seen and isinstance(definitions.get(target), dict):
                _walk_props(definitions[target], definitions, gvk, sub, cfg, seen=seen | {target})
        _walk_props(prop, definitions, gvk, sub, cfg, seen=seen)
