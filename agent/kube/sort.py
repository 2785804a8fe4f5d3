"""Apply order: what other objects need must exist first; prune runs in reverse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Lower ranks are applied first. Everything namespaced and not listed comes last.
_RANK = {
    "CustomResourceDefinition": 0,
    "Namespace": 1,
    "ResourceQuota": 2,
    "LimitRange": 2,
    "PriorityClass": 2,
    "StorageClass": 3,
    "ClusterRole": 3,
    "ClusterRoleBinding": 4,
    "ServiceAccount": 5,
    "Role": 5,
    "RoleBinding": 6,
    "Secret": 7,
    "ConfigMap": 7,
    "PersistentVolume": 7,
    "PersistentVolumeClaim": 8,
    "Service": 9,
}
_CLUSTER_SCOPED_OTHER = 4
_NAMESPACED_OTHER = 10


def rank(obj: Mapping[str, Any], namespaced: bool) -> int:
    kind = str(obj.get("kind", ""))
    if kind in _RANK:
        return _RANK[kind]
    return _NAMESPACED_OTHER if namespaced else _CLUSTER_SCOPED_OTHER
