"""Output order: Kustomize's legacy sort (kind order table, then gvk, namespace, name)."""

from __future__ import annotations

from typing import Any

from agent.errors import RenderError
from agent.render.resource import Res

ORDER_FIRST = ("Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition",
               "ServiceAccount", "PodSecurityPolicy", "Role", "ClusterRole", "RoleBinding",
               "ClusterRoleBinding", "ConfigMap", "Secret", "Endpoints", "Service",
               "LimitRange", "PriorityClass", "PersistentVolume", "PersistentVolumeClaim",
               "Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget")
ORDER_LAST = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def _legacy_gvk(group: str, version: str, kind: str) -> str:
    return f"{group or '~G'}_{version or '~V'}_{kind or '~K'}"


def sort_resources(resources: list[Res], options: Any, where: str) -> list[Res]:
    first, last = ORDER_FIRST, ORDER_LAST
    if options:
        if not isinstance(options, dict):
            raise RenderError("sortOptions must be a mapping", where=where)
        order = options.get("order", "legacy")
        if order == "fifo":
            return resources
        if order != "legacy":
            raise RenderError(f"sortOptions.order must be legacy or fifo, got {order!r}",
                              where=where)
        legacy = options.get("legacySortOptions") or {}
        if legacy:
            first = tuple(legacy.get("orderFirst") or ())
            last = tuple(legacy.get("orderLast") or ())
    rank = {k: i - len(first) for i, k in enumerate(first)}
    rank.update({k: i + 1 for i, k in enumerate(last)})

    def key(res: Res) -> tuple[int, str, str]:
        gvk = res.gvk
        return (rank.get(gvk.kind, 0), _legacy_gvk(gvk.group, gvk.version, gvk.kind),
                f"{res.namespace or '~X'}|{res.name or '~N'}")

    return sorted(resources, key=key)
