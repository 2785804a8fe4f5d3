"""Rules for the controllers of apps/: Deployment, StatefulSet, DaemonSet, ReplicaSet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.kube.health.status import (
    Health,
    condition,
    degraded,
    generation_observed,
    healthy,
    progressing,
    suspended,
)

Obj = Mapping[str, Any]


def _spec(obj: Obj) -> Mapping[str, Any]:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Mapping[str, Any]:
    return obj.get("status") or {}


def deployment(obj: Obj) -> Health:
    spec, st = _spec(obj), _status(obj)
    if spec.get("paused"):
        return suspended("Deployment is paused")
    if not generation_observed(obj) or "observedGeneration" not in st:
        return progressing("Waiting for rollout to finish: the controller has not seen "
                           "the new spec yet")
    cond = condition(obj, "Progressing")
    if cond and cond.get("reason") == "ProgressDeadlineExceeded":
        return degraded(f"Deployment exceeded its progress deadline: "
                        f"{cond.get('message') or 'no progress'}")
    want = int(spec.get("replicas", 1))
    updated = int(st.get("updatedReplicas") or 0)
    total = int(st.get("replicas") or 0)
    available = int(st.get("availableReplicas") or 0)
    if updated < want:
        return progressing(f"Waiting for rollout to finish: {updated} of {want} new replicas "
                           "have been updated")
    if total > updated:
        return progressing(f"Waiting for rollout to finish: {total - updated} old replicas "
                           "are pending termination")
    if available < updated:
        return progressing(f"Waiting for rollout to finish: {available} of {updated} updated "
                           "replicas are available")
    return healthy(f"{available} of {want} replicas available")


def statefulset(obj: Obj) -> Health:
    spec, st = _spec(obj), _status(obj)
    if not generation_observed(obj) or "observedGeneration" not in st:
        return progressing("Waiting for the StatefulSet controller to see the new spec")
    want = int(spec.get("replicas", 1))
    ready = int(st.get("readyReplicas") or 0)
    if ready < want:
        return progressing(f"Waiting for {want} pods to be ready: {ready} ready")
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        return healthy("OnDelete strategy: pods update when deleted")
    partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
    updated = int(st.get("updatedReplicas") or 0)
    if updated < want - partition:
        return progressing(f"Waiting for rolling update: {updated} of {want - partition} "
                           "pods updated")
    if partition == 0 and st.get("updateRevision") and \
            st.get("currentRevision") != st.get("updateRevision"):
        return progressing("Waiting for rolling update to complete")
    return healthy(f"{ready} of {want} pods ready")


def daemonset(obj: Obj) -> Health:
    st = _status(obj)
    if not generation_observed(obj) or "observedGeneration" not in st:
        return progressing("Waiting for the DaemonSet controller to see the new spec")
    if ((_spec(obj).get("updateStrategy") or {}).get("type")) == "OnDelete":
        return healthy("OnDelete strategy: pods update when deleted")
    want = int(st.get("desiredNumberScheduled") or 0)
    updated = int(st.get("updatedNumberScheduled") or 0)
    available = int(st.get("numberAvailable") or 0)
    if updated < want:
        return progressing(f"Waiting for rollout to finish: {updated} of {want} pods updated")
    if available < want:
        return progressing(f"Waiting for rollout to finish: {available} of {want} updated "
                           "pods are available")
    return healthy(f"{available} of {want} pods available")


def replicaset(obj: Obj) -> Health:
    st = _status(obj)
    if not generation_observed(obj):
        return progressing("Waiting for the ReplicaSet controller to see the new spec")
    failure = condition(obj, "ReplicaFailure")
    if failure and failure.get("status") == "True":
        return degraded(f"ReplicaSet cannot create pods: {failure.get('message', '')}")
    want = int(_spec(obj).get("replicas", 1))
    available = int(st.get("availableReplicas") or 0)
    if available < want:
        return progressing(f"Waiting for {want} replicas to be available: {available} are")
    return healthy(f"{available} of {want} replicas available")
