"""Finding and replacing container images in a rendered bundle.

Every workload kind that embeds a Pod spec is covered, and within it every
container list the kubelet pulls for: `containers`, `initContainers` and
`ephemeralContainers`. Objects are never modified in place: a changed object
is a deep copy, so the renderer's bundle stays what it rendered.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from agent.images._errors import InvalidReferenceError
from agent.model import POD_SPEC_PATHS, Bundle, KubeObject, ObjectKey

# Where the Pod spec sits in each workload kind.
_WORKLOAD_GROUPS = {"", "apps", "batch", "extensions"}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class ImageUse:
    """One `image:` field: its value, the object and the field path that hold it."""

    image: str
    subject: str
    field: str

    @property
    def where(self) -> str:
        return f"{self.subject} {self.field}"


def _pod_spec(obj: Mapping[str, Any]) -> tuple[tuple[str, ...], Any] | None:
    kind = obj.get("kind")
    api_version = str(obj.get("apiVersion", ""))
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    if not isinstance(kind, str) or kind not in POD_SPEC_PATHS or group not in _WORKLOAD_GROUPS:
        return None
    path = POD_SPEC_PATHS[kind]
    node: Any = obj
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return (path, node) if isinstance(node, Mapping) else None


def _containers(obj: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(field path of the container, container dict) for every container of a workload."""
    found = _pod_spec(obj)
    if found is None:
        return
    path, spec = found
    prefix = ".".join(path)
    for list_name in CONTAINER_LISTS:
        items = spec.get(list_name)
        if not isinstance(items, list):
            continue
        for index, container in enumerate(items):
            if isinstance(container, dict):
                label = container.get("name") if isinstance(container.get("name"), str) else index
                yield f"{prefix}.{list_name}[{label}]", container


def image_uses(bundle: Bundle) -> list[ImageUse]:
    """Every image field of the bundle, in bundle order.

    A container without `image` is skipped (the API allows that on templates for
    tools to fill in); an `image` that is not a non-empty string is an error.
    """
    uses: list[ImageUse] = []
    for obj in bundle:
        subject = ObjectKey.of(obj).subject
        for field, container in _containers(obj):
            if "image" not in container:
                continue
            image = container["image"]
            if not isinstance(image, str) or not image.strip():
                raise InvalidReferenceError(f"{field}.image must be a non-empty string, "
                                            f"got {image!r}", where=subject)
            uses.append(ImageUse(image=image, subject=subject, field=f"{field}.image"))
    return uses


def map_images(bundle: Bundle, change: Callable[[str], str]) -> Bundle:
    """A bundle where every image field is `change(image)`; untouched objects are shared."""
    objects: list[KubeObject] = []
    for obj in bundle:
        if not any(c.get("image") is not None and change(c["image"]) != c["image"]
                   for _, c in _containers(obj) if isinstance(c.get("image"), str)):
            objects.append(obj)
            continue
        copied = copy.deepcopy(obj)
        for _, container in _containers(copied):
            if isinstance(container.get("image"), str):
                container["image"] = change(container["image"])
        objects.append(copied)
    return Bundle(objects=tuple(objects))
