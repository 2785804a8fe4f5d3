"""Kustomize v5's built-in field-spec tables, written compactly.

Each line is `Kind[.group] path [create]`; the tables mirror Kustomize's
builtinpluginconsts so prefixes, labels, namespaces and name references land
on the same fields.
"""

from __future__ import annotations

from agent.render.fieldspec import FieldSpec, NameRefRule, TransformerConfig
from agent.render.resource import Gvk

_WORKLOADS = {  # kind -> path of its pod spec
    "Pod": "spec", "Deployment": "spec/template/spec", "ReplicaSet": "spec/template/spec",
    "DaemonSet": "spec/template/spec", "StatefulSet": "spec/template/spec",
    "Job": "spec/template/spec", "CronJob": "spec/jobTemplate/spec/template/spec",
    "ReplicationController": "spec/template/spec",
}
_CM_SECRET_KINDS = ("Pod", "Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job",
                    "CronJob")
_SA_KINDS = ("Pod", "StatefulSet", "Deployment", "ReplicationController", "CronJob", "Job",
             "DaemonSet")

_LABEL_TEMPLATE = """
* metadata/labels create
ReplicationController.v1 spec/template/metadata/labels create
Deployment spec/template/metadata/labels create
ReplicaSet spec/template/metadata/labels create
DaemonSet spec/template/metadata/labels create
StatefulSet.apps spec/template/metadata/labels create
StatefulSet.apps spec/volumeClaimTemplates[]/metadata/labels create
Job.batch spec/template/metadata/labels create
CronJob.batch spec/jobTemplate/metadata/labels create
CronJob.batch spec/jobTemplate/spec/template/metadata/labels create
"""

_AFFINITY = """
{k} spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels
{k} spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels
{k} spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels
{k} spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels
{k} spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels
"""  # noqa: E501

_COMMON_LABELS = """
Service.v1 spec/selector create
ReplicationController.v1 spec/selector create
Deployment spec/selector/matchLabels create
""" + _AFFINITY.format(k="Deployment.apps") + """
ReplicaSet spec/selector/matchLabels create
DaemonSet spec/selector/matchLabels create
StatefulSet.apps spec/selector/matchLabels create
""" + _AFFINITY.format(k="StatefulSet.apps") + """
Job.batch spec/selector/matchLabels
CronJob.batch spec/jobTemplate/spec/selector/matchLabels
PodDisruptionBudget.policy spec/selector/matchLabels
NetworkPolicy.networking.k8s.io spec/podSelector/matchLabels
NetworkPolicy.networking.k8s.io spec/ingress/from/podSelector/matchLabels
NetworkPolicy.networking.k8s.io spec/egress/to/podSelector/matchLabels
""" + _LABEL_TEMPLATE

_COMMON_ANNOTATIONS = """
* metadata/annotations create
ReplicationController.v1 spec/template/metadata/annotations create
Deployment spec/template/metadata/annotations create
ReplicaSet spec/template/metadata/annotations create
DaemonSet spec/template/metadata/annotations create
StatefulSet spec/template/metadata/annotations create
Job.batch spec/template/metadata/annotations create
CronJob.batch spec/jobTemplate/metadata/annotations create
CronJob.batch spec/jobTemplate/spec/template/metadata/annotations create
"""

_NAMESPACE = """
* metadata/namespace create
Namespace metadata/name create
RoleBinding subjects[]/namespace
ClusterRoleBinding subjects[]/namespace
APIService.apiregistration.k8s.io spec/service/namespace create
CustomResourceDefinition.apiextensions.k8s.io spec/conversion/webhook/clientConfig/service/namespace
"""

_IMAGES = """
* spec/containers[]/image create
* spec/initContainers[]/image create
* spec/template/spec/containers[]/image create
* spec/template/spec/initContainers[]/image create
"""

_REPLICAS = """
Deployment spec/replicas create
ReplicationController spec/replicas create
ReplicaSet spec/replicas create
StatefulSet spec/replicas create
"""


def _var_reference() -> str:
    lines = []
    for kind in ("CronJob", "DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet",
                 "StatefulSet"):
        base = _WORKLOADS[kind]
        for c in ("containers", "initContainers"):
            for f in ("args", "command", "env/value", "volumeMounts/mountPath"):
                lines.append(f"{kind} {base}/{c}/{f}")
        if kind != "StatefulSet":
            lines.append(f"{kind} {base}/volumes/nfs/server")
    lines += ["Ingress spec/rules/host", "Ingress spec/tls/hosts", "Ingress spec/tls/secretName",
              "Service spec/ports/port", "Service spec/ports/targetPort",
              "StatefulSet spec/volumeClaimTemplates/spec/nfs/server",
              "PersistentVolume spec/nfs/server", "* metadata/labels", "* metadata/annotations"]
    return "\n".join(lines)


def _parse(table: str) -> list[FieldSpec]:
    specs = []
    for line in table.strip().splitlines():
        if not line.strip():
            continue
        parts = line.split()
        sel, path, create = parts[0], parts[1], len(parts) > 2
        specs.append(FieldSpec(_gvk(sel), path, create))
    return specs


def _gvk(sel: str) -> Gvk:
    if sel == "*":
        return Gvk()
    kind, _, rest = sel.partition(".")
    if rest == "v1":
        return Gvk("", "v1", kind)
    return Gvk(rest, "", kind)


def _pod_refs(kinds: tuple[str, ...], tails: tuple[str, ...]) -> list[FieldSpec]:
    return [FieldSpec(Gvk("", "v1" if k == "Pod" else "", k), f"{_WORKLOADS[k]}/{t}")
            for k in kinds for t in tails]


