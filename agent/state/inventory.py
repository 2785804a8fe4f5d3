"""The inventory: which objects the node applied, as plain values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.model import ObjectKey


@dataclass(frozen=True, order=True)
class InventoryEntry:
    """One applied object; the apiVersion is kept so it can be deleted without the bundle."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> InventoryEntry:
        meta = obj.get("metadata") or {}
        return cls(str(obj.get("apiVersion", "")), str(obj.get("kind", "")),
                   str(meta.get("namespace") or ""), str(meta.get("name", "")))

    @property
    def key(self) -> ObjectKey:
        group = self.api_version.rpartition("/")[0] if "/" in self.api_version else ""
        return ObjectKey(group, self.kind, self.namespace, self.name)

    def to_json(self) -> list[str]:
        return [self.api_version, self.kind, self.namespace, self.name]

    @classmethod
    def from_json(cls, item: Any) -> InventoryEntry:
        api_version, kind, namespace, name = (str(x) for x in item)
        return cls(api_version, kind, namespace, name)


@dataclass(frozen=True)
class Inventory:
    """The objects of the last applied revision.

    `fingerprints` maps an object's subject to (hash of the desired object, the
    live resourceVersion seen after the last sync): when both still match, the
    object is unchanged without asking the server for a dry run.
    """

    revision: str | None = None
    entries: tuple[InventoryEntry, ...] = ()
    fingerprints: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def object_keys(self) -> set[ObjectKey]:
        return {e.key for e in self.entries}

    def to_json(self) -> dict[str, Any]:
        return {"revision": self.revision,
                "objects": [e.to_json() for e in sorted(self.entries)],
                "fingerprints": {k: list(v) for k, v in sorted(self.fingerprints.items())}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Inventory:
        fps = data.get("fingerprints") or {}
        return cls(revision=data.get("revision"),
                   entries=tuple(InventoryEntry.from_json(i) for i in data.get("objects") or ()),
                   fingerprints={str(k): (str(v[0]), str(v[1])) for k, v in fps.items()})

    @classmethod
    def union(cls, revision: str | None, parts: Iterable[Iterable[InventoryEntry]]) -> Inventory:
        merged: dict[ObjectKey, InventoryEntry] = {}
        for part in parts:
            for e in part:
                merged[e.key] = e
        return cls(revision=revision, entries=tuple(sorted(merged.values())))
