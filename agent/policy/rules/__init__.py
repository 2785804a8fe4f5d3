"""The tier policy rules, in the order they are reported."""

from __future__ import annotations

from agent.policy.model import Rule
from agent.policy.rules import (
    configmap_secrets,
    image_tag,
    readiness_probe,
    resources,
    security_context,
)

RULES: tuple[Rule, ...] = (
    image_tag.RULE,
    resources.RULE,
    security_context.RUN_AS_NON_ROOT,
    security_context.READ_ONLY_ROOT,
    security_context.NO_PRIVILEGE_ESCALATION,
    readiness_probe.RULE,
    configmap_secrets.RULE,
)