def _name_reference() -> list[NameRefRule]:
    hpa = (FieldSpec(Gvk(kind="HorizontalPodAutoscaler"), "spec/scaleTargetRef/name"),)
    rules = [NameRefRule(Gvk(kind=k), hpa)
             for k in ("Deployment", "ReplicationController", "ReplicaSet", "StatefulSet")]
    cm_tails = ("volumes/configMap/name", "containers/env/valueFrom/configMapKeyRef/name",
                "initContainers/env/valueFrom/configMapKeyRef/name",
                "containers/envFrom/configMapRef/name",
                "initContainers/envFrom/configMapRef/name",
                "volumes/projected/sources/configMap/name")
    knative = Gvk("serving.knative.dev", "v1", "Service")
    cm = _pod_refs(_CM_SECRET_KINDS, cm_tails) + _parse("""
Node spec/configSource/configMap
Role rules/resourceNames
ClusterRole rules/resourceNames
Ingress metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap
""") + [FieldSpec(knative, "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name"),
        FieldSpec(knative, "spec/template/spec/containers/envFrom/configMapRef/name")]
    rules.append(NameRefRule(Gvk("", "v1", "ConfigMap"), tuple(cm)))
    secret_tails = ("volumes/secret/secretName", "containers/env/valueFrom/secretKeyRef/name",
                    "initContainers/env/valueFrom/secretKeyRef/name",
                    "containers/envFrom/secretRef/name", "initContainers/envFrom/secretRef/name",
                    "imagePullSecrets/name", "volumes/projected/sources/secret/name")
    secret = _pod_refs(_CM_SECRET_KINDS, secret_tails) + _parse("""
Ingress spec/tls/secretName
Ingress metadata/annotations/ingress.kubernetes.io\\/auth-secret
Ingress metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret
Ingress metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret
ServiceAccount imagePullSecrets/name
StorageClass parameters/secretName
StorageClass parameters/adminSecretName
StorageClass parameters/userSecretName
StorageClass parameters/secretRef
Role rules/resourceNames
ClusterRole rules/resourceNames
PersistentVolume spec/azureFile/secretName
""") + [FieldSpec(knative, "spec/template/spec/containers/env/valueFrom/secretKeyRef/name")]
    rules.append(NameRefRule(Gvk("", "v1", "Secret"), tuple(secret)))
    rules.append(NameRefRule(Gvk("", "v1", "Service"), tuple(_parse("""
StatefulSet.apps spec/serviceName
Ingress spec/rules/http/paths/backend/serviceName
Ingress spec/backend/serviceName
Ingress spec/rules/http/paths/backend/service/name
Ingress spec/defaultBackend/service/name
APIService.apiregistration.k8s.io spec/service/name
ValidatingWebhookConfiguration.admissionregistration.k8s.io webhooks/clientConfig/service
MutatingWebhookConfiguration.admissionregistration.k8s.io webhooks/clientConfig/service
"""))))
    rules.append(NameRefRule(Gvk("rbac.authorization.k8s.io", "", "Role"), tuple(_parse(
        "RoleBinding.rbac.authorization.k8s.io roleRef/name"))))
    rules.append(NameRefRule(Gvk("rbac.authorization.k8s.io", "", "ClusterRole"), tuple(_parse(
        "RoleBinding.rbac.authorization.k8s.io roleRef/name\n"
        "ClusterRoleBinding.rbac.authorization.k8s.io roleRef/name"))))
    sa = _parse("RoleBinding.rbac.authorization.k8s.io subjects\n"
                "ClusterRoleBinding.rbac.authorization.k8s.io subjects")
    sa += [FieldSpec(Gvk(kind=k), f"{_WORKLOADS[k]}/serviceAccountName") for k in _SA_KINDS]
    rules.append(NameRefRule(Gvk("", "v1", "ServiceAccount"), tuple(sa)))
    pvc = [FieldSpec(Gvk(kind=k), f"{_WORKLOADS[k]}/volumes/persistentVolumeClaim/claimName")
           for k in _SA_KINDS]
    rules.append(NameRefRule(Gvk("", "v1", "PersistentVolumeClaim"), tuple(pvc)))
    rules.append(NameRefRule(Gvk("", "v1", "PersistentVolume"), tuple(_parse(
        "PersistentVolumeClaim spec/volumeName\nClusterRole rules/resourceNames"))))
    rules.append(NameRefRule(Gvk("storage.k8s.io", "v1", "StorageClass"), tuple(_parse(
        "PersistentVolume spec/storageClassName\nPersistentVolumeClaim spec/storageClassName\n"
        "StatefulSet spec/volumeClaimTemplates/spec/storageClassName"))))
    prio = [FieldSpec(Gvk(kind=k), f"{_WORKLOADS[k]}/priorityClassName") for k in _SA_KINDS]
    rules.append(NameRefRule(Gvk("scheduling.k8s.io", "v1", "PriorityClass"), tuple(prio)))
    rules.append(NameRefRule(Gvk("networking.k8s.io/v1", "v1", "IngressClass"), tuple(_parse(
        "Ingress spec/ingressClassName"))))
    return rules


def build_default_config() -> TransformerConfig:
    return TransformerConfig(
        name_prefix=[FieldSpec(Gvk(), "metadata/name")],
        name_suffix=[FieldSpec(Gvk(), "metadata/name")],
        common_labels=_parse(_COMMON_LABELS),
        template_labels=_parse(_LABEL_TEMPLATE),
        common_annotations=_parse(_COMMON_ANNOTATIONS),
        namespace=_parse(_NAMESPACE),
        var_reference=_parse(_var_reference()),
        name_reference=_name_reference(),
        images=_parse(_IMAGES),
        replicas=_parse(_REPLICAS),
    )
