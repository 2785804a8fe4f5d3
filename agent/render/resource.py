"""One object being rendered, with the identity history Kustomize keeps for it.

The object itself stays a plain dict. Beside it we keep what Kustomize keeps
in its internal build annotations: the ids the object had before each rename
(so references to an old name can be repaired), the name prefixes/suffixes
applied to it, and generator options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from agent.errors import RenderError
from agent.render.fieldpath import split_outside

# Kinds the Kubernetes API serves cluster-scoped (Kustomize learns this from its
# built-in OpenAPI document; custom kinds are namespaced unless known here).
CLUSTER_SCOPED = frozenset({
    "APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding",
    "ClusterTrustBundle", "ComponentStatus", "CSIDriver", "CSINode",
    "CustomResourceDefinition", "DeviceClass", "FlowSchema", "IngressClass", "IPAddress",
    "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
    "MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume",
    "PodSecurityPolicy", "PriorityClass", "PriorityLevelConfiguration", "ResourceSlice",
    "RuntimeClass", "SelfSubjectAccessReview", "SelfSubjectReview", "SelfSubjectRulesReview",
    "ServiceCIDR", "StorageClass", "StorageVersion", "StorageVersionMigration",
    "SubjectAccessReview", "TokenReview", "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration",
    "VolumeAttachment",
})

NO_NAMESPACE = "_non_namespaceable_"


def split_api_version(api_version: str) -> tuple[str, str]:
    group, sep, version = api_version.partition("/")
    return (group, version) if sep else ("", api_version)


@dataclass(frozen=True)
class Gvk:
    group: str = ""
    version: str = ""
    kind: str = ""

    def selects(self, other: Gvk) -> bool:
        """Kustomize's IsSelected: empty fields of self are wildcards."""
        return ((not self.group or self.group == other.group)
                and (not self.version or self.version == other.version)
                and (not self.kind or self.kind == other.kind))

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def effective_ns(kind: str, namespace: str) -> str:
    if kind in CLUSTER_SCOPED:
        return NO_NAMESPACE
    return namespace or "default"


@dataclass(frozen=True)
class ResId:
    gvk: Gvk
    name: str
    namespace: str

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.gvk.group, self.gvk.version, self.gvk.kind, self.name,
                effective_ns(self.gvk.kind, self.namespace))

    def __str__(self) -> str:
        kind = f"{self.gvk.kind}.{self.gvk.version}"
        if self.gvk.group:
            kind += f".{self.gvk.group}"
        ns = self.namespace or "[noNs]"
        return f"{kind}/{self.name}.{ns}"


class Res:
    """A Kubernetes object plus Kustomize's build-time bookkeeping."""

    __slots__ = ("allow_kind_change", "allow_name_change", "behavior", "needs_hash", "obj",
                 "origin", "prefixes", "prev", "refvars", "suffixes")

    def __init__(self, obj: dict[str, Any], origin: str | None = None) -> None:
        self.obj = obj
        self.prev: list[ResId] = []
        self.prefixes: list[str] = []
        self.suffixes: list[str] = []
        self.behavior = ""
        self.needs_hash = False
        self.origin = origin
        self.refvars: list[str] = []
        self.allow_name_change = False
        self.allow_kind_change = False

    # --- identity -----------------------------------------------------------
    @property
    def meta(self) -> dict[str, Any]:
        meta = self.obj.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
            self.obj["metadata"] = meta
        return meta

    @property
    def name(self) -> str:
        meta = self.obj.get("metadata")
        return str(meta.get("name") or "") if isinstance(meta, dict) else ""

    @name.setter
    def name(self, value: str) -> None:
        self.meta["name"] = value

    @property
    def namespace(self) -> str:
        meta = self.obj.get("metadata")
        return str(meta.get("namespace") or "") if isinstance(meta, dict) else ""

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind") or "")

    @property
    def gvk(self) -> Gvk:
        group, version = split_api_version(str(self.obj.get("apiVersion") or ""))
        return Gvk(group, version, self.kind)

    def cur_id(self) -> ResId:
        return ResId(self.gvk, self.name, self.namespace)

    def key(self) -> tuple[str, str, str, str, str]:
        """cur_id().key without building the intermediate values (hot in big trees)."""
        obj = self.obj
        api = str(obj.get("apiVersion") or "")
        group, sep, version = api.partition("/")
        if not sep:
            group, version = "", api
        kind = str(obj.get("kind") or "")
        meta = obj.get("metadata")
        name = ns = ""
        if isinstance(meta, dict):
            name = str(meta.get("name") or "")
            ns = str(meta.get("namespace") or "")
        return (group, version, kind, name, effective_ns(kind, ns))

    def org_id(self) -> ResId:
        return self.prev[0] if self.prev else self.cur_id()

    def all_ids(self) -> list[ResId]:
        return [*self.prev, self.cur_id()]

    def store_previous_id(self) -> None:
        self.prev.append(self.cur_id())

    def labels(self) -> dict[str, Any]:
        value = self.meta.get("labels")
        return value if isinstance(value, dict) else {}

    def annotations(self) -> dict[str, Any]:
        value = self.meta.get("annotations")
        return value if isinstance(value, dict) else {}

    def copy_bookkeeping_from(self, other: Res) -> None:
        self.prev = list(other.prev)
        self.prefixes = list(other.prefixes)
        self.suffixes = list(other.suffixes)
        self.behavior = other.behavior
        self.needs_hash = other.needs_hash
        self.refvars = list(other.refvars)
        if other.origin is not None:
            self.origin = other.origin

    def __repr__(self) -> str:
        return f"Res({self.cur_id()})"


def same_ending(a: list[str], b: list[str]) -> bool:
    """Kustomize's SameEndingSubSlice: the shorter list ends the longer one."""
    n = min(len(a), len(b))
    return n == 0 or a[len(a) - n:] == b[len(b) - n:]


# --- label selectors ------------------------------------------------------------
_SET_RE = re.compile(r"^\s*([^\s!=,()]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_requirements(text: str) -> list[str]:
    return [p.strip() for p in split_outside(text, ",", "(", ")") if p.strip()]


def matches_selector(selector: str, labels: dict[str, Any], *, where: str) -> bool:
    """Kubernetes label-selector syntax: a=b, a==b, a!=b, a in (x,y), a notin (x), a, !a."""
    values = {str(k): "" if v is None else str(v) for k, v in labels.items()}
    for req in _split_requirements(selector):
        m = _SET_RE.match(req)
        if m:
            key, op, items = m.group(1), m.group(2), {
                s.strip() for s in m.group(3).split(",") if s.strip()}
            if op == "in" and values.get(key) not in items:
                return False
            if op == "notin" and key in values and values[key] in items:
                return False
            continue
        if "!=" in req:
            key, _, val = (s.strip() for s in req.partition("!="))
            if values.get(key) == val:
                return False
        elif "==" in req or "=" in req:
            key, _, val = (s.strip() for s in req.partition("==" if "==" in req else "="))
            if values.get(key) != val:
                return False
        elif req.startswith("!"):
            if req[1:].strip() in values:
                return False
        elif re.fullmatch(r"[A-Za-z0-9_./-]+", req):
            if req not in values:
                return False
        else:
            raise RenderError(f"invalid label selector {selector!r}", where=where)
    return True
