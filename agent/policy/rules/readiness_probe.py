"""`readiness-probe`: a Deployment's containers say when they are ready.

Without one, a rollout counts a container as available the moment it starts, and
the agent's health check (and its rollback) would trust a broken release.
"""

from __future__ import annotations

from collections.abc import Iterator

from agent.model import KubeObject
from agent.policy.model import Rule
from agent.policy.pods import containers, mapping, pod_spec
from agent.tiers import Tier


def _check(obj: KubeObject, tier: Tier) -> Iterator[str]:
    if obj.get("kind") != "Deployment":
        return
    spec = pod_spec(obj)
    if spec is None:
        yield "has no pod template (spec.template.spec)"
        return
    for c in containers(spec, init=False):
        if not mapping(c.spec.get("readinessProbe")):
            yield f"{c.label} has no readinessProbe"


RULE = Rule("readiness-probe", "Deployment containers have a readiness probe", _check)
