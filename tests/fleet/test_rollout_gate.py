"""`GET /v1/rollouts/gate` on a real `fleet serve`, read by the agent's gate client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent.errors import ReportError
from agent.report.gate import RolloutGate, fetch_gate, hold_reason
from tests.fleet.server import FleetServer, fleet_cli

REV = "a" * 40
OTHER = "b" * 40
EDGE = ("e1", "e2", "e3", "e4")


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[FleetServer, dict[str, str], str]]:
    db = str(tmp_path / "fleet.db")
    tokens = {name: str(fleet_cli("nodes", "add", name, "--tier", "edge-site-a", db=db)["token"])
              for name in EDGE}
    tokens["c1"] = str(fleet_cli("nodes", "add", "c1", "--tier", "cloud", db=db)["token"])
    server = FleetServer(db, tmp_path).start()
    try:
        yield server, tokens, db
    finally:
        server.stop()


def gates(server: FleetServer, tokens: dict[str, str]) -> dict[str, RolloutGate]:
    return {name: fetch_gate(server.url, token) for name, token in tokens.items()}


def test_no_rollout_gates_nobody(fleet: tuple[FleetServer, dict[str, str], str]) -> None:
    server, tokens, _ = fleet
    for gate in gates(server, tokens).values():
        assert (gate.rollout, gate.gated, gate.released) == (None, False, True)
        assert hold_reason(gate, REV) is None
        assert "no rollout releases" in str(hold_reason(gate, REV, require=True))
    assert "has not answered" in str(hold_reason(None, REV, require=True))
    assert hold_reason(None, REV) is None


def test_waves_release_nodes_in_order(fleet: tuple[FleetServer, dict[str, str], str]) -> None:
    server, tokens, db = fleet
    started = fleet_cli("rollout", "start", REV, "--wave", "edge-site-a:50",
                        "--wave", "edge-site-a:100", db=db)
    assert started["enforced_by_agents"] is True
    first = gates(server, tokens)
    assert (first["c1"].gated, first["c1"].released) == (False, True)  # cloud: no wave
    assert hold_reason(first["c1"], REV) is None
    assert "does not name this node's tier" in str(hold_reason(first["c1"], REV, require=True))
    edge = {n: first[n] for n in EDGE}
    early = sorted(n for n, g in edge.items() if g.released)
    assert len(early) == 2 and all(g.gated and g.state == "running" for g in edge.values())
    late = sorted(set(EDGE) - set(early))
    for name in late:
        assert "has not released" in str(hold_reason(edge[name], REV))
    for name in early:
        assert hold_reason(edge[name], REV) is None
        assert hold_reason(edge[name], REV, require=True) is None
        assert "no rollout releases" in str(hold_reason(edge[name], OTHER, require=True))
        # Mid-rollout, a released node still moves only to the rollout's revision.
        assert "waits until the rollout completes" in str(hold_reason(edge[name], OTHER))

    fleet_cli("rollout", "promote", "--force", db=db)
    second = gates(server, tokens)
    assert all(second[n].released for n in EDGE)
    # Placement is stable: a wave's nodes are a prefix of the next wave's.
    assert sorted(n for n in EDGE if first[n].released) == early

    completed = fleet_cli("rollout", "promote", "--force", db=db)
    assert completed["state"] == "completed"
    for gate in gates(server, tokens).values():
        assert gate.released and hold_reason(gate, OTHER) is None
    assert hold_reason(gates(server, tokens)["e1"], REV, require=True) is None


def test_an_aborted_revision_is_held_everywhere(
        fleet: tuple[FleetServer, dict[str, str], str]) -> None:
    server, tokens, db = fleet
    fleet_cli("rollout", "start", REV, "--wave", "edge-site-a:100", db=db)
    assert all(g.released for n, g in gates(server, tokens).items() if n in EDGE)
    fleet_cli("rollout", "abort", db=db)
    for name, gate in gates(server, tokens).items():
        if name in EDGE:
            assert gate.state == "aborted" and not gate.released
            assert "was aborted" in str(hold_reason(gate, REV))
            assert "was aborted" in str(hold_reason(gate, REV, require=True))
        else:
            assert hold_reason(gate, REV) is None
        assert hold_reason(gate, OTHER) is None  # the next commit is free


def test_the_gate_needs_a_node_token(fleet: tuple[FleetServer, dict[str, str], str],
                                     tmp_path: Path) -> None:
    server, _, db = fleet
    operator = str(fleet_cli("operators", "add", "ops", db=db)["token"])
    with pytest.raises(ReportError, match="HTTP 401"):
        fetch_gate(server.url, operator)
    anonymous = httpx.get(f"{server.url}/v1/rollouts/gate")
    assert anonymous.status_code == 401 and "node token" in json.loads(anonymous.text)["error"]
