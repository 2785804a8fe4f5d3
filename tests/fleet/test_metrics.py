"""Delivery metrics from a hand-made history with known answers."""

from __future__ import annotations

import pytest

from fleet.metrics import convergence, delivery_metrics, percentile
from fleet.store import HistoryRow

T0 = 1_700_000_000.0


def row(node: str, t: float, result: str, rev: str, *, tier: str = "cloud",
        commit: float = T0, applied: str | None = None) -> HistoryRow:
    applied_rev = applied if applied is not None else (rev if result == "applied" else None)
    return HistoryRow(node=node, tier=tier, created_at=T0 + t, result=result,
                      desired_revision=rev, applied_revision=applied_rev,
                      commit_time=commit, apply_time=T0 + t)


HISTORY = [
    row("a", 10, "applied", "r1"),
    row("b", 30, "applied", "r1"),
    row("c", 100, "applied", "r1", tier="vehicle"),
    row("a", 200, "failed", "r2", commit=T0 + 150),
    row("a", 260, "applied", "r3", commit=T0 + 250),
    row("b", 300, "unchanged", "r1", applied="r1"),
]


def test_percentile_interpolates() -> None:
    assert percentile([10, 20, 30, 40], 0.5) == 25
    assert percentile([10.0], 0.9) == 10.0
    assert percentile([], 0.5) is None


def test_overall_delivery_metrics() -> None:
    m = delivery_metrics(HISTORY, window_days=2)
    # lead times: a/r1 10, b/r1 30, c/r1 100, a/r3 10
    assert m.lead_time_median_s == pytest.approx(20)
    assert m.lead_time_p90_s == pytest.approx(79)
    assert m.revisions_deployed == 2
    assert m.deployments_per_day == pytest.approx(1.0)
    assert m.change_failure_rate == pytest.approx(1 / 3)
    assert m.time_to_restore_median_s == pytest.approx(60)


def test_per_tier_scope() -> None:
    m = delivery_metrics(HISTORY, window_days=1, scope="vehicle")
    assert m.lead_time_median_s == pytest.approx(100)
    assert m.change_failure_rate == 0
    assert m.time_to_restore_median_s is None


def test_convergence_curve_counts_each_node_once() -> None:
    curve = convergence(HISTORY, "r1", nodes_in_scope=4)
    assert curve.points == [(10.0, 25.0), (30.0, 50.0), (100.0, 75.0)]
    cloud = convergence(HISTORY, "r1", nodes_in_scope=2, scope="cloud")
    assert cloud.points[-1] == (30.0, 100.0)
