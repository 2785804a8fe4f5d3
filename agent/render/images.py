"""`images:` (ImageTagTransformer): rename, retag or pin container images.

Like Kustomize, every `containers`/`initContainers` list anywhere in an object
is visited (custom resources included), then the configured field specs. The
entries apply in order, each to the result of the previous ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agent.errors import RenderError
from agent.render.fieldspec import FieldSpec, walk
from agent.render.resource import Res

_SPECIAL = re.compile(r"[\[\]()*+?|^${}\\]")
_COVERED = re.compile(r"(^|/)(containers|initContainers)(\[\])?/image$")


@dataclass(frozen=True)
class ImageRule:
    name: str
    new_name: str = ""
    new_tag: str = ""
    digest: str = ""

    def matches(self, image: str) -> bool:
        # `*` (not a valid pattern on its own) matches every image, as in Kustomize.
        return self.name == "*" or _pattern(self.name).match(image) is not None

    def apply(self, image: str) -> str:
        name, tag, digest = split_image(image)
        if self.new_name:
            name = self.new_name
        if self.new_tag and self.digest:
            tag, digest = self.new_tag, self.digest
        elif self.new_tag:
            tag, digest = self.new_tag, ""
        elif self.digest:
            tag, digest = "", self.digest
        if tag:
            name += ":" + tag
        if digest:
            name += "@" + digest
        return name


_PATTERNS: dict[str, re.Pattern[str]] = {}
_TAIL = r"(:[a-zA-Z0-9_.{}-]*)?(@sha256:[a-zA-Z0-9_.{}-]*)?$"


def _pattern(name: str) -> re.Pattern[str]:
    pat = _PATTERNS.get(name)
    if pat is None:
        # Kustomize compiles the configured name as a regular expression, unescaped.
        try:
            pat = re.compile("^" + name + _TAIL)
        except re.error:
            pat = re.compile("^" + re.escape(name) + _TAIL)
        _PATTERNS[name] = pat
    return pat


def split_image(image: str) -> tuple[str, str, str]:
    """Kustomize's image.Split: name, tag, digest (a registry port is not a tag)."""
    slash = image.find("/")
    search, offset = (image[slash:], slash) if slash > 0 else (image, 0)
    at, colon = search.find("@"), search.find(":")
    if colon < 0 and at < 0:
        return image, "", ""
    if at >= 0 and (at < colon or colon < 0):
        return image[:at + offset], "", image[at + offset + 1:]
    if at >= 0 and colon >= 0:
        return (image[:colon + offset], image[colon + offset + 1:at + offset],
                image[at + offset + 1:])
    return image[:colon + offset], image[colon + offset + 1:], ""


def parse_rule(data: Any, where: str, field: str = "images") -> ImageRule:
    if not isinstance(data, dict):
        raise RenderError(f"{field} entries must be mappings", where=where)
    unknown = set(map(str, data)) - {"name", "newName", "newTag", "digest", "tagSuffix"}
    if unknown:
        raise RenderError(f"{field}: unknown field(s) {sorted(unknown)}", where=where)
    if "tagSuffix" in data:
        raise RenderError(f"{field}.tagSuffix is not supported", where=where)
    name = str(data.get("name") or "")
    if not name:
        raise RenderError(f"{field}: an entry needs a name", where=where)
    tag = data.get("newTag")
    return ImageRule(name, str(data.get("newName") or ""),
                     "" if tag is None else str(tag), str(data.get("digest") or ""))


class ImageRewriter:
    """Applies an ordered list of rules quickly: rules are indexed by literal name."""

    def __init__(self, rules: list[ImageRule]) -> None:
        self.rules = rules
        self.by_name: dict[str, list[int]] = {}
        self.special: list[int] = []
        for i, rule in enumerate(rules):
            if _SPECIAL.search(rule.name):
                self.special.append(i)
            else:
                self.by_name.setdefault(rule.name, []).append(i)

    def rewrite(self, image: str) -> str:
        start = 0
        while True:
            name = split_image(image)[0]
            candidates = [i for i in self.by_name.get(name, ()) if i >= start]
            candidates += [i for i in self.special if i >= start]
            hit = next((i for i in sorted(candidates) if self.rules[i].matches(image)), None)
            if hit is None:
                return image
            image = self.rules[hit].apply(image)
            start = hit + 1


def apply_images(resources: list[Res], rules: list[ImageRule], specs: list[FieldSpec], *,
                 where: str) -> None:
    if not rules:
        return
    rw = ImageRewriter(rules)

    def setter(container: Any, key: Any) -> None:
        value = container.get(key)
        if isinstance(value, str):
            container[key] = rw.rewrite(value)

    # The legacy walk already covers every containers/initContainers list.
    specs = [fs for fs in specs if not _COVERED.search(fs.path)]
    for res in resources:
        _legacy(res.obj, rw)
        gvk = res.gvk
        for fs in specs:
            if fs.gvk.selects(gvk):
                walk(res.obj, fs.segments, False, False, setter, where=where)


def _legacy(node: Any, rw: ImageRewriter) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for c in value:
                    if isinstance(c, dict) and isinstance(c.get("image"), str):
                        c["image"] = rw.rewrite(c["image"])
            if isinstance(value, (dict, list)):
                _legacy(value, rw)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)):
                _legacy(item, rw)
