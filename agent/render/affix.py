"""namePrefix / nameSuffix (PrefixSuffixTransformer)."""

from __future__ import annotations

from typing import Any

from agent.render.fieldspec import FieldSpec, walk
from agent.render.resource import Gvk, Res

# Kustomize never renames these with a prefix or suffix.
_SKIP = (Gvk(kind="CustomResourceDefinition"), Gvk("apiregistration.k8s.io", "", "APIService"),
         Gvk(kind="Namespace"))


def apply_affix(resources: list[Res], prefix: str, suffix: str, specs: list[FieldSpec], *,
                where: str) -> None:
    def setter(container: Any, key: Any) -> None:
        value = container.get(key)
        if value is None:
            value = ""
        container[key] = f"{prefix}{value}{suffix}"

    for res in resources:
        org = res.org_id().gvk
        if any(skip.selects(org) for skip in _SKIP):
            continue
        for fs in specs:
            if not fs.gvk.selects(org):
                continue
            if fs.path == "metadata/name":
                if prefix:
                    res.prefixes.append(prefix)
                if suffix:
                    res.suffixes.append(suffix)
                if prefix or suffix:
                    res.store_previous_id()
            walk(res.obj, fs.segments, fs.create, False, setter, where=where)
