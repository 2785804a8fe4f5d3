"""Plain values passed between pipeline stages."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

KubeObject = dict[str, Any]

# Where each workload kind keeps its pod spec (images, policy and health all look there).
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Identity of a Kubernetes object: group/kind/namespace/name."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectKey:
        api_version = str(obj.get("apiVersion", ""))
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        meta = obj.get("metadata") or {}
        return cls(group, str(obj.get("kind", "")), str(meta.get("namespace") or ""),
                   str(meta.get("name", "")))

    @property
    def subject(self) -> str:
        """`kind/namespace/name` (or `kind/name` when cluster-scoped), as logs print it."""
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        if self.namespace:
            return f"{kind}/{self.namespace}/{self.name}"
        return f"{kind}/{self.name}"

    def __str__(self) -> str:
        return self.subject


@dataclass(frozen=True)
class Revision:
    """One immutable checkout of the fleet repo."""

    id: str
    path: str
    commit_time: str | None = None
    signer: str | None = None
    ref: str | None = None
    bytes_fetched: int = 0


@dataclass(frozen=True)
class Bundle:
    """The ordered objects a node must run, as Kustomize would print them."""

    objects: tuple[KubeObject, ...] = field(default_factory=tuple)

    def __iter__(self) -> Iterator[KubeObject]:
        return iter(self.objects)

    def __len__(self) -> int:
        return len(self.objects)

    def keys(self) -> list[ObjectKey]:
        return [ObjectKey.of(o) for o in self.objects]
