"""`image-tag`: every image names a fixed version: a tag other than `latest`, or a digest."""

from __future__ import annotations

import re
from collections.abc import Iterator

from agent.model import KubeObject
from agent.policy.model import Rule
from agent.policy.pods import containers, pod_spec
from agent.tiers import Tier

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def image_tag(image: str) -> str | None:
    """The tag of an image reference, or None; a `host:port/` prefix is not a tag."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def _check(obj: KubeObject, tier: Tier) -> Iterator[str]:
    spec = pod_spec(obj)
    if spec is None:
        return
    for c in containers(spec):
        image = c.spec.get("image")
        if not isinstance(image, str) or not image.strip():
            yield f"{c.label} has no image"
            continue
        if "@" in image:
            if _DIGEST.search(image):
                continue  # a digest pins the content whatever the tag says
            yield f"{c.label} image {image!r} has a malformed digest (want @sha256:<64 hex>)"
            continue
        tag = image_tag(image)
        if tag is None:
            yield f"{c.label} image {image!r} has no tag (which means latest); pin a version"
        elif tag == "latest":
            yield f"{c.label} image {image!r} uses the moving tag latest; pin a version"


RULE = Rule("image-tag", "images are pinned by a version tag (not latest) or a digest", _check)
