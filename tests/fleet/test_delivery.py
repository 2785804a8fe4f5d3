"""The agent's reporter against a real `fleet serve`: outages and crashes lose nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from agent.config import AgentConfig, FleetConfig, SourceConfig
from agent.report import Report, Spool, deliver
from tests.fleet.server import FleetServer, fleet_cli

pytestmark = pytest.mark.slow


def _enrol(db: str, tmp_path: Path, node: str = "edge-1", tier: str = "edge-site-a"
           ) -> tuple[Path, str]:
    node_token = str(fleet_cli("nodes", "add", node, "--tier", tier, "--region", "eu-west",
                               db=db)["token"])
    token_file = tmp_path / f"{node}.token"
    token_file.write_text(node_token + "\n")
    operator = str(fleet_cli("operators", "add", "ops", db=db)["token"])
    return token_file, operator


def _config(tmp_path: Path, url: str, token_file: Path, node: str = "edge-1") -> AgentConfig:
    return AgentConfig(node=node, tier="edge-site-a", region="eu-west",
                       source=SourceConfig(path=str(tmp_path)),
                       state_dir=str(tmp_path / "state"),
                       fleet=FleetConfig(url=url, token_file=str(token_file)))


def _report(cfg: AgentConfig, i: int) -> Report:
    return Report(node=cfg.node, tier=cfg.tier, region=cfg.region, kind="result",
                  desired_revision=f"{i:040x}", applied_revision=f"{i:040x}",
                  commit_time="2026-01-01T00:00:00Z", apply_time="2026-01-01T00:00:05Z",
                  result="applied", health="Healthy", durations={"apply": 0.5},
                  bytes_fetched=i)


def _stored_keys(url: str, operator: str, node: str, limit: int = 20) -> list[str]:
    # /v1/nodes/{name} returns the newest reports first; reverse for arrival order.
    response = httpx.get(f"{url}/v1/nodes/{node}", headers={"Authorization":
                                                             f"Bearer {operator}"})
    assert response.status_code == 200, response.text
    return [r["idempotency_key"] for r in reversed(response.json()["reports"])][-limit:]


def _received(url: str, operator: str, node: str) -> int:
    response = httpx.get(f"{url}/v1/nodes/{node}",
                         headers={"Authorization": f"Bearer {operator}"})
    return int(response.json()["node"]["reports_received"])


@pytest.mark.parametrize("store_url", ["sqlite", pytest.param("postgres",
                                                              marks=pytest.mark.postgres)],
                         indirect=True)
def test_reports_made_while_service_is_down_arrive_once_in_order(store_url: str,
                                                                 tmp_path: Path) -> None:
    token_file, operator = _enrol(store_url, tmp_path)
    server = FleetServer(store_url, tmp_path).start()
    cfg = _config(tmp_path, server.url, token_file)
    server.stop()

    n = 15
    made = []
    for i in range(n):
        report = _report(cfg, i)
        made.append(report.idempotency_key)
        outcome = deliver(cfg, report, flush_seconds=0.2)
        assert outcome.spooled and outcome.sent == 0
        assert outcome.error is not None
    assert outcome.pending == n

    server.start()
    try:
        outcome = deliver(cfg, None, flush_seconds=30)
        assert outcome.sent == n
        assert outcome.pending == 0
        assert _stored_keys(server.url, operator, cfg.node) == made
        assert _received(server.url, operator, cfg.node) == n
        # A second flush has nothing left to send and stores nothing again.
        assert deliver(cfg, None, flush_seconds=5).sent == 0
        assert _received(server.url, operator, cfg.node) == n
    finally:
        server.stop()


SENDER = """
import sys, time
from agent.report import Sender, Spool
state, url, token = sys.argv[1:4]
with Spool(state) as spool, Sender(url, token) as sender:
    while spool.stats().pending:
        sender.flush(spool, deadline=time.monotonic() + 60, max_wait=0.3)
