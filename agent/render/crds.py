"""`crds:` OpenAPI definition files that teach transformers about custom kinds.

The format is Kustomize's: a map of type name (`group.version.Kind`, dot-separated)
to `{Schema: {properties: ...}}`. For types that look like Kubernetes objects
(kind, apiVersion and metadata properties), property extensions add field specs:
`x-kubernetes-annotation` (annotations), `x-kubernetes-label-selector` (labels),
`x-kubernetes-identity` (name prefix) and `x-kubernetes-object-ref-kind` with
`-api-version` (name reference to `<property>/<name key>`), following `$ref`s.
"""

from __future__ import annotations

from typing import Any

from agent.errors import RenderError
from agent.render.fieldspec import FieldSpec, NameRefRule, TransformerConfig
from agent.render.resource import Gvk


def _schema(api: Any) -> dict[str, Any]:
    if not isinstance(api, dict):
        return {}
    for key, value in api.items():  # Go's JSON decoding matches field names case-blind
        if str(key).lower() == "schema" and isinstance(value, dict):
            return value
    return {}


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    props = schema.get("properties")
    return props if isinstance(props, dict) else {}


def config_from_crd(doc: Any, where: str) -> TransformerConfig:
    cfg = TransformerConfig()
    if not isinstance(doc, dict):
        raise RenderError("crds: expected a map of OpenAPI definitions", where=where)
    for type_name, api in doc.items():
        props = _properties(_schema(api))
        if not {"kind", "apiVersion", "metadata"} <= set(props):
            continue
        gvk = Gvk(kind=str(type_name).split(".")[-1])
        _load(cfg, gvk, doc, str(type_name), [], seen=set())
    return cfg


def _load(cfg: TransformerConfig, gvk: Gvk, definitions: dict[str, Any], type_name: str,
          path: list[str], *, seen: set[str]) -> None:
    api = definitions.get(type_name)
    if api is None or type_name in seen:
        return
    for name, prop in _properties(_schema(api)).items():
        if not isinstance(prop, dict):
            continue
        here = [*path, str(name)]
        spec = FieldSpec(gvk, "/".join(here))
        if "x-kubernetes-annotation" in prop:
            cfg.common_annotations.append(spec)
        if "x-kubernetes-label-selector" in prop:
            cfg.common_labels.append(spec)
        if "x-kubernetes-identity" in prop:
            cfg.name_prefix.append(spec)
        version, kind = prop.get("x-kubernetes-object-ref-api-version"), \
            prop.get("x-kubernetes-object-ref-kind")
        if version is not None and kind is not None:
            key = str(prop.get("x-kubernetes-object-ref-name-key") or "name")
            cfg.add_nameref(NameRefRule(Gvk("", str(version), str(kind)),
                                        (FieldSpec(gvk, "/".join([*here, key])),)))
        ref = prop.get("$ref")
        if isinstance(ref, str) and ref:
            _load(cfg, gvk, definitions, ref, here, seen=seen | {type_name})
