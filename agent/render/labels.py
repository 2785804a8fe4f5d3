"""Labels and annotations (LabelTransformer, AnnotationsTransformer)."""

from __future__ import annotations

from typing import Any

from agent.errors import RenderError
from agent.render.fieldspec import FieldSpec, walk
from agent.render.resource import Res


def merge_specs(base: list[FieldSpec], extra: list[FieldSpec], *, where: str) -> list[FieldSpec]:
    """Kustomize's FsSlice.MergeAll: same gvk+path twice must agree on `create`."""
    out = list(base)
    for fs in extra:
        same = [o for o in out if o.gvk == fs.gvk and o.path == fs.path]
        if same:
            if same[0].create != fs.create:
                raise RenderError(f"conflicting fieldspecs for path {fs.path}", where=where)
            continue
        out.append(fs)
    return out


def apply_map_entries(resources: list[Res], entries: dict[str, Any], specs: list[FieldSpec], *,
                      where: str) -> None:
    """Set every key of `entries` in the map found at each field spec."""
    if not entries:
        return
    values = {str(k): _as_text(v) for k, v in entries.items()}

    def setter(container: Any, key: Any) -> None:
        target = container.get(key)
        if target is None:
            target = {}
            container[key] = target
        if not isinstance(target, dict):
            raise RenderError(f"expected a mapping at {key!r} to set labels/annotations on",
                              where=where)
        target.update(values)

    for res in resources:
        gvk = res.gvk
        for fs in specs:
            if fs.gvk.selects(gvk):
                walk(res.obj, fs.segments, fs.create, True, setter, where=where)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)
