"""`make demo` end to end in its short mode, then `make demo-down`.

The demo runs against the same local servers as the rest of the suite (the fixtures
start them first, so the demo starts none and its teardown stops none), in a temporary
directory instead of `.demo/`.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.testenv.env import Env

pytestmark = [pytest.mark.k8s, pytest.mark.git, pytest.mark.registry, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TIERS = {"cloud-1": "cloud", "gw-001": "edge-site-a", "car-042": "vehicle"}


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


def _reports(db: Path, node: str) -> list[dict[str, Any]]:
    """The node's reports as the fleet service stored them, oldest first."""
    from fleet.store import open_store

    store = open_store(str(db))
    try:
        return list(reversed(store.node_reports(node, 50)))
    finally:
        store.close()


def test_make_demo_short(kube_env: Env, git_env: Env, registry_env: Env,
                         tmp_path: Path) -> None:
    work = tmp_path / "demo"
    status_file = tmp_path / "status.json"
    env = {**os.environ, "EDGESYNC_DEMO_SHORT": "1", "EDGESYNC_DEMO_DIR": str(work),
           "EDGESYNC_DEMO_JSON_STATUS": str(status_file), "EDGESYNC_DEMO_KEEP_TESTENV": "1"}
    try:
        run = _make("demo", env, timeout=900)
        narration = run.stdout + run.stderr
        assert run.returncode == 0, narration[-6000:]

        repo = work / "fleet-repo"
        git = ["git", "-C", str(repo), "log", "--format=%H %s", "main"]
        log = subprocess.run(git, capture_output=True, text=True, check=True).stdout.split("\n")
        head, subject = log[0].split(" ", 1)
        assert subject.startswith("Greeting:"), log  # the demo's own commit is the newest
        seed = log[1].split(" ", 1)[0]

        status = json.loads(status_file.read_text())
        nodes = {n["name"]: n for n in status["nodes"]}
        assert {name: n["tier"] for name, n in nodes.items()} == TIERS
        assert status["latest_revision"] == head
        for tier in TIERS.values():
            assert status["tiers"][tier]["nodes"] == 1, status["tiers"]
            assert status["tiers"][tier]["on_latest"] == 1, status["tiers"]
        for name, node in nodes.items():
            assert node["revision"] == head, (name, node)
            assert node["result"] in ("applied", "unchanged"), (name, node)
            assert node["reports_received"] >= 2, (name, node)

        # The dashboard the narration points at serves the same fleet to the operator.
        recorded = json.loads((work / "demo.json").read_text())
        token = (work / "operator.token").read_text().strip()
        page = httpx.get(recorded["fleet_url"] + "/", timeout=30,
                         headers={"Authorization": f"Bearer {token}"})
        assert page.status_code == 200, page.text[:500]
        # The page lists troubled nodes by name; a healthy fleet shows up per tier.
        for tier in TIERS.values():
            assert tier in page.text, tier
        assert head[:12] in page.text
        assert httpx.get(recorded["fleet_url"] + "/v1/status", timeout=30).status_code == 401

        # The vehicle deferred while its update lock was held (first at start on the seed
        # commit, then when triggered on the new one), and applied only after the unlock.
        results = [(r["result"], r["desired_revision"]) for r in _reports(work / "fleet.db",
                                                                           "car-042")
                   if r["kind"] == "result"]
        assert results[0] == ("deferred", seed), results
        assert ("deferred", head) in results, results
        assert results[-1][0] in ("applied", "unchanged") and results[-1][1] == head, results
        first_applied = next(i for i, r in enumerate(results) if r[0] != "deferred")
        assert all(r[0] == "deferred" for r in results[:first_applied]), results
        for report in _reports(work / "fleet.db", "car-042"):
            if report["result"] == "deferred":
                assert "update lock" in report["deferred_reason"], report
                # Nothing was applied before the unlock: a deferred report must not claim
                # the revision it waits for (the status would count the node as on latest).
                assert report["applied_revision"] is None, report

        for text in ("Fleet status", "Dashboard: http://127.0.0.1:",
                     "edge-agent unlock", "deferred revision"):
            assert text in narration, text
    finally:
        down = _make("demo-down", env, timeout=180)
        assert down.returncode == 0, down.stdout + down.stderr
        assert _running(work) == []
