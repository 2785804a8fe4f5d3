"""The resource manager: one client, one discovery per cycle, the ownership labels.

Every object the agent applies carries two labels:

    app.kubernetes.io/managed-by: edgesync
    edgesync.io/owner: <node>

The owner label is what makes "the agent's objects" cheap to read (one LIST
per kind, label-selected, instead of a GET per object) and what prune checks
before deleting anything: an object without it was not created by this agent.
The verbs live in their own modules (apply, delete, wait, diff).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.errors import KubeError
from agent.kube.client import ApiError, KubeClient
from agent.kube.discovery import Discovery, Resource
from agent.model import Bundle, KubeObject, ObjectKey

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
OWNER_LABEL = "edgesync.io/owner"
PRUNE_ANNOTATION = "edgesync.io/prune"

_LABEL_VALUE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$")
_VOLATILE_META = ("managedFields", "resourceVersion", "generation")


def owner_value(node: str) -> str:
    """The node name as a label value (a digest when the name cannot be one)."""
    if _LABEL_VALUE.match(node):
        return node
    return "h-" + hashlib.sha256(node.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Desired:
    """A bundle object ready to apply: ownership labels set, namespace settled."""

    key: ObjectKey
    obj: KubeObject
    digest: str
    resource: Resource | None  # None while its CRD, in the same bundle, is not served yet

    @property
    def subject(self) -> str:
        return self.key.subject


def digest(obj: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:32]


def comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object without the fields every write moves, to compare dry run and live."""
    out = {k: v for k, v in obj.items() if k != "__status__"}
    meta = dict(out.get("metadata") or {})
    for k in _VOLATILE_META:
        meta.pop(k, None)
    out["metadata"] = meta
    return out


