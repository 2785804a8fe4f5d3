"""`replicas:` (ReplicaCountTransformer)."""

from __future__ import annotations

from typing import Any

from agent.errors import RenderError
from agent.render.fieldspec import FieldSpec, walk
from agent.render.resource import Res


def apply_replicas(resources: list[Res], name: str, count: Any, specs: list[FieldSpec], *,
                   where: str) -> None:
    if isinstance(count, bool) or not isinstance(count, int):
        raise RenderError(f"replicas[{name}].count must be an integer, got {count!r}",
                          where=where)

    def setter(container: Any, key: Any) -> None:
        container[key] = count

    found = False
    for fs in specs:
        for res in resources:
            if any(i.name == name and fs.gvk.selects(i.gvk) for i in res.all_ids()):
                found = True
                walk(res.obj, fs.segments, fs.create, False, setter, where=where)
    if not found:
        kinds = ", ".join(fs.gvk.kind or "*" for fs in specs)
        raise RenderError(f"replicas: resource with name {name!r} does not match a config "
                          f"with the following kinds: {kinds}", where=where)
