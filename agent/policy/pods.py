"""Where the pod spec and its containers live in each workload kind."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from agent.model import POD_SPEC_PATHS, KubeObject


@dataclass(frozen=True)
class Container:
    """A container with where it sits, for messages: `initContainers[0] "migrate"`."""

    spec: Mapping[str, Any]
    init: bool
    index: int

    @property
    def name(self) -> str:
        return str(self.spec.get("name") or f"#{self.index}")

    @property
    def label(self) -> str:
        return f"init container {self.name!r}" if self.init else f"container {self.name!r}"


def pod_spec(obj: KubeObject) -> Mapping[str, Any] | None:
    """The object's pod spec, or None if it has none (or it is not a mapping)."""
    path = POD_SPEC_PATHS.get(str(obj.get("kind", "")))
    if path is None:
        return None
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else None


def containers(spec: Mapping[str, Any], *, init: bool = True) -> Iterator[Container]:
    """The pod's containers, init containers first (as the kubelet starts them)."""
    fields = ("initContainers", "containers") if init else ("containers",)
    for field in fields:
        items = spec.get(field)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            yield Container(item if isinstance(item, Mapping) else {}, field != "containers",
                            index)


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one (malformed input reads as absent)."""
    return value if isinstance(value, Mapping) else {}
