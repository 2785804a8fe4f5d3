"""Plain values the store reads and writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Node states, worst first: the order the dashboard lists them in.
STATES = ("failed", "unhealthy", "offline", "never", "deferred", "progressing", "healthy")


@dataclass(frozen=True)
class NodeIdentity:
    name: str
    tier: str
    region: str


@dataclass(frozen=True)
class IngestReport:
    """One validated report, times as UNIX seconds, `body` its JSON text."""

    idempotency_key: str
    node: str
    tier: str
    kind: str
    created_at: float
    desired_revision: str | None
    applied_revision: str | None
    commit_time: float | None
    apply_time: float | None
    result: str | None
    health: str | None
    deferred_reason: str | None
    failures: int
    platform: str | None
    agent_version: str | None
    body: str


@dataclass(frozen=True)
class IngestOutcome:
    accepted: int
    duplicates: int


@dataclass(frozen=True)
class NodeStatus:
    name: str
    tier: str
    region: str
    state: str
    platform: str | None
    agent_version: str | None
    desired_revision: str | None
    revision: str | None
    commit_time: float | None
    apply_time: float | None
    result: str | None
    health: str | None
    deferred_reason: str | None
    failures: int
    last_report: float | None
    reports_received: int


@dataclass(frozen=True)
class GroupCount:
    """Nodes of one tier and region in one state (or on one revision)."""

    tier: str
    region: str
    key: str | None
    count: int


@dataclass(frozen=True)
class Summary:
    latest_revision: str | None
    by_state: list[GroupCount]
    by_revision: list[GroupCount]


@dataclass(frozen=True)
class HistoryRow:
    """A result report, as the delivery metrics read it."""

    node: str
    tier: str
    created_at: float
    result: str | None
    desired_revision: str | None
    applied_revision: str | None
    commit_time: float | None
    apply_time: float | None


@dataclass(frozen=True)
class RolloutRecord:
    id: int
    revision: str
    state: str
    current_wave: int
    gate: float
    waves: list[dict[str, Any]] = field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class DeliveryInputs:
    """What the metrics need, already reduced: the store builds it with GROUP BYs, so the
    work in Python grows with nodes x revisions, not with reports."""

    # (node, tier, revision, seconds): first commit -> applied per node and revision
    leads: list[tuple[str, str, str, float]]
    # (tier, revision, failed anywhere in that tier): every revision a node tried
    targets: list[tuple[str, str, bool]]
    # every result report of the nodes that failed at least once, oldest first
    restore_rows: list[HistoryRow]
    # (node, tier, first time on `revision`, its commit time) for the convergence curve
    arrivals: list[tuple[str, str, float, float | None]] = field(default_factory=list)
