"""Wait until the applied objects are healthy, polling one LIST per kind."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agent.kube.client import UnreachableError
from agent.kube.health import Health, HealthStatus, assess, has_rule
from agent.kube.manager import Desired, ResourceManager, listing


@dataclass(frozen=True)
class ObjectHealth:
    subject: str
    status: HealthStatus
    message: str

    def to_json(self) -> dict[str, str]:
        return {"subject": self.subject, "status": self.status.value, "message": self.message}


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    objects: tuple[ObjectHealth, ...]
    timed_out: bool = False
    seconds: float = 0.0

    @property
    def problems(self) -> tuple[ObjectHealth, ...]:
        return tuple(o for o in self.objects if o.status not in (HealthStatus.healthy,
                                                                 HealthStatus.suspended))

    def reason(self) -> str:
        lines = [f"{o.subject}: {o.status.value}: {o.message}" for o in self.problems]
        head = "health check timed out" if self.timed_out else "health check failed"
        return head + (":" + listing(lines) if lines else "")

    def to_json(self) -> dict[str, object]:
        status = "Healthy" if self.ok else ("TimedOut" if self.timed_out else "Degraded")
        return {"status": status, "seconds": round(self.seconds, 3),
                "objects": [o.to_json() for o in self.problems]}


def check(mgr: ResourceManager, desired: Iterable[Desired]) -> tuple[ObjectHealth, ...]:
    watched = [d for d in desired if d.resource is not None
               and has_rule(d.key.group, d.key.kind)]
    live = mgr.list_owned_many(d.resource for d in watched if d.resource)
    out = []
    for d in watched:
        h: Health = assess(live.get(d.key))
        out.append(ObjectHealth(d.subject, h.status, h.message))
    return tuple(out)


def wait_healthy(mgr: ResourceManager, desired: Iterable[Desired], *, timeout: float,
                 interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> HealthReport:
    """Poll until every object is Healthy/Suspended, any is Degraded, or the timeout passes."""
    desired = list(desired)
    start = clock()
    while True:
        try:
            objects = check(mgr, desired)
        except UnreachableError:
            if clock() - start >= timeout:
                raise
            time.sleep(interval)  # the apiserver may be back before the timeout
            continue
        elapsed = clock() - start
        if any(o.status is HealthStatus.degraded for o in objects):
            return HealthReport(False, objects, seconds=elapsed)
        if all(o.status in (HealthStatus.healthy, HealthStatus.suspended) for o in objects):
            return HealthReport(True, objects, seconds=elapsed)
        if elapsed >= timeout:
            return HealthReport(False, objects, timed_out=True, seconds=elapsed)
        time.sleep(min(interval, max(0.0, timeout - elapsed)) or 0.05)
