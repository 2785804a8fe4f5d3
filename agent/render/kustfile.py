"""The kustomization file: read it, check every field, normalise legacy spellings."""

from __future__ import annotations

from typing import Any

from agent.errors import RenderError
from agent.render.loader import Loader
from agent.render.yamlio import load_one

SUPPORTED = frozenset({
    "apiVersion", "kind", "metadata", "resources", "bases", "components", "namespace",
    "namePrefix", "nameSuffix", "labels", "commonLabels", "commonAnnotations",
    "buildMetadata", "images", "imageTags", "replicas", "patches", "patchesStrategicMerge",
    "patchesJson6902", "configMapGenerator", "secretGenerator", "generatorOptions",
    "replacements", "vars", "crds", "configurations", "generators", "transformers",
    "sortOptions",
})
# Recognised by Kustomize but refused here, each with the reason printed to the user.
REFUSED = {
    "helmCharts": "Helm chart inflation is not supported",
    "helmGlobals": "Helm chart inflation is not supported",
    "helmChartInflationGenerator": "Helm chart inflation is not supported",
    "openapi": "custom OpenAPI schemas are not supported",
    "validators": "validator plugins are not supported",
}
_KINDS = ("Kustomization", "Component")


def load_kustomization(loader: Loader) -> tuple[dict[str, Any], str]:
    """The parsed kustomization and its file path (relative to the repo) for messages."""
    path = loader.kustomization_file()
    where = loader.rel(path)
    text = loader.read_text(path.name, what="kustomization")
    data = load_one(text, where)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RenderError("kustomization must be a mapping", where=where)
    for key in data:
        if not isinstance(key, str):
            raise RenderError(f"invalid kustomization field {key!r}", where=where)
        if key in REFUSED:
            if data[key]:
                raise RenderError(f"field {key!r}: {REFUSED[key]}", where=where)
            continue
        if key not in SUPPORTED:
            raise RenderError(f"unknown kustomization field {key!r}", where=where)
    kind = data.get("kind") or "Kustomization"
    if kind not in _KINDS:
        raise RenderError(f"kind must be Kustomization or Component, got {kind!r}", where=where)
    data["kind"] = kind
    for key in ("resources", "bases", "components", "crds", "configurations", "generators",
                "transformers", "patchesStrategicMerge", "patchesJson6902", "patches",
                "images", "imageTags", "replicas", "configMapGenerator", "secretGenerator",
                "replacements", "vars", "labels", "buildMetadata"):
        value = data.get(key)
        if value is None:
            data[key] = []
        elif not isinstance(value, list):
            raise RenderError(f"field {key!r} must be a list", where=where)
    for key in ("commonLabels", "commonAnnotations"):
        value = data.get(key)
        if value is None:
            data[key] = {}
        elif not isinstance(value, dict):
            raise RenderError(f"field {key!r} must be a mapping", where=where)
        else:
            for k, v in value.items():
                if not isinstance(v, str):
                    raise RenderError(f"{key}.{k} must be a string, got {v!r} (quote it)",
                                      where=where)
    for key in ("namespace", "namePrefix", "nameSuffix"):
        value = data.get(key)
        if value is not None and not isinstance(value, (str, int, float)):
            raise RenderError(f"field {key!r} must be a string", where=where)
        data[key] = "" if value is None else str(value)
    # Kustomize's FixKustomization: legacy spellings fold into their successors.
    data["resources"] = [*data["resources"], *data.pop("bases")]
    data["images"] = [*data["images"], *data.pop("imageTags")]
    for meta in data["buildMetadata"]:
        if meta not in ("managedByLabel", "originAnnotations", "transformerAnnotations"):
            raise RenderError(f"buildMetadata: unknown option {meta!r}", where=where)
    if "transformerAnnotations" in data["buildMetadata"]:
        raise RenderError("buildMetadata: transformerAnnotations is not supported", where=where)
    return data, where
