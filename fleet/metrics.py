"""Delivery metrics from stored result reports (the value-stream view of the fleet).

- lead time: commit → applied on a node, first time each node applied each revision;
- deployment frequency: revisions applied somewhere per day;
- change failure rate: share of attempted revisions that failed or rolled back anywhere;
- time to restore: a node's first failure in a streak → its next good result;
- convergence: share of a tier's nodes on a revision, over time since its commit.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from fleet.store.model import HistoryRow

GOOD = ("applied", "unchanged")
BAD = ("failed", "rolled_back")
ALL = "all"


@dataclass(frozen=True)
class DeliveryMetrics:
    scope: str
    window_days: float
    lead_time_median_s: float | None
    lead_time_p90_s: float | None
    deployments_per_day: float
    change_failure_rate: float | None
    time_to_restore_median_s: float | None
    revisions_deployed: int
    revisions_failed: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Convergence:
    revision: str
    scope: str
    nodes: int
    points: list[tuple[float, float]] = field(default_factory=list)  # (s after commit, %)

    def as_dict(self) -> dict[str, Any]:
        return {"revision": self.revision, "scope": self.scope, "nodes": self.nodes,
                "points": [{"seconds": s, "percent": p} for s, p in self.points]}


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..1) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def delivery_metrics(rows: Iterable[HistoryRow], window_days: float,
                     scope: str = ALL) -> DeliveryMetrics:
    picked = [r for r in rows if scope in (ALL, r.tier)]
    lead: dict[tuple[str, str], float] = {}
    deployed: set[str] = set()
    attempted: set[str] = set()
    failed: set[str] = set()
    restore: list[float] = []
    broken_since: dict[str, float] = {}
    for r in sorted(picked, key=lambda r: r.created_at):
        if r.result in GOOD or r.result in BAD:
            target = r.desired_revision or r.applied_revision
            if target:
                attempted.add(target)
        if r.result in BAD:
            if r.desired_revision:
                failed.add(r.desired_revision)
            broken_since.setdefault(r.node, r.created_at)
            continue
        if r.result in GOOD and r.node in broken_since:
            restore.append(r.created_at - broken_since.pop(r.node))
        if (r.result == "applied" and r.applied_revision
                and r.commit_time is not None and r.apply_time is not None):
            deployed.add(r.applied_revision)
            lead.setdefault((r.node, r.applied_revision),
                            max(0.0, r.apply_time - r.commit_time))
    leads = list(lead.values())
    return DeliveryMetrics(
        scope=scope, window_days=window_days,
        lead_time_median_s=percentile(leads, 0.5), lead_time_p90_s=percentile(leads, 0.9),
        deployments_per_day=len(deployed) / window_days if window_days > 0 else 0.0,
        change_failure_rate=len(failed & attempted) / len(attempted) if attempted else None,
        time_to_restore_median_s=percentile(restore, 0.5),
        revisions_deployed=len(deployed), revisions_failed=len(failed & attempted))


def convergence(rows: Iterable[HistoryRow], revision: str, nodes_in_scope: int,
                scope: str = ALL) -> Convergence:
    """Cumulative % of `nodes_in_scope` nodes that applied `revision`, by time since commit."""
    first: dict[str, float] = {}
    commit: float | None = None
    for r in rows:
        if scope not in (ALL, r.tier):
            continue
        if r.applied_revision != revision or r.result not in GOOD:
            continue
        if r.commit_time is not None and r.desired_revision == revision:
            commit = r.commit_time if commit is None else min(commit, r.commit_time)
        when = r.apply_time if r.apply_time is not None else r.created_at
        first[r.node] = min(first.get(r.node, when), when)
    if not first or nodes_in_scope <= 0:
        return Convergence(revision, scope, nodes_in_scope)
    start = commit if commit is not None else min(first.values())
    points = []
    for count, moment in enumerate(sorted(first.values()), start=1):
        points.append((round(max(0.0, moment - start), 3),
                       round(100.0 * count / nodes_in_scope, 2)))
    return Convergence(revision, scope, nodes_in_scope, points)


def metrics_report(rows: list[HistoryRow], window_days: float, tiers: Mapping[str, int],
                   revision: str | None) -> dict[str, Any]:
    """Everything the CLI and the page show: per tier and overall, plus a convergence curve."""
    scopes = [ALL, *sorted(tiers)]
    out: dict[str, Any] = {
        "window_days": window_days,
        "generated_at": time.time(),
        "delivery": [delivery_metrics(rows, window_days, s).as_dict() for s in scopes],
        "convergence": [],
    }
    if revision:
        total = sum(tiers.values())
        out["convergence"] = [convergence(rows, revision, total if s == ALL else tiers[s],
                                          s).as_dict() for s in scopes]
    return out
