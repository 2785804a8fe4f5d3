"""`GET /v1/rollouts/gate` on a real `fleet serve`, read by the agent's gate client."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from agent.config import AgentConfig, FleetConfig, SourceConfig
from agent.errors import ReportError
from agent.report.gate import GATE_FILE, RolloutGate, check, fetch_gate, hold_reason
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


def _node_config(tmp_path: Path, url: str, token: str, mode: str = "follow") -> AgentConfig:
    token_file = tmp_path / "node.token"
    token_file.write_text(token)
    return AgentConfig(node="e1", tier="edge-site-a", source=SourceConfig(path=str(tmp_path)),
                       state_dir=str(tmp_path / "state"),
                       fleet=FleetConfig(url=url, token_file=str(token_file), rollouts=mode))


def test_a_damaged_kept_answer_is_ignored_and_asked_again(
        fleet: tuple[FleetServer, dict[str, str], str], tmp_path: Path) -> None:
    server, tokens, db = fleet
    fleet_cli("rollout", "start", REV, "--wave", "cloud:100", "--wave", "edge-site-a:100",
              db=db)
    cfg = _node_config(tmp_path, server.url, tokens["e1"])
    kept = tmp_path / "state" / GATE_FILE
    kept.parent.mkdir()
    kept.write_text('{"rollout": "not a number"')
    assert "has not released" in str(check(cfg, REV))
    assert json.loads(kept.read_text())["revision"] == REV  # replaced by the fresh answer


def test_a_garbled_answer_falls_back_to_the_kept_one(
        fleet: tuple[FleetServer, dict[str, str], str], tmp_path: Path) -> None:
    # The real service never answers garbage; a stdlib server in the test does.
    server, tokens, db = fleet
    fleet_cli("rollout", "start", REV, "--wave", "cloud:100", "--wave", "edge-site-a:100",
              db=db)
    assert "has not released" in str(check(_node_config(tmp_path, server.url, tokens["e1"]),
                                           REV))
    kept = tmp_path / "state" / GATE_FILE
    kept.write_text(json.dumps({**json.loads(kept.read_text()), "fetched_at": 0}))  # stale

    class Garbage(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"rollout": 1, "released": "yes"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    garbage = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=garbage.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{garbage.server_address[1]}"
        with pytest.raises(ReportError, match="unexpected fields"):
            fetch_gate(url, tokens["e1"])
        # The kept answer is obeyed, in both modes, and not replaced by the garbage.
        for mode in ("follow", "require"):
            cfg = _node_config(tmp_path, url, tokens["e1"], mode)
            assert "has not released" in str(check(cfg, REV))
        assert json.loads(kept.read_text())["fetched_at"] == 0
    finally:
        garbage.shutdown()
        garbage.server_close()
