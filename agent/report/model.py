"""The `Report` a node sends to the fleet service after a cycle or on a heartbeat."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from agent.errors import ReportError

ReportKind = Literal["result", "heartbeat"]

# The closed set of cycle outcomes the fleet service understands.
RESULTS = ("applied", "unchanged", "deferred", "failed", "rolled_back")


def utc_now() -> str:
    """An RFC 3339 UTC timestamp with microseconds, as every report field carries it."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ObjectFailure:
    """One object that failed to apply or become healthy."""

    subject: str
    message: str


@dataclass(frozen=True)
class Report:
    """What a node tells the fleet service about one cycle (or that it is alive)."""

    node: str
    tier: str
    kind: ReportKind = "result"
    region: str | None = None
    platform: str | None = None
    agent_version: str | None = None
    desired_revision: str | None = None
    applied_revision: str | None = None
    commit_time: str | None = None
    apply_time: str | None = None
    result: str | None = None
    health: str | None = None
    failures: tuple[ObjectFailure, ...] = ()
    deferred_reason: str | None = None
    images: tuple[str, ...] = ()
    durations: Mapping[str, float] = field(default_factory=dict)
    bytes_fetched: int = 0
    # Heartbeats this node's spool has dropped so far (the size cap), told to the fleet.
    spool_dropped: int = 0
    idempotency_key: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_at: str = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        if self.kind not in ("result", "heartbeat"):
            raise ReportError(f"kind must be result or heartbeat, got {self.kind!r}",
                              where=f"report {self.idempotency_key}")
        if self.result is not None and self.result not in RESULTS:
            raise ReportError(f"result must be one of {', '.join(RESULTS)}, got {self.result!r}",
                              where=f"report {self.idempotency_key}")
        if self.kind == "result" and self.result is None:
            raise ReportError("a result report needs a result",
                              where=f"report {self.idempotency_key}")

    def to_wire(self) -> dict[str, Any]:
        """The JSON object `POST /v1/reports` accepts."""
        return {
            "idempotency_key": self.idempotency_key,
            "kind": self.kind,
            "created_at": self.created_at,
            "node": self.node,
            "tier": self.tier,
            "region": self.region,
            "platform": self.platform,
            "agent_version": self.agent_version,
            "desired_revision": self.desired_revision,
            "applied_revision": self.applied_revision,
            "commit_time": self.commit_time,
            "apply_time": self.apply_time,
            "result": self.result,
            "health": self.health,
            "failures": [{"subject": f.subject, "message": f.message} for f in self.failures],
            "deferred_reason": self.deferred_reason,
            "images": list(self.images),
            "durations": dict(self.durations),
            "bytes_fetched": self.bytes_fetched,
            "spool_dropped": self.spool_dropped,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Report:
        """Rebuild a report from `to_wire` output (the spool stores that form)."""
        try:
            failures = tuple(ObjectFailure(str(f["subject"]), str(f["message"]))
                             for f in data.get("failures") or ())
            return cls(
                node=data["node"], tier=data["tier"], kind=data["kind"],
                region=data.get("region"), platform=data.get("platform"),
                agent_version=data.get("agent_version"),
                desired_revision=data.get("desired_revision"),
                applied_revision=data.get("applied_revision"),
                commit_time=data.get("commit_time"), apply_time=data.get("apply_time"),
                result=data.get("result"), health=data.get("health"), failures=failures,
                deferred_reason=data.get("deferred_reason"),
                images=tuple(data.get("images") or ()),
                durations=dict(data.get("durations") or {}),
                bytes_fetched=int(data.get("bytes_fetched") or 0),
                spool_dropped=int(data.get("spool_dropped") or 0),
                idempotency_key=data["idempotency_key"], created_at=data["created_at"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(f"malformed spooled report: {exc}") from exc
