"""Rules for Pod and Job."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.kube.health.status import Health, condition, degraded, healthy, progressing, suspended

# Waiting reasons that do not resolve by themselves.
_STUCK = frozenset({"ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff", "InvalidImageName",
                    "CreateContainerConfigError", "CreateContainerError", "RunContainerError"})


def pod(obj: Mapping[str, Any]) -> Health:
    st = obj.get("status") or {}
    phase = st.get("phase")
    for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _STUCK:
            return degraded(f"container {cs.get('name')} is {waiting['reason']}: "
                            f"{waiting.get('message', '')}".rstrip(": "))
    if phase == "Succeeded":
        return healthy("Pod completed")
    if phase == "Failed":
        return degraded(f"Pod failed: {st.get('message') or st.get('reason') or 'no reason'}")
    if phase == "Running":
        ready = condition(obj, "Ready")
        if ready and ready.get("status") == "True":
            return healthy("Pod is running and ready")
        return progressing("Pod is running, waiting for readiness")
    scheduled = condition(obj, "PodScheduled")
    if scheduled and scheduled.get("status") == "False":
        return progressing(f"Pod is not scheduled: {scheduled.get('message', '')}")
    return progressing(f"Pod is {phase or 'pending'}")


def job(obj: Mapping[str, Any]) -> Health:
    failed = condition(obj, "Failed")
    if failed and failed.get("status") == "True":
        return degraded(f"Job failed: {failed.get('message') or failed.get('reason', '')}")
    for done in ("Complete", "SuccessCriteriaMet"):
        c = condition(obj, done)
        if c and c.get("status") == "True":
            return healthy("Job completed")
    if (obj.get("spec") or {}).get("suspend"):
        return suspended("Job is suspended")
    active = int((obj.get("status") or {}).get("active") or 0)
    return progressing(f"Job is running ({active} active pods)")
