"""`fleet status`, `fleet nodes list` and `fleet rollout` as scripts use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import AgentConfig, FleetConfig, SourceConfig
from agent.report import Report, deliver
from tests.fleet.server import FLEET, FleetServer, fleet_cli

REV_OLD = "1" * 40
REV_NEW = "2" * 40


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLEET, *args], capture_output=True, text=True, timeout=60,
                          check=False, env={**os.environ, "COLUMNS": "200"})


def _send(tmp: Path, url: str, token: str, node: str, tier: str, *, result: str, rev: str,
          health: str = "Healthy") -> None:
    token_file = tmp / f"{node}.token"
    token_file.write_text(token)
    cfg = AgentConfig(node=node, tier=tier, source=SourceConfig(path=str(tmp)),
                      state_dir=str(tmp / node), fleet=FleetConfig(url=url,
                                                                   token_file=str(token_file)))
    report = Report(node=node, tier=tier, result=result, desired_revision=REV_NEW,
                    applied_revision=rev, health=health,
                    commit_time="2026-05-01T00:00:00Z", apply_time="2026-05-01T00:01:00Z",
                    deferred_reason="update lock held" if result == "deferred" else None)
    assert deliver(cfg, report, flush_seconds=20).sent == 1


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, str, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("fleet-cli")
    db = str(tmp / "fleet.db")
    tokens = {}
    for name, tier in (("c1", "cloud"), ("c2", "cloud"), ("e1", "edge-site-a"),
                       ("v1", "vehicle"), ("v2", "vehicle")):
        tokens[name] = str(fleet_cli("nodes", "add", name, "--tier", tier, db=db)["token"])
    operator = str(fleet_cli("operators", "add", "ops", db=db)["token"])
    (tmp / "ops.token").write_text(operator)
    server = FleetServer(db, tmp).start()
    try:
        _send(tmp, server.url, tokens["c1"], "c1", "cloud", result="applied", rev=REV_NEW)
        _send(tmp, server.url, tokens["c2"], "c2", "cloud", result="failed", rev=REV_OLD,
              health="Degraded")
        _send(tmp, server.url, tokens["e1"], "e1", "edge-site-a", result="applied", rev=REV_NEW)
        _send(tmp, server.url, tokens["v1"], "v1", "vehicle", result="deferred", rev=REV_OLD)
        yield db, tmp, server.url, tokens
    finally:
        server.stop()


def test_status_json_from_the_store_and_the_server_agree(
        fleet: tuple[str, Path, str, dict[str, str]]) -> None:
    db, tmp, url, _ = fleet
    local = json.loads(_run("status", "--db", db, "--output", "json").stdout)
    remote = json.loads(_run("status", "--server", url, "--token-file", str(tmp / "ops.token"),
                             "--output", "json").stdout)
    for data in (local, remote):
        assert data["latest_revision"] == REV_NEW
        cloud = data["tiers"]["cloud"]
        assert (cloud["nodes"], cloud["on_latest"], cloud["healthy"], cloud["failed"]) == (
            2, 1, 1, 1)
        vehicle = data["tiers"]["vehicle"]
        assert (vehicle["nodes"], vehicle["deferred"], vehicle["never"]) == (2, 1, 1)
        nodes = {n["name"]: n for n in data["nodes"]}
        assert set(nodes) == {"c1", "c2", "e1", "v1", "v2"}
        assert nodes["c1"]["revision"] == REV_NEW and nodes["c1"]["result"] == "applied"
        assert nodes["c1"]["reports_received"] == 1 and nodes["c1"]["last_report"]
        assert nodes["v2"]["last_report"] is None and nodes["v2"]["reports_received"] == 0
        assert data["nodes"][0]["name"] == "c2"  # worst first


def test_status_table_for_humans(fleet: tuple[str, Path, str, dict[str, str]]) -> None:
    out = _run("status", "--db", fleet[0])
    assert out.returncode == 0, out.stderr
    assert "on latest" in out.stdout and "edge-site-a" in out.stdout


def test_nodes_list_filters(fleet: tuple[str, Path, str, dict[str, str]]) -> None:
    data = json.loads(_run("nodes", "list", "--db", fleet[0], "--tier", "vehicle",
                           "--output", "json").stdout)
    assert sorted(n["name"] for n in data["nodes"]) == ["v1", "v2"]
    bad = _run("nodes", "list", "--db", fleet[0], "--state", "nope")
    assert bad.returncode == 1 and "--state must be one of" in bad.stderr


def test_metrics_cli(fleet: tuple[str, Path, str, dict[str, str]]) -> None:
    out = _run("metrics", "--db", fleet[0], "--days", "365", "--output", "json")
    data = json.loads(out.stdout)
    overall = data["delivery"][0]
    assert overall["scope"] == "all"
    assert overall["lead_time_median_s"] == pytest.approx(60)
    assert overall["change_failure_rate"] == pytest.approx(1.0)  # REV_NEW failed on c2
    curve = data["convergence"][0]
    assert curve["revision"] == REV_NEW and curve["points"][-1]["percent"] == 40.0  # 2 of 5
    old = json.loads(_run("metrics", "--db", fleet[0], "--days", "365", "--revision",
                          REV_OLD, "--output", "json").stdout)
    assert old["convergence"][0]["revision"] == REV_OLD
    remote = json.loads(_run("metrics", "--server", fleet[2], "--token-file",
                             str(fleet[1] / "ops.token"), "--days", "365", "--output",
                             "json").stdout)
    assert remote["delivery"] == data["delivery"]


def test_rollout_waves_gate_on_health(fleet: tuple[str, Path, str, dict[str, str]]) -> None:
    db = fleet[0]
    started = json.loads(_run("rollout", "start", REV_NEW, "--wave", "edge-site-a:100",
                              "--wave", "cloud:100", "--gate", "1.0", "--db", db,
                              "--output", "json").stdout)
    assert started["state"] == "running" and started["enforced_by_agents"] is True
    assert started["waves"][0]["gate_passed"] is True
    promoted = json.loads(_run("rollout", "promote", "--db", db, "--output", "json").stdout)
    assert promoted["current_wave"] == 1
    # cloud has c2 failed on the old revision: the gate holds.
    held = _run("rollout", "promote", "--db", db)
    assert held.returncode == 1 and "gate is 100%" in held.stderr
    aborted = json.loads(_run("rollout", "abort", "--db", db, "--output", "json").stdout)
    assert aborted["state"] == "aborted"
    assert _run("rollout", "start", REV_NEW, "--wave", "cloud:0", "--db", db).returncode == 1


def test_help_starts_without_heavy_imports() -> None:
    code = ("import sys, fleet.cli; heavy = {'starlette', 'uvicorn', 'psycopg', 'rich', "
            "'httpx'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_without_db_the_store_is_fleet_db_in_the_working_directory(tmp_path: Path) -> None:
    out = subprocess.run([*FLEET, "nodes", "add", "solo", "--tier", "cloud", "--output",
                          "json"], cwd=tmp_path, capture_output=True, text=True, check=False,
                         env={k: v for k, v in os.environ.items() if k != "FLEET_DB"})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["name"] == "solo"
    assert (tmp_path / "fleet.db").exists()
    again = subprocess.run([*FLEET, "nodes", "add", "solo", "--tier", "cloud"], cwd=tmp_path,
                           capture_output=True, text=True, check=False)
    assert again.returncode == 1 and "node already enrolled" in again.stderr


def test_unreachable_postgres_is_a_clear_error() -> None:
    out = _run("status", "--db", "postgresql://nobody@127.0.0.1:1/none", "--output", "json")
    assert out.returncode == 1
    error = json.loads(out.stdout)
    assert error["type"] == "StoreError" and "cannot connect to PostgreSQL" in error["error"]
