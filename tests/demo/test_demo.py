"""`make demo` end to end in its short mode, then `make demo-down`.

The demo runs once for the module, against the same local servers as the rest of the
suite (the fixtures start them first, so the demo starts none and its teardown stops
none), in a temporary directory instead of `.demo/`.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.testenv.env import Env

pytestmark = [pytest.mark.k8s, pytest.mark.git, pytest.mark.registry, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TIERS = {"cloud-1": "cloud", "gw-001": "edge-site-a", "car-042": "vehicle"}


@dataclass(frozen=True)
class DemoRun:
    work: Path
    narration: str
    status: dict[str, Any]
    seed: str  # the first commit the nodes sync
    head: str  # the demo's own commit
    origins: tuple[dict[str, str], dict[str, str]]  # who owns each server, before and after

    def reports(self, node: str) -> list[dict[str, Any]]:
        """The node's reports as the fleet service stored them, oldest first."""
        from fleet.store import open_store

        store = open_store(str(self.work / "fleet.db"))
        try:
            return list(reversed(store.node_reports(node, 50)))
        finally:
            store.close()


def _make(target: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", target], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def _running(work: Path) -> list[str]:
    """Command lines of every process still using the demo directory."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(work) in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def _origins() -> dict[str, str]:
    from tests.testenv import stack

    return {name: c.origin for name, c in stack.load().components.items()}


@pytest.fixture(scope="module")
def demo(kube_env: Env, git_env: Env, registry_env: Env,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    tmp = tmp_path_factory.mktemp("demo")
    before = _origins()
    work = tmp / "demo"
    status_file = tmp / "status.json"
    env = {**os.environ, "EDGESYNC_DEMO_SHORT": "1", "EDGESYNC_DEMO_DIR": str(work),
           "EDGESYNC_DEMO_JSON_STATUS": str(status_file), "EDGESYNC_DEMO_KEEP_TESTENV": "1"}
    try:
        run = _make("demo", env, timeout=900)
        narration = run.stdout + run.stderr
        assert run.returncode == 0, narration[-6000:]
        git = ["git", "-C", str(work / "fleet-repo"), "log", "--format=%H %s", "main"]
        log = subprocess.run(git, capture_output=True, text=True, check=True).stdout.split("\n")
        head, subject = log[0].split(" ", 1)
        assert subject.startswith("Greeting:"), log  # the demo's own commit is the newest
        yield DemoRun(work=work, narration=narration, seed=log[1].split(" ", 1)[0], head=head,
                      origins=(before, _origins()),
                      status=json.loads(status_file.read_text()))
    finally:
        down = _make("demo-down", env, timeout=180)
        assert down.returncode == 0, down.stdout + down.stderr
        assert _running(work) == []


def test_every_node_ends_on_the_commit(demo: DemoRun) -> None:
    status = demo.status
    nodes = {n["name"]: n for n in status["nodes"]}
    assert {name: n["tier"] for name, n in nodes.items()} == TIERS
    assert status["latest_revision"] == demo.head
    for tier in TIERS.values():
        assert status["tiers"][tier]["nodes"] == 1, status["tiers"]
        assert status["tiers"][tier]["on_latest"] == 1, status["tiers"]
    for name, node in nodes.items():
        assert node["revision"] == demo.head, (name, node)
        assert node["result"] in ("applied", "unchanged"), (name, node)
        assert node["reports_received"] >= 2, (name, node)
    for text in ("Fleet status", "Dashboard: http://127.0.0.1:", "edge-agent unlock",
                 "deferred revision"):
        assert text in demo.narration, text


def test_vehicle_deferred_until_unlocked(demo: DemoRun) -> None:
    # Deferred while its update lock was held (first at start on the seed commit, then
    # when triggered on the new one), and applied only after the unlock.
    reports = [r for r in demo.reports("car-042") if r["kind"] == "result"]
    results = [(r["result"], r["desired_revision"]) for r in reports]
    assert results[0] == ("deferred", demo.seed), results
    assert ("deferred", demo.head) in results, results
    assert results[-1] in (("applied", demo.head), ("unchanged", demo.head)), results
    first_applied = next(i for i, r in enumerate(results) if r[0] != "deferred")
    assert all(r[0] == "deferred" for r in results[:first_applied]), results
    for report in reports[:first_applied]:
        assert "update lock" in report["deferred_reason"], report


def test_deferred_reports_claim_nothing_applied(demo: DemoRun) -> None:
    # Nothing ran on the vehicle before the unlock; a report saying otherwise makes the
    # fleet count a deferred node as on the latest revision.
    deferred = [r for r in demo.reports("car-042") if r.get("result") == "deferred"]
    assert deferred
    for report in deferred:
        assert report["applied_revision"] is None, report


def test_dashboard_serves_the_fleet_to_the_operator(demo: DemoRun) -> None:
    recorded = json.loads((demo.work / "demo.json").read_text())
    token = (demo.work / "operator.token").read_text().strip()
    page = httpx.get(recorded["fleet_url"] + "/", timeout=30,
                     headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200, page.text[:500]
    # The page lists troubled nodes by name; a healthy fleet shows up per tier.
    for tier in TIERS.values():
        assert tier in page.text, tier
    assert demo.head[:12] in page.text
    assert httpx.get(recorded["fleet_url"] + "/v1/status", timeout=30).status_code == 401


def test_demo_leaves_the_sessions_servers_to_the_session(demo: DemoRun) -> None:
    # The fixtures started the servers before the demo ran: they must stay the session's,
    # so the session stops them when it ends (adopting them as `up` left Kubernetes, Git
    # and the registry running after a test run).
    before, after = demo.origins
    assert {"kube", "git", "registry"} <= set(before)
    assert {n: after.get(n) for n in before} == before
