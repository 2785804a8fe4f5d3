"""Health of live objects: one small rule per kind, a closed set of states.

`assess(obj)` reads the fields once whatever the object's API version; kinds
without a rule and without status conditions count as healthy once they exist.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agent.kube.health import other, pod, workloads
from agent.kube.health.status import Health, HealthStatus

Rule = Callable[[Mapping[str, Any]], Health]

RULES: dict[tuple[str, str], Rule] = {
    ("apps", "Deployment"): workloads.deployment,
    ("apps", "StatefulSet"): workloads.statefulset,
    ("apps", "DaemonSet"): workloads.daemonset,
    ("apps", "ReplicaSet"): workloads.replicaset,
    ("", "Pod"): pod.pod,
    ("batch", "Job"): pod.job,
    ("", "Service"): other.service,
    ("", "PersistentVolumeClaim"): other.pvc,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): other.crd,
}

# Built-in groups whose other kinds have no status worth waiting for.
_BUILTIN_GROUPS = frozenset({"", "apps", "batch", "rbac.authorization.k8s.io", "policy",
                             "networking.k8s.io", "storage.k8s.io", "scheduling.k8s.io",
                             "autoscaling", "coordination.k8s.io", "admissionregistration.k8s.io",
                             "apiextensions.k8s.io", "discovery.k8s.io", "node.k8s.io",
                             "certificates.k8s.io"})


def rule_for(group: str, kind: str) -> Rule | None:
    found = RULES.get((group, kind))
    if found is not None:
        return found
    if group in _BUILTIN_GROUPS:
        return None
    return other.generic


def has_rule(group: str, kind: str) -> bool:
    return rule_for(group, kind) is not None


def assess(obj: Mapping[str, Any] | None) -> Health:
    if obj is None:
        return Health(HealthStatus.missing, "object does not exist")
    api_version = str(obj.get("apiVersion", ""))
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    rule = rule_for(group, str(obj.get("kind", "")))
    if rule is None:
        return Health(HealthStatus.healthy)
    try:
        return rule(obj)
    except (TypeError, ValueError, AttributeError) as exc:
        return Health(HealthStatus.unknown, f"cannot read status: {exc}")


__all__ = ["RULES", "Health", "HealthStatus", "assess", "has_rule", "rule_for"]
