"""The closed set of health states and the value a rule returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class HealthStatus(StrEnum):
    healthy = "Healthy"
    progressing = "Progressing"
    degraded = "Degraded"
    suspended = "Suspended"
    missing = "Missing"
    unknown = "Unknown"

    @property
    def done(self) -> bool:
        """Nothing more will happen by waiting."""
        return self in (HealthStatus.healthy, HealthStatus.suspended, HealthStatus.degraded)


@dataclass(frozen=True)
class Health:
    status: HealthStatus
    message: str = ""


def healthy(message: str = "") -> Health:
    return Health(HealthStatus.healthy, message)


def progressing(message: str) -> Health:
    return Health(HealthStatus.progressing, message)


def degraded(message: str) -> Health:
    return Health(HealthStatus.degraded, message)


def suspended(message: str) -> Health:
    return Health(HealthStatus.suspended, message)


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if isinstance(c, Mapping) and c.get("type") == kind:
            return c
    return None


def generation_observed(obj: Mapping[str, Any]) -> bool:
    """The controller has seen the latest spec (no observedGeneration means it cannot say)."""
    observed = (obj.get("status") or {}).get("observedGeneration")
    if observed is None:
        return True
    return int(observed) >= int((obj.get("metadata") or {}).get("generation") or 0)
