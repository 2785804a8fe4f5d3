"""The daemon under a staged rollout: held without polling Git, moved once released.

Real parts: `edge-agent run`, Git over HTTP, the API server and `fleet serve`."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from tests.daemon.node import enrolled_node, wait_until
from tests.daemon.test_daemon import set_greeting
from tests.fleet.server import FleetServer, fleet_cli
from tests.testenv.env import Env

pytestmark = [pytest.mark.git, pytest.mark.k8s, pytest.mark.slow]


def test_held_daemon_asks_the_fleet_not_git_and_moves_once_released(
        tmp_path: Path, git_env: Env, kube_env: Env,
        fleet_service: tuple[FleetServer, str]) -> None:
    ns = f"es-{uuid.uuid4().hex[:8]}"
    server, db = fleet_service
    node = enrolled_node(tmp_path, git_env, kube_env, ns=ns, tier="vehicle", db=db,
                         fleet_url=server.url)
    target = f"{ns}-vehicle"
    node.start()
    try:
        wait_until(lambda: node.configmap(target) == "hello", 60, "the bootstrap sync")
        head = set_greeting(node.fleet, "rolled")
        fleet_cli("rollout", "start", head, "--wave", "cloud:100", "--wave", "vehicle:100",
                  db=db)
        held = node.cli("trigger", "--wait", "--output", "json")
        result = json.loads(held.stdout)["result"]
        assert result["result"] == "deferred", result
        assert "has not released" in result["reason"]
        assert node.status()["phase"] == "deferred"

        # Held: re-checked at the fleet service every few seconds, never by Git.
        seen = len(node.fleet.settled_requests())
        time.sleep(6)
        assert len(node.fleet.settled_requests()) == seen, "a held node polled Git"
        assert node.configmap(target) == "hello"

        fleet_cli("rollout", "promote", "--force", db=db)
        wait_until(lambda: node.configmap(target) == "rolled", 40,
                   "the apply once the wave is released")
        assert node.status()["phase"] != "deferred"
        assert node.stop() == 0
    finally:
        if node.proc:
            node.proc.kill()
