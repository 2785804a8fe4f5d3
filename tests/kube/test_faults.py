"""Faults mid-apply: `kill -9` of a real `edge-agent sync --once` at several points, and the
apiserver going away. After the next run the node is on the new revision, every state
file parses, and the interruption is reported."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.kube import KubeClient
from tests.kube.kubefixtures import kubectl
from tests.kube.test_cycle import AGENT, cm, ns_obj, sync

pytestmark = [pytest.mark.k8s, pytest.mark.slow]

OBJECTS = 120


def names_in(kubeconfig: str, ns: str) -> set[str]:
    out = kubectl(kubeconfig, "get", "cm", "-n", ns, "-l", "app.kubernetes.io/managed-by=edgesync",
                  "-o", "jsonpath={.items[*].metadata.name}")
    return set(out.split())


def applying(state_dir: Path) -> str | None:
    try:
        data: dict[str, Any] = json.loads((state_dir / "state.json").read_text())
    except FileNotFoundError:
        return None
    return data.get("applying")


def start_sync(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([AGENT, "sync", "--once", "--config", str(config), "--output",
                             "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until_applying(proc: subprocess.Popen[str], state_dir: Path, revision_before: str
                        ) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if applying(state_dir) not in (None, revision_before):
            return
        time.sleep(0.005)


def assert_state_files_parse(state_dir: Path) -> None:
    for f in state_dir.rglob("*.json"):
        json.loads(f.read_text())  # a torn write would fail here


def count_new(kube: KubeClient, ns: str) -> int:
    items = kube.request("GET", f"/api/v1/namespaces/{ns}/configmaps")["items"]
    return sum(1 for i in items if i["metadata"]["name"].startswith("new-"))


def wait_for(proc: subprocess.Popen[str], ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and not ready():
        time.sleep(0.002)


# Kill points: before the run marks itself applying; while it validates (dry runs); once
# the first new object is written; once all are written (prune, health, record).
POINTS = ["before-apply", "validating", "first-write", "all-written"]


@pytest.mark.parametrize("when", POINTS)
def test_kill_9_then_converge(when: str, setup: Callable[..., Path], kube: KubeClient,
                              namespaces: Callable[[], str], kubeconfig: str) -> None:
    ns = namespaces()
    old = [ns_obj(ns)] + [cm(f"old-{i}", ns, v="1") for i in range(OBJECTS)]
    code, first = sync(setup(old))
    assert code == 0, first
    state_dir = setup(old).parent / "state"
    new = [ns_obj(ns)] + [cm(f"new-{i}", ns, v="2") for i in range(OBJECTS)]
    config = setup(new)

    proc = start_sync(config)
    if when == "before-apply":
        time.sleep(0.2)
    elif when == "validating":
        wait_until_applying(proc, state_dir, first["revision"])
    elif when == "first-write":
        wait_for(proc, lambda: count_new(kube, ns) > 0)
    else:
        wait_for(proc, lambda: count_new(kube, ns) == OBJECTS)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode in (-signal.SIGKILL, 0)
    assert_state_files_parse(state_dir)
    half_way = names_in(kubeconfig, ns)
    if when in ("first-write", "all-written"):
        assert proc.returncode == -signal.SIGKILL, "the run ended before the kill point"
        assert any(n.startswith("new-") for n in half_way)

    code, out = sync(config)
    assert code == 0, out
    assert out["result"] in ("applied", "unchanged")
    assert out["revision"] != first["revision"]
    assert names_in(kubeconfig, ns) == {f"new-{i}" for i in range(OBJECTS)}
    if applying(state_dir) is None and half_way not in (
            {f"old-{i}" for i in range(OBJECTS)}, {f"new-{i}" for i in range(OBJECTS)}):
        # It was killed in between: the converging run must say so.
        assert out["interrupted"], out
    assert applying(state_dir) is None
    assert not list(state_dir.rglob("*.tmp"))  # a killed write's temp file is swept
    status = json.loads(subprocess.run([AGENT, "status", "--config", str(config), "--output",
                                        "json"], capture_output=True, text=True,
                                       check=True).stdout)
    assert status["revision"] == status["last_good_revision"] == out["revision"]


def test_apiserver_away_mid_apply(kube_env: Any, setup: Callable[..., Path],
                                  namespaces: Callable[[], str], kubeconfig: str,
                                  tmp_path: Path) -> None:
    ns = namespaces()
    state_dir = tmp_path / "state"
    code, first = sync(setup([ns_obj(ns), cm("old", ns)]))
    assert code == 0, first
    config = setup([ns_obj(ns)] + [cm(f"new-{i}", ns) for i in range(OBJECTS)])
    proc = start_sync(config)
    wait_until_applying(proc, state_dir, first["revision"])
    kube_env.cut("apiserver")
    try:
        stdout, _ = proc.communicate(timeout=120)
    finally:
        kube_env.restore("apiserver")
    if proc.returncode != 0:
        out = json.loads(stdout)
        assert out["result"] == "failed"
        assert "unreachable" in out["error"]
        assert out["failed_revision"] is None  # not the revision's fault: retried next run
    code, out = sync(config)
    assert code == 0, out
    assert names_in(kubeconfig, ns) == {f"new-{i}" for i in range(OBJECTS)}