"""


@pytest.mark.parametrize("store_url", ["sqlite", pytest.param("postgres",
                                                              marks=pytest.mark.postgres)],
                         indirect=True)
def test_kill_9_while_sending_loses_and_doubles_nothing(store_url: str, tmp_path: Path) -> None:
    token_file, operator = _enrol(store_url, tmp_path)
    # A tight rate limit keeps the sender busy long enough to be killed mid-flight.
    server = FleetServer(store_url, tmp_path, "--rate", "4", "--burst", "1").start()
    cfg = _config(tmp_path, server.url, token_file)
    total = 1500
    with Spool(cfg.state_path) as spool:
        for i in range(total):
            spool.put(_report(cfg, i))
    token = token_file.read_text().strip()
    try:
        kills = 0
        for _attempt in range(3):
            child = subprocess.Popen([sys.executable, "-c", SENDER, str(cfg.state_path),
                                      server.url, token], cwd=Path(__file__).parents[2])
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and child.poll() is None:
                got = _received(server.url, operator, cfg.node)
                if 0 < got < total and got >= (kills + 1) * 300:
                    os.kill(child.pid, signal.SIGKILL)
                    kills += 1
                    break
                time.sleep(0.05)
            child.wait(30)
        assert kills >= 1, "the sender finished before it could be killed"
        final = subprocess.run([sys.executable, "-c", SENDER, str(cfg.state_path), server.url,
                                token], cwd=Path(__file__).parents[2], timeout=300, check=True)
        assert final.returncode == 0
        assert _received(server.url, operator, cfg.node) == total
        with Spool(cfg.state_path) as spool:
            assert spool.stats().pending == 0
        metrics = httpx.get(f"{server.url}/metrics").text
        ingested = [line for line in metrics.splitlines()
                    if line.startswith("fleet_reports_ingested_total")]
        assert ingested and float(ingested[0].split()[1]) == total
    finally:
        server.stop()


def test_a_batch_stored_but_not_acknowledged_is_not_stored_twice(tmp_path: Path) -> None:
    """The crash window kill -9 can only hit by chance, taken on purpose: the service
    has stored a batch, the node dies before marking it sent, and sends it again."""
    from agent.report import Sender

    db = str(tmp_path / "fleet.db")
    token_file, operator = _enrol(db, tmp_path)
    server = FleetServer(db, tmp_path).start()
    cfg = _config(tmp_path, server.url, token_file)
    try:
        with Spool(cfg.state_path) as spool, Sender(server.url,
                                                    token_file.read_text().strip()) as sender:
            for i in range(10):
                spool.put(_report(cfg, i))
            batch = spool.peek_batch(limit=4)
            status, body = sender._post_with_backoff(batch, None, 1.0)  # no ack: "crash"
            assert (status, body["accepted"]) == (200, 4)
            result = sender.flush(spool)
        assert (result.sent, result.duplicates, result.pending) == (6, 4, 0)
        assert _received(server.url, operator, cfg.node) == 10
    finally:
        server.stop()


@pytest.mark.postgres
def test_database_outage_is_503_and_reports_wait_on_the_node(
        request: pytest.FixtureRequest, pg_database: str, tmp_path: Path) -> None:
    env = request.getfixturevalue("pg_env")
    token_file, operator = _enrol(pg_database, tmp_path)
    server = FleetServer(pg_database, tmp_path).start()
    cfg = _config(tmp_path, server.url, token_file)
    try:
        assert deliver(cfg, _report(cfg, 0), flush_seconds=10).sent == 1
        env.cut("postgres")
        try:
            raw = httpx.post(f"{server.url}/v1/reports", headers={
                "Authorization": f"Bearer {token_file.read_text().strip()}"},
                json={"reports": [_report(cfg, 99).to_wire()]})
            assert raw.status_code == 503  # the token lookup fails: an outage, not a 401
            outcome = deliver(cfg, _report(cfg, 1), flush_seconds=3)
            assert outcome.sent == 0 and outcome.pending == 1
            assert httpx.get(f"{server.url}/v1/summary", headers={
                "Authorization": f"Bearer {operator}"}).status_code == 503
        finally:
            env.restore("postgres")
        outcome = deliver(cfg, _report(cfg, 2), flush_seconds=30)
        assert outcome.sent == 2 and outcome.pending == 0
        assert _received(server.url, operator, cfg.node) == 3
    finally:
        server.stop()
