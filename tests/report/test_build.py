"""Reports built from real `SyncResult` values of the cycle."""

from __future__ import annotations

from agent.config import AgentConfig, SourceConfig
from agent.cycle import SyncResult
from agent.report import heartbeat_report, result_report

CFG = AgentConfig(node="gw-1", tier="edge-site-a", region="eu", platform="linux/arm64",
                  source=SourceConfig(path="/tmp"))


def test_rolled_back_cycle_names_the_failed_revision_and_objects() -> None:
    outcome = SyncResult(node="gw-1", tier="edge-site-a", result="rolled-back",
                         revision="good", failed_revision="bad", error="health check failed",
                         health={"status": "Degraded", "objects": [
                             {"subject": "Deployment/app/web", "status": "Degraded",
                              "message": "0 of 2 ready"}]},
                         durations={"apply": 1.5})
    report = result_report(CFG, outcome, commit_time="2026-01-01T00:00:00Z")
    assert report.result == "rolled_back"
    assert (report.desired_revision, report.applied_revision) == ("bad", "good")
    assert report.health == "Degraded"
    assert report.failures[0].subject == "Deployment/app/web"
    assert "0 of 2 ready" in report.failures[0].message
    assert report.apply_time is None
    assert report.to_wire()["durations"] == {"apply": 1.5}


def test_applied_and_deferred_cycles() -> None:
    applied = result_report(CFG, SyncResult(node="gw-1", tier="edge-site-a", result="applied",
                                            revision="r2", health={"status": "Healthy",
                                                                   "objects": []}))
    assert applied.desired_revision == "r2" and applied.apply_time is not None
    assert applied.failures == ()
    deferred = result_report(CFG, SyncResult(node="gw-1", tier="edge-site-a",
                                             result="deferred", revision="r1",
                                             reason="update lock held"),
                             desired_revision="r2")
    assert deferred.deferred_reason == "update lock held"
    assert deferred.desired_revision == "r2"


def test_heartbeat() -> None:
    beat = heartbeat_report(CFG, applied_revision="r1", health="Healthy")
    assert beat.kind == "heartbeat" and beat.result is None
    assert beat.platform == "linux/arm64"
