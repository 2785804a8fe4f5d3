"""The namespace transformer: `namespace:` and the builtin NamespaceTransformer."""

from __future__ import annotations

from typing import Any

from agent.errors import RenderError
from agent.render.fieldspec import FieldSpec, walk
from agent.render.resource import CLUSTER_SCOPED, Res

_SUBJECT_MODES = ("defaultOnly", "allServiceAccounts", "none")


def apply_namespace(resources: list[Res], namespace: str, specs: list[FieldSpec], *,
                    unset_only: bool = False, subjects: str = "defaultOnly",
                    where: str) -> None:
    if subjects not in _SUBJECT_MODES:
        raise RenderError(f"setRoleBindingSubjects must be one of {', '.join(_SUBJECT_MODES)}",
                          where=where)
    others = [fs for fs in specs if fs.path != "metadata/namespace"]

    def setter(container: Any, key: Any) -> None:
        if unset_only and container.get(key):
            return
        container[key] = namespace

    for res in resources:
        res.store_previous_id()
        kind, gvk = res.kind, res.gvk
        if kind not in CLUSTER_SCOPED:
            setter(res.meta, "namespace")
        active = others
        if kind in ("RoleBinding", "ClusterRoleBinding"):
            active = [fs for fs in others
                      if not (fs.gvk.kind in ("RoleBinding", "ClusterRoleBinding")
                              and fs.path.startswith("subjects"))]
            _subjects(res.obj, subjects, setter)
        for fs in active:
            if fs.gvk.selects(gvk):
                walk(res.obj, fs.segments, fs.create, False, setter, where=where)
    seen: set[tuple[str, ...]] = set()
    for res in resources:
        key = res.cur_id().key
        if key in seen:
            raise RenderError(f"namespace transformation produces ID conflict: {res.cur_id()}",
                              where=where)
        seen.add(key)


def _subjects(obj: dict[str, Any], mode: str, setter: Any) -> None:
    subjects = obj.get("subjects")
    if mode == "none" or not isinstance(subjects, list):
        return
    for subject in subjects:
        if not isinstance(subject, dict):
            continue
        if (mode == "defaultOnly" and subject.get("name") == "default") or (
                mode == "allServiceAccounts" and subject.get("kind") == "ServiceAccount"):
            setter(subject, "namespace")
