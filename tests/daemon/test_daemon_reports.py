"""The daemon reports to a real `fleet serve`: results at once, heartbeats on the interval,
and a service that was down gets everything the node spooled meanwhile, once."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.daemon.node import enrolled_node, wait_until
from tests.fleet.server import FleetServer
from tests.testenv.env import Env

pytestmark = [pytest.mark.git, pytest.mark.k8s, pytest.mark.slow]


def fleet_nodes(db: str) -> dict[str, dict[str, Any]]:
    out = subprocess.run([sys.executable, "-m", "fleet", "status", "--db", db, "--output",
                          "json"], capture_output=True, text=True, timeout=60, check=True)
    return {n["name"]: n for n in json.loads(out.stdout)["nodes"]}


def test_daemon_reports_results_and_heartbeats_and_catches_up(
        tmp_path: Path, git_env: Env, kube_env: Env,
        fleet_service: tuple[FleetServer, str]) -> None:
    ns = f"es-{uuid.uuid4().hex[:8]}"
    server, db = fleet_service
    node = enrolled_node(tmp_path, git_env, kube_env, ns=ns, tier="cloud", db=db,
                         fleet_url=server.url, heartbeat_interval="1s")
    repo = node.fleet
    name = str(node.data["node"])
    node.start()
    try:
        first = wait_until(lambda: fleet_nodes(db).get(name, {}).get("result") == "applied"
                           and fleet_nodes(db)[name], 60, "the first result report")
        assert first["tier"] == "cloud" and first["revision"]
        # Heartbeats keep arriving while nothing changes.
        seen = int(first["reports_received"])
        wait_until(lambda: int(fleet_nodes(db)[name]["reports_received"]) >= seen + 2,
                   30, "heartbeats")

        # The service goes away; the node keeps working and spools.
        server.stop()
        repo.write("base/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\n"
                   "metadata: {name: app}\ndata: {greeting: offline}\n")
        head = repo.commit("greeting while the fleet service is down")
        repo.push()
        wait_until(lambda: node.configmap(f"{ns}-cloud") == "offline", 60, "the new commit")
        before = int(fleet_nodes(db)[name]["reports_received"])

        server.start()
        caught_up = wait_until(
            lambda: (n := fleet_nodes(db)[name])["revision"] == head and n, 60,
            "the spooled result after the service came back")
        assert int(caught_up["reports_received"]) > before
    finally:
        if node.proc:
            assert node.stop() == 0
