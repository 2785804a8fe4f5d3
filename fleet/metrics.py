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

from fleet.store.model import DeliveryInputs, HistoryRow

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


def inputs_from_history(rows: Iterable[HistoryRow], revision: str | None = None
                        ) -> DeliveryInputs:
    """The reference reduction, report by report (the store's SQL must agree with it)."""
    ordered = sorted(rows, key=lambda r: r.created_at)
    leads: dict[tuple[str, str, str], float] = {}
    targets: dict[tuple[str, str], bool] = {}
    failing = {r.node for r in ordered if r.result in BAD}
    arrivals: dict[tuple[str, str], tuple[float, float | None]] = {}
    for r in ordered:
        if r.result in GOOD or r.result in BAD:
            target = r.desired_revision or r.applied_revision
            if target:
                bad = r.result in BAD and bool(r.desired_revision)
                targets[(r.tier, target)] = targets.get((r.tier, target), False) or bad
        if (r.result == "applied" and r.applied_revision
                and r.commit_time is not None and r.apply_time is not None):
            key = (r.node, r.tier, r.applied_revision)
            lead = max(0.0, r.apply_time - r.commit_time)
            leads[key] = min(leads.get(key, lead), lead)
        if revision and r.applied_revision == revision and r.result in GOOD:
            when = r.apply_time if r.apply_time is not None else r.created_at
            commit = r.commit_time if r.desired_revision == revision else None
            old_when, old_commit = arrivals.get((r.node, r.tier), (when, commit))
            commits = [c for c in (old_commit, commit) if c is not None]
            arrivals[(r.node, r.tier)] = (min(old_when, when),
                                          min(commits) if commits else None)
    return DeliveryInputs(
        leads=[(n, t, rev, v) for (n, t, rev), v in leads.items()],
        targets=[(t, rev, bad) for (t, rev), bad in targets.items()],
        restore_rows=[r for r in ordered if r.node in failing],
        arrivals=[(n, t, w, c) for (n, t), (w, c) in arrivals.items()])


def delivery_from_inputs(inputs: DeliveryInputs, window_days: float,
                         scope: str = ALL) -> DeliveryMetrics:
    leads = [v for _n, tier, _rev, v in inputs.leads if scope in (ALL, tier)]
    deployed = {rev for _n, tier, rev, _v in inputs.leads if scope in (ALL, tier)}
    attempted: set[str] = set()
    failed: set[str] = set()
    for tier, rev, bad in inputs.targets:
        if scope in (ALL, tier):
            attempted.add(rev)
            if bad:
                failed.add(rev)
    restore: list[float] = []
    broken_since: dict[str, float] = {}
    for r in inputs.restore_rows:
        if scope not in (ALL, r.tier):
            continue
        if r.result in BAD:
            broken_since.setdefault(r.node, r.created_at)
        elif r.result in GOOD and r.node in broken_since:
            restore.append(r.created_at - broken_since.pop(r.node))
    return DeliveryMetrics(
        scope=scope, window_days=window_days,
        lead_time_median_s=percentile(leads, 0.5), lead_time_p90_s=percentile(leads, 0.9),
        deployments_per_day=len(deployed) / window_days if window_days > 0 else 0.0,
        change_failure_rate=len(failed) / len(attempted) if attempted else None,
        time_to_restore_median_s=percentile(restore, 0.5),
        revisions_deployed=len(deployed), revisions_failed=len(failed))


def convergence_from_inputs(inputs: DeliveryInputs, revision: str, nodes_in_scope: int,
                            scope: str = ALL) -> Convergence:
    """Cumulative % of `nodes_in_scope` nodes that run `revision`, by time since commit."""
    arrivals = [(w, c) for _n, tier, w, c in inputs.arrivals if scope in (ALL, tier)]
    if not arrivals or nodes_in_scope <= 0:
        return Convergence(revision, scope, nodes_in_scope)
    commits = [c for _w, c in arrivals if c is not None]
    start = min(commits) if commits else min(w for w, _c in arrivals)
    points = []
    for count, moment in enumerate(sorted(w for w, _c in arrivals), start=1):
        points.append((round(max(0.0, moment - start), 3),
                       round(100.0 * count / nodes_in_scope, 2)))
    return Convergence(revision, scope, nodes_in_scope, points)


def delivery_metrics(rows: Iterable[HistoryRow], window_days: float,
                     scope: str = ALL) -> DeliveryMetrics:
    return delivery_from_inputs(inputs_from_history(rows), window_days, scope)


def convergence(rows: Iterable[HistoryRow], revision: str, nodes_in_scope: int,
                scope: str = ALL) -> Convergence:
    return convergence_from_inputs(inputs_from_history(rows, revision), revision,
                                   nodes_in_scope, scope)


def metrics_report(inputs: DeliveryInputs, window_days: float, tiers: Mapping[str, int],
                   revision: str | None) -> dict[str, Any]:
    """Everything the CLI and the page show: per tier and overall, plus a convergence curve."""
    scopes = [ALL, *sorted(tiers)]
    out: dict[str, Any] = {
        "window_days": window_days,
        "generated_at": time.time(),
        "delivery": [delivery_from_inputs(inputs, window_days, s).as_dict() for s in scopes],
        "convergence": [],
    }
    if revision:
        total = sum(tiers.values())
        out["convergence"] = [convergence_from_inputs(
            inputs, revision, total if s == ALL else tiers[s], s).as_dict() for s in scopes]
    return out
