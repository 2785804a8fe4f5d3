"""The fleet at a glance: counts per tier and region, as the CLI, the API and the page show."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from fleet.store import NodeStatus, SqlStore, Summary

COUNTS = ("nodes", "on_latest", "healthy", "progressing", "unhealthy", "deferred", "failed",
          "offline", "never")


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def node_dict(n: NodeStatus) -> dict[str, Any]:
    return {
        "name": n.name, "tier": n.tier, "region": n.region, "state": n.state,
        "revision": n.revision, "desired_revision": n.desired_revision, "result": n.result,
        "health": n.health, "deferred_reason": n.deferred_reason, "failures": n.failures,
        "platform": n.platform, "agent_version": n.agent_version,
        "commit_time": iso(n.commit_time), "apply_time": iso(n.apply_time),
        "last_report": iso(n.last_report), "reports_received": n.reports_received,
    }


def counts(summary: Summary) -> dict[str, Any]:
    """`tiers` (per tier), `regions` (per tier and region) and `totals`."""
    regions: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(COUNTS, 0))
    for g in summary.by_state:
        row = regions[(g.tier, g.region)]
        row["nodes"] += g.count
        if g.key in row:
            row[str(g.key)] += g.count
    for g in summary.by_revision:
        if summary.latest_revision is not None and g.key == summary.latest_revision:
            regions[(g.tier, g.region)]["on_latest"] += g.count
    tiers: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    totals = dict.fromkeys(COUNTS, 0)
    for (tier, _region), row in regions.items():
        for key, value in row.items():
            tiers[tier][key] += value
            totals[key] += value
    revisions: dict[str, int] = defaultdict(int)
    for g in summary.by_revision:
        revisions[g.key or "(none)"] += g.count
    return {
        "latest_revision": summary.latest_revision,
        "totals": totals,
        "tiers": dict(sorted(tiers.items())),
        "regions": [{"tier": t, "region": r, **row} for (t, r), row in sorted(regions.items())],
        "revisions": dict(sorted(revisions.items(), key=lambda kv: -kv[1])),
    }


def status(store: SqlStore, offline_after: float, node_limit: int = 100000) -> dict[str, Any]:
    """What `fleet status --output json` prints."""
    data = counts(store.summary(offline_after))
    data["offline_after_seconds"] = offline_after
    data["nodes"] = [node_dict(n) for n in store.list_nodes(limit=node_limit,
                                                             offline_after=offline_after)]
    return data
