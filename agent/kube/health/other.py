"""Rules for Service, PersistentVolumeClaim, CustomResourceDefinition and custom resources."""

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
)


def service(obj: Mapping[str, Any]) -> Health:
    if (obj.get("spec") or {}).get("type") != "LoadBalancer":
        return healthy()
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress")
    if ingress:
        return healthy("load balancer has an ingress")
    return progressing("Waiting for the load balancer to get an ingress address")


def pvc(obj: Mapping[str, Any]) -> Health:
    phase = (obj.get("status") or {}).get("phase")
    if phase == "Bound":
        return healthy("claim is bound")
    if phase == "Lost":
        return degraded("claim lost its volume")
    return progressing("Waiting for the claim to be bound")


def crd(obj: Mapping[str, Any]) -> Health:
    names = condition(obj, "NamesAccepted")
    if names and names.get("status") == "False":
        return degraded(f"CRD names not accepted: {names.get('message', '')}")
    established = condition(obj, "Established")
    if established and established.get("status") == "True":
        return healthy("CRD is established")
    return progressing("Waiting for the CRD to be established")


def generic(obj: Mapping[str, Any]) -> Health:
    """Custom resources: the usual Ready / Available conditions, when they have any."""
    if not generation_observed(obj):
        return progressing("Waiting for the controller to see the new spec")
    stalled = condition(obj, "Stalled")
    if stalled and stalled.get("status") == "True":
        return degraded(f"Stalled: {stalled.get('message') or stalled.get('reason', '')}")
    for kind in ("Ready", "Available"):
        c = condition(obj, kind)
        if c is None:
            continue
        if c.get("status") == "True":
            return healthy(str(c.get("message") or f"{kind}"))
        return progressing(f"{kind} is {c.get('status')}: "
                           f"{c.get('message') or c.get('reason') or 'no reason given'}")
    return healthy("no health conditions")
