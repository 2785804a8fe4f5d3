"""List merge keys and strategies of the Kubernetes built-in types.

Strategic merge only needs the schema for one thing: whether a list is merged
element by element (and by which keys) or replaced as a whole. Kustomize reads
that from the OpenAPI schema it embeds (Kubernetes 1.21): a list is merged
when its `x-kubernetes-patch-strategy` contains `merge`, by the keys of
`x-kubernetes-list-map-keys` when present, else by `x-kubernetes-patch-merge-key`;
a merge list without a key is a set of primitives (finalizers).

Every other list - atomic lists such as `tolerations`, `args`, RBAC `rules` and
`subjects`, and every list of a kind the schema does not know (CRDs, or a
built-in kind under an apiVersion that is not served) - is replaced wholesale.
So the table below only spells out the paths that lead to merge lists; any
field it does not name behaves exactly like a field without a merge strategy.

A schema node is a plain dict from field name to `Field`; lookups are one dict
access per level, which keeps patching thousands of objects cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Field:
    """What the schema says about one field of an object type.

    `node` is the schema of the field's value (for a list: of its elements),
    `merge` is true for lists merged element by element, and `keys` are the
    element keys such a list is merged by (empty: a set of primitives).
    """

    node: SchemaNode | None = None
    merge: bool = False
    keys: tuple[str, ...] = ()


SchemaNode = dict[str, Field]


def _obj(node: SchemaNode) -> Field:
    return Field(node=node)


def _merge(*keys: str, node: SchemaNode | None = None) -> Field:
    return Field(node=node if node is not None else {}, merge=True, keys=keys)


_CONDITIONS: Final = _merge("type")

OBJECT_META: Final[SchemaNode] = {
    "finalizers": _merge(),
    "ownerReferences": _merge("uid"),
}

CONTAINER: Final[SchemaNode] = {
    "env": _merge("name"),
    "ports": _merge("containerPort", "protocol"),
    "volumeDevices": _merge("devicePath"),
    "volumeMounts": _merge("mountPath"),
}

POD_SPEC: Final[SchemaNode] = {
    "containers": _merge("name", node=CONTAINER),
    "ephemeralContainers": _merge("name", node=CONTAINER),
    "hostAliases": _merge("ip"),
    "imagePullSecrets": _merge("name"),
    "initContainers": _merge("name", node=CONTAINER),
    "topologySpreadConstraints": _merge("topologyKey", "whenUnsatisfiable"),
    # patch strategy "merge,retainKeys": kustomize merges it by name.
    "volumes": _merge("name"),
}

POD_STATUS: Final[SchemaNode] = {"conditions": _CONDITIONS, "podIPs": _merge("ip")}

POD_TEMPLATE_SPEC: Final[SchemaNode] = {"metadata": _obj(OBJECT_META), "spec": _obj(POD_SPEC)}

_CONDITIONS_STATUS: Final[SchemaNode] = {"conditions": _CONDITIONS}


def _kind(spec: SchemaNode | None = None, status: SchemaNode | None = None) -> SchemaNode:
    node: SchemaNode = {"metadata": _obj(OBJECT_META)}
    if spec is not None:
        node["spec"] = _obj(spec)
    if status is not None:
        node["status"] = _obj(status)
    return node


_WORKLOAD: Final = _kind({"template": _obj(POD_TEMPLATE_SPEC)}, _CONDITIONS_STATUS)
_JOB_SPEC: Final[SchemaNode] = {"template": _obj(POD_TEMPLATE_SPEC)}
_JOB: Final = _kind(_JOB_SPEC, _CONDITIONS_STATUS)
_CRON_JOB: Final = _kind(
    {"jobTemplate": _obj({"metadata": _obj(OBJECT_META), "spec": _obj(_JOB_SPEC)})}
)
_WEBHOOKS: Final = {"metadata": _obj(OBJECT_META), "webhooks": _merge("name")}
_PLAIN: Final = _kind()

_CORE_PLAIN: Final = (
    "Binding ComponentStatus ConfigMap Endpoints Event LimitRange PersistentVolume "
    "ResourceQuota Secret"
)

# (apiVersion, kind) -> schema of the object, for what the embedded schema serves.
_BY_TYPE: dict[tuple[str, str], SchemaNode] = {
    ("v1", "Pod"): _kind(POD_SPEC, POD_STATUS),
    ("v1", "PodTemplate"): {"metadata": _obj(OBJECT_META), "template": _obj(POD_TEMPLATE_SPEC)},
    ("v1", "ReplicationController"): _WORKLOAD,
    ("v1", "Service"): _kind({"ports": _merge("port", "protocol")}, _CONDITIONS_STATUS),
    ("v1", "ServiceAccount"): {"metadata": _obj(OBJECT_META), "secrets": _merge("name")},
    ("v1", "Namespace"): _kind(None, _CONDITIONS_STATUS),
    ("v1", "Node"): _kind(
        {"podCIDRs": _merge()}, {"addresses": _merge("type"), "conditions": _CONDITIONS}
    ),
    ("v1", "PersistentVolumeClaim"): _kind(None, _CONDITIONS_STATUS),
    ("batch/v1", "Job"): _JOB,
    ("batch/v1", "CronJob"): _CRON_JOB,
    ("batch/v1beta1", "CronJob"): _CRON_JOB,
    ("storage.k8s.io/v1", "CSINode"): _kind({"drivers": _merge("name")}),
    ("storage.k8s.io/v1beta1", "CSINode"): _kind({"drivers": _merge("name")}),
    ("apiregistration.k8s.io/v1", "APIService"): _kind(None, _CONDITIONS_STATUS),
    ("apiregistration.k8s.io/v1beta1", "APIService"): _kind(None, _CONDITIONS_STATUS),
    ("policy/v1", "PodDisruptionBudget"): _kind(None, _CONDITIONS_STATUS),
    ("policy/v1beta1", "PodDisruptionBudget"): _kind(None, _CONDITIONS_STATUS),
}
for _k in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
    _BY_TYPE[("apps/v1", _k)] = _WORKLOAD
for _v in ("v1", "v1beta1"):
    for _k in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
        _BY_TYPE[(f"admissionregistration.k8s.io/{_v}", _k)] = _WEBHOOKS
for _k in _CORE_PLAIN.split():
    _BY_TYPE[("v1", _k)] = _PLAIN
for _av, _kinds in {
    "apps/v1": "ControllerRevision",
    "autoscaling/v1": "HorizontalPodAutoscaler",
    "autoscaling/v2beta1": "HorizontalPodAutoscaler",
    "autoscaling/v2beta2": "HorizontalPodAutoscaler",
    "networking.k8s.io/v1": "Ingress IngressClass NetworkPolicy",
    "networking.k8s.io/v1beta1": "Ingress IngressClass",
    "extensions/v1beta1": "Ingress",
    "policy/v1beta1": "PodSecurityPolicy",
    "rbac.authorization.k8s.io/v1": "Role RoleBinding ClusterRole ClusterRoleBinding",
    "rbac.authorization.k8s.io/v1beta1": "Role RoleBinding ClusterRole ClusterRoleBinding",
    "storage.k8s.io/v1": "StorageClass CSIDriver VolumeAttachment",
    "storage.k8s.io/v1beta1": "StorageClass CSIDriver VolumeAttachment CSIStorageCapacity",
    "apiextensions.k8s.io/v1": "CustomResourceDefinition",
    "apiextensions.k8s.io/v1beta1": "CustomResourceDefinition",
    "scheduling.k8s.io/v1": "PriorityClass",
    "coordination.k8s.io/v1": "Lease",
    "discovery.k8s.io/v1": "EndpointSlice",
    "discovery.k8s.io/v1beta1": "EndpointSlice",
    "node.k8s.io/v1": "RuntimeClass",
    "certificates.k8s.io/v1": "CertificateSigningRequest",
    "events.k8s.io/v1": "Event",
    "events.k8s.io/v1beta1": "Event",
    "scheduling.k8s.io/v1beta1": "PriorityClass",
    "coordination.k8s.io/v1beta1": "Lease",
    "node.k8s.io/v1beta1": "RuntimeClass",
    "certificates.k8s.io/v1beta1": "CertificateSigningRequest",
    "flowcontrol.apiserver.k8s.io/v1beta1": "FlowSchema PriorityLevelConfiguration",
}.items():
    for _k in _kinds.split():
        _BY_TYPE[(_av, _k)] = _PLAIN


def schema_for(api_version: object, kind: object) -> SchemaNode | None:
    """The schema of an object type, or None when the embedded schema has no such type."""
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return None
    return _BY_TYPE.get((api_version, kind))