class ResourceManager:
    def __init__(self, client: KubeClient, *, node: str, field_manager: str = "edgesync"):
        self.client = client
        self.discovery = Discovery(client)
        self.node = node
        self.owner = owner_value(node)
        self.field_manager = field_manager

    @property
    def selector(self) -> str:
        return f"{OWNER_LABEL}={self.owner}"

    # -- preparing the bundle
    def prepare(self, bundle: Bundle) -> list[Desired]:
        """Label every object and find its resource; all unknown kinds are one error."""
        crd_kinds = _crd_kinds(bundle)
        out: list[Desired] = []
        problems: list[str] = []
        seen: set[ObjectKey] = set()
        for i, raw in enumerate(bundle):
            try:
                d = self._prepare_one(raw, crd_kinds)
            except KubeError as exc:
                problems.append(f"object #{i + 1} {ObjectKey.of(raw).subject}: {exc.message}")
                continue
            if d.key in seen:
                problems.append(f"{d.subject}: appears twice in the bundle")
                continue
            seen.add(d.key)
            out.append(d)
        if problems:
            raise KubeError("the bundle cannot be applied:" + listing(problems),
                            action="nothing was written")
        return out

    def _prepare_one(self, raw: Mapping[str, Any], crd_kinds: set[tuple[str, str]]) -> Desired:
        api_version, kind = raw.get("apiVersion"), raw.get("kind")
        meta = raw.get("metadata")
        if not api_version or not kind or not isinstance(meta, Mapping) or not meta.get("name"):
            raise KubeError("needs apiVersion, kind and metadata.name")
        obj: KubeObject = dict(raw)
        meta = dict(meta)
        labels = dict(meta.get("labels") or {})
        labels[MANAGED_BY_LABEL] = "edgesync"
        labels[OWNER_LABEL] = self.owner
        meta["labels"] = labels
        obj["metadata"] = meta
        resource = self.discovery.find(str(api_version), str(kind))
        if resource is None:
            group = str(api_version).rpartition("/")[0]
            if (group, str(kind)) not in crd_kinds:
                self.discovery.resolve(str(api_version), str(kind))  # raises the clear error
            namespaced = bool(meta.get("namespace"))
        else:
            namespaced = resource.namespaced
        if namespaced and not meta.get("namespace"):
            meta["namespace"] = "default"  # as kubectl does
        if not namespaced:
            meta.pop("namespace", None)
        return Desired(ObjectKey.of(obj), obj, digest(obj), resource)

    def with_resource(self, d: Desired) -> Desired:
        """Look a deferred object's resource up again (after its CRD became established)."""
        if d.resource is not None:
            return d
        res = self.discovery.resolve(str(d.obj["apiVersion"]), str(d.obj["kind"]),
                                     where=d.subject)
        return Desired(d.key, d.obj, d.digest, res)

    # -- reading
    def list_owned(self, resource: Resource) -> dict[ObjectKey, KubeObject]:
        data = self.client.request("GET", resource.collection(),
                                   params={"labelSelector": self.selector},
                                   where=f"list {resource.plural}.{resource.group or 'core'}")
        out: dict[ObjectKey, KubeObject] = {}
        for item in data.get("items") or ():
            # List items carry no apiVersion/kind; put them back so rules and keys work.
            item["apiVersion"] = resource.api_version
            item["kind"] = resource.kind
            out[ObjectKey.of(item)] = item
        return out

    def list_owned_many(self, resources: Iterable[Resource]) -> dict[ObjectKey, KubeObject]:
        live: dict[ObjectKey, KubeObject] = {}
        for result in self.client.map(self.list_owned, sorted(set(resources), key=repr)):
            if isinstance(result, BaseException):
                raise result
            live.update(result)
        return live

    # -- writing
    def apply(self, d: Desired, *, dry_run: bool, force: bool) -> KubeObject:
        if d.resource is None:
            raise KubeError(f"kind {d.key.kind} is not served yet", where=d.subject)
        params = {"fieldManager": self.field_manager, "force": "true" if force else "false"}
        if dry_run:
            params["dryRun"] = "All"
        return self.client.request(
            "PATCH", d.resource.path(d.key.namespace, d.key.name), params=params, body=d.obj,
            content_type="application/apply-patch+yaml", where=d.subject)


    def validate(self, d: Desired, *, force: bool, new_namespaces: set[str]) -> KubeObject:
        """Server-side dry-run apply; an object whose namespace the bundle itself creates
        is checked elsewhere (`dry_run_elsewhere`), since its namespace does not exist yet."""
        try:
            return self.apply(d, dry_run=True, force=force)
        except ApiError as exc:
            if exc.status == 404 and d.key.namespace in new_namespaces:
                return self.dry_run_elsewhere(d)
            raise

    def dry_run_elsewhere(self, d: Desired) -> KubeObject:
        """Validate an object whose namespace does not exist yet: a dry-run create in
        `default` under a generated name (schema, defaults, admission; no name checks)."""
        if d.resource is None:
            raise KubeError(f"kind {d.key.kind} is not served yet", where=d.subject)
        body = dict(d.obj)
        meta = {k: v for k, v in body["metadata"].items() if k != "name"}
        meta.update(namespace="default", generateName=f"{d.key.name[:40]}-edgesync-check-")
        body["metadata"] = meta
        return self.client.request("POST", d.resource.collection("default"),
                                   params={"dryRun": "All", "fieldManager": self.field_manager},
                                   body=body, where=d.subject)


def listing(problems: list[str], limit: int = 10) -> str:
    """Problems one per line, the first `limit` of them: 500 times the same reason helps nobody."""
    shown = problems[:limit]
    more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
    return "\n  " + "\n  ".join(shown) + more


def _crd_kinds(bundle: Bundle) -> set[tuple[str, str]]:
    kinds: set[tuple[str, str]] = set()
    for obj in bundle:
        if obj.get("kind") == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            kinds.add((str(spec.get("group", "")), str((spec.get("names") or {}).get("kind", ""))))
    return kinds
