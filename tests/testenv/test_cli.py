"""`python -m tests.testenv up|status|down` in a directory of its own: env.sh names the
servers, and `down` leaves no process behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.testenv import paths
from tests.testenv.procs import Running, is_alive

pytestmark = [pytest.mark.git, pytest.mark.registry, pytest.mark.slow]


def run_testenv(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.testenv", *args],
        cwd=paths.REPO,
        env={**os.environ, "EDGESYNC_TESTENV_DIR": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def exported(env_sh: Path) -> dict[str, str]:
    script = f"source {env_sh} && env -0"
    out = subprocess.run(["bash", "-c", script], capture_output=True, check=True, env={}).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


def test_up_status_down(tmp_path: Path) -> None:
    root = tmp_path / "env"
    up = run_testenv(root, "up", "git", "registry")
    assert up.returncode == 0, up.stdout + up.stderr
    variables = exported(root / "env.sh")
    assert variables["EDGESYNC_GIT_URL"].startswith("http://127.0.0.1:")
    assert variables["EDGESYNC_GIT_DAEMON_URL"].startswith("git://127.0.0.1:")
    assert variables["EDGESYNC_REGISTRY"].startswith("127.0.0.1:")
    assert variables["EDGESYNC_REGISTRY_USER"] and variables["EDGESYNC_REGISTRY_PASSWORD"]
    assert "KUBECONFIG" not in variables  # only what was started
    registry = f"http://{variables['EDGESYNC_REGISTRY']}/v2/"
    assert httpx.get(registry, timeout=5).status_code == 401

    status = run_testenv(root, "status")
    assert status.returncode == 0
    assert "DOWN" not in status.stdout

    state = json.loads((root / "state.json").read_text())
    procs = [
        Running(**record["running"])
        for component in state["components"].values()
        for record in component["procs"].values()
    ]
    assert len(procs) == 5  # lighttpd, git daemon, registry and their two forwarders
    assert all(is_alive(p) for p in procs)

    down = run_testenv(root, "down")
    assert down.returncode == 0, down.stderr
    assert not any(is_alive(p) for p in procs)
    with pytest.raises(httpx.ConnectError):
        httpx.get(registry, timeout=5)
    assert run_testenv(root, "status").returncode == 1
