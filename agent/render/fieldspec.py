"""Field specs: which field of which kinds a transformer touches.

The defaults are Kustomize's built-in tables (namePrefix, commonLabels,
nameReference, ...); `configurations:` and `crds:` add to them. A path is
`a/b/c`; `\\/` escapes a slash inside a key, `x[]` marks a list, and lists met
on the way are walked element by element, as Kustomize does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.errors import RenderError
from agent.render.resource import Gvk


@dataclass(frozen=True)
class FieldSpec:
    gvk: Gvk
    path: str
    create: bool = False

    @property
    def segments(self) -> tuple[str, ...]:
        return split_path(self.path)


_SPLIT_CACHE: dict[str, tuple[str, ...]] = {}


def split_path(path: str) -> tuple[str, ...]:
    cached = _SPLIT_CACHE.get(path)
    if cached is None:
        parts = re.split(r"(?<!\\)/", path)
        cached = tuple(p.replace("\\/", "/") for p in parts if p != "")
        _SPLIT_CACHE[path] = cached
    return cached


def parse_fieldspec(data: Any, where: str) -> FieldSpec:
    if not isinstance(data, dict) or not isinstance(data.get("path"), str):
        raise RenderError(f"field spec must be a mapping with a 'path': {data!r}", where=where)
    unknown = set(data) - {"path", "create", "group", "version", "kind", "apiVersion",
                           "behavior"}
    if unknown:
        raise RenderError(f"field spec has unknown field(s) {sorted(unknown)}", where=where)
    group, version = str(data.get("group") or ""), str(data.get("version") or "")
    return FieldSpec(Gvk(group, version, str(data.get("kind") or "")), data["path"],
                     bool(data.get("create", False)))


def parse_fieldspecs(data: Any, where: str) -> list[FieldSpec]:
    if data is None:
        return []
    if not isinstance(data, list):
        raise RenderError("fieldSpecs must be a list", where=where)
    return [parse_fieldspec(d, where) for d in data]


Visit = Callable[[Any, Any], None]


def walk(obj: Any, segments: tuple[str, ...], create: bool, create_map: bool,
         visit: Visit, *, where: str = "") -> None:
    """Find (maybe create) the field at `segments` and call visit(container, key).

    `create_map` says what to create for the last segment: a mapping (labels)
    or nothing but the key slot (scalars such as a namespace).
    """
    _walk(obj, segments, 0, create, create_map, visit, where)


def _walk(node: Any, segs: tuple[str, ...], i: int, create: bool, create_map: bool,  # noqa: PLR0917
          visit: Visit, where: str) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, segs, i, create, create_map, visit, where)
        return
    if node is None:
        return
    if not isinstance(node, dict):
        raise RenderError(f"expected a mapping or list at {'/'.join(segs[:i]) or '.'}, "
                          f"found {type(node).__name__}", where=where)
    seg = segs[i]
    is_seq = seg.endswith("[]")
    key = seg[:-2] if is_seq else seg
    last = i == len(segs) - 1
    value = node.get(key)
    if key not in node or value is None:
        if not create or is_seq:
            if key in node and last:
                visit(node, key)
            return
        if last:
            if create_map:
                node[key] = {}
            else:
                node.setdefault(key, None)
        else:
            node[key] = {}
    if last:
        visit(node, key)
        return
    _walk(node[key], segs, i + 1, create, create_map, visit, where)


# --- the transformer configuration (Kustomize's TransformerConfig) -------------
@dataclass(frozen=True)
class NameRefRule:
    gvk: Gvk
    referrers: tuple[FieldSpec, ...]


@dataclass
class TransformerConfig:
    name_prefix: list[FieldSpec] = field(default_factory=list)
    name_suffix: list[FieldSpec] = field(default_factory=list)
    common_labels: list[FieldSpec] = field(default_factory=list)
    template_labels: list[FieldSpec] = field(default_factory=list)
    common_annotations: list[FieldSpec] = field(default_factory=list)
    namespace: list[FieldSpec] = field(default_factory=list)
    var_reference: list[FieldSpec] = field(default_factory=list)
    name_reference: list[NameRefRule] = field(default_factory=list)
    images: list[FieldSpec] = field(default_factory=list)
    replicas: list[FieldSpec] = field(default_factory=list)

    def copy(self) -> TransformerConfig:
        return TransformerConfig(*(list(getattr(self, f)) for f in _LIST_FIELDS))

    def merge(self, other: TransformerConfig) -> None:
        for name in _LIST_FIELDS:
            if name == "name_reference":
                continue
            mine: list[FieldSpec] = getattr(self, name)
            seen = set(mine)
            mine.extend(fs for fs in getattr(other, name) if fs not in seen)
        for rule in other.name_reference:
            self.add_nameref(rule)

    def add_nameref(self, rule: NameRefRule) -> None:
        for i, existing in enumerate(self.name_reference):
            if existing.gvk == rule.gvk:
                seen = set(existing.referrers)
                merged = existing.referrers + tuple(r for r in rule.referrers if r not in seen)
                self.name_reference[i] = NameRefRule(existing.gvk, merged)
                return
        self.name_reference.append(rule)


_LIST_FIELDS = ("name_prefix", "name_suffix", "common_labels", "template_labels",
                "common_annotations", "namespace", "var_reference", "name_reference",
                "images", "replicas")
_CONFIG_KEYS = {"namePrefix": "name_prefix", "nameSuffix": "name_suffix",
                "commonLabels": "common_labels", "templateLabels": "template_labels",
                "labels": "common_labels",
                "commonAnnotations": "common_annotations", "namespace": "namespace",
                "varReference": "var_reference", "nameReference": "name_reference",
                "images": "images", "replicas": "replicas"}


def parse_config(data: Any, where: str) -> TransformerConfig:
    """A `configurations:` file: lists of field specs keyed like Kustomize's config."""
    cfg = TransformerConfig()
    if data is None:
        return cfg
    if not isinstance(data, dict):
        raise RenderError("transformer configuration must be a mapping", where=where)
    for key, value in data.items():
        attr = _CONFIG_KEYS.get(str(key))
        if attr is None:
            raise RenderError(f"unknown transformer configuration key {key!r}", where=where)
        if attr == "name_reference":
            if not isinstance(value, list):
                raise RenderError("nameReference must be a list", where=where)
            for rule in value:
                if not isinstance(rule, dict):
                    raise RenderError("nameReference entries must be mappings", where=where)
                group, version = str(rule.get("group") or ""), str(rule.get("version") or "")
                if "apiVersion" in rule:
                    from agent.render.resource import split_api_version
                    group, version = split_api_version(str(rule["apiVersion"]))
                refs = tuple(parse_fieldspecs(rule.get("fieldSpecs"), where))
                cfg.add_nameref(NameRefRule(Gvk(group, version, str(rule.get("kind") or "")),
                                            refs))
        else:
            getattr(cfg, attr).extend(parse_fieldspecs(value, where))
    return cfg


_DEFAULT: list[TransformerConfig] = []


def default_config() -> TransformerConfig:
    if not _DEFAULT:
        from agent.render.defaults import build_default_config
        _DEFAULT.append(build_default_config())
    return _DEFAULT[0].copy()
