"""`resources`: every container asks for CPU and memory and is limited, within the tier caps.

Without requests the scheduler cannot place the pod on a small edge node; without
limits one container can starve the node; the caps keep a tier's workloads within
what its hardware has (a vehicle computer has far less than a cloud node).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from agent.model import KubeObject
from agent.policy.model import Rule
from agent.policy.pods import Container, containers, mapping, pod_spec
from agent.policy.quantity import QuantityError, parse_quantity
from agent.tiers import Tier

RESOURCES = ("cpu", "memory")


def _cap(tier: Tier, resource: str) -> tuple[str, Decimal] | None:
    text = tier.caps.cpu if resource == "cpu" else tier.caps.memory
    if text is None:
        return None
    return text, parse_quantity(text)


def _check_container(c: Container, tier: Tier) -> Iterator[str]:
    resources = mapping(c.spec.get("resources"))
    values: dict[tuple[str, str], tuple[object, Decimal]] = {}
    for section in ("requests", "limits"):
        given = mapping(resources.get(section))
        for resource in RESOURCES:
            raw = given.get(resource)
            if raw is None:
                yield f"{c.label} sets no {section}.{resource}"
                continue
            try:
                value = parse_quantity(raw)
            except QuantityError as exc:
                yield f"{c.label} {section}.{resource}: {exc}"
                continue
            if value < 0:
                yield f"{c.label} {section}.{resource} {raw} is negative"
                continue
            values[section, resource] = raw, value
            try:
                cap = _cap(tier, resource)
            except QuantityError as exc:
                yield f"tier {tier.name} caps.{resource}: {exc}"
                continue
            if cap is not None and value > cap[1]:
                yield (f"{c.label} {section}.{resource} {raw} exceeds the {tier.name} tier cap "
                       f"of {cap[0]}")
    for resource in RESOURCES:
        request, limit = values.get(("requests", resource)), values.get(("limits", resource))
        if request is not None and limit is not None and request[1] > limit[1]:
            yield (f"{c.label} requests more {resource} ({request[0]}) than its limit "
                   f"({limit[0]})")

def _check(obj: KubeObject, tier: Tier) -> Iterator[str]:
    spec = pod_spec(obj)
    if spec is None:
        return
    for c in containers(spec):
        yield from _check_container(c, tier)


RULE = Rule("resources",
            "every container has CPU and memory requests and limits within the tier caps",
            _check)
