"""Container hardening, resolved as Kubernetes resolves it.

`runAsNonRoot` and `runAsUser` may be set on the pod and overridden per container;
`readOnlyRootFilesystem`, `allowPrivilegeEscalation` and `privileged` exist only on
the container. Three rules, so each can be waived on its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from agent.model import KubeObject
from agent.policy.model import Rule
from agent.policy.pods import Container, containers, mapping, pod_spec
from agent.tiers import Tier


def _effective(key: str, container: Container, pod: Mapping[str, Any]) -> Any:
    own = mapping(container.spec.get("securityContext"))
    if key in own and own[key] is not None:
        return own[key]
    return mapping(pod.get("securityContext")).get(key)


def _run_as_non_root(obj: KubeObject, tier: Tier) -> Iterator[str]:
    spec = pod_spec(obj)
    if spec is None:
        return
    for c in containers(spec):
        user = _effective("runAsUser", c, spec)
        if user == 0:
            yield f"{c.label} runs as user 0 (root)"
        elif _effective("runAsNonRoot", c, spec) is not True:
            yield f"{c.label} does not set runAsNonRoot: true (on the container or the pod)"


def _read_only_root(obj: KubeObject, tier: Tier) -> Iterator[str]:
    spec = pod_spec(obj)
    if spec is None:
        return
    for c in containers(spec):
        if mapping(c.spec.get("securityContext")).get("readOnlyRootFilesystem") is not True:
            yield f"{c.label} does not set readOnlyRootFilesystem: true"


def _no_privilege_escalation(obj: KubeObject, tier: Tier) -> Iterator[str]:
    spec = pod_spec(obj)
    if spec is None:
        return
    for c in containers(spec):
        context = mapping(c.spec.get("securityContext"))
        if context.get("privileged") is True:
            # A privileged container can always escalate, whatever the flag says.
            yield f"{c.label} is privileged"
        elif context.get("allowPrivilegeEscalation") is not False:
            yield f"{c.label} does not set allowPrivilegeEscalation: false"


RUN_AS_NON_ROOT = Rule("run-as-non-root", "containers run as a non-root user",
                       _run_as_non_root)
READ_ONLY_ROOT = Rule("read-only-root-filesystem", "containers have a read-only root filesystem",
                      _read_only_root)
NO_PRIVILEGE_ESCALATION = Rule("no-privilege-escalation",
                               "containers cannot gain privileges",
                               _no_privilege_escalation)
