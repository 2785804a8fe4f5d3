"""The sender's answers to what a real service says: TLS, 401, 413 and 422."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.config import AgentConfig, FleetConfig, SourceConfig
from agent.errors import ReportError
from agent.report import Report, Spool, deliver
from tests.fleet.server import FleetServer, fleet_cli


def _setup(tmp_path: Path, *server_args: str, token: str | None = None
           ) -> tuple[FleetServer, AgentConfig]:
    db = str(tmp_path / "fleet.db")
    issued = str(fleet_cli("nodes", "add", "n1", "--tier", "cloud", db=db)["token"])
    token_file = tmp_path / "n1.token"
    token_file.write_text(token if token is not None else issued)
    server = FleetServer(db, tmp_path, *server_args).start()
    ca = server.verify if isinstance(server.verify, str) else None
    cfg = AgentConfig(node="n1", tier="cloud", source=SourceConfig(path=str(tmp_path)),
                      state_dir=str(tmp_path / "state"),
                      fleet=FleetConfig(url=server.url, token_file=str(token_file), ca_file=ca))
    return server, cfg


def _report(**fields: object) -> Report:
    return Report(node="n1", tier="cloud", result="applied", applied_revision="r1",
                  **fields)  # type: ignore[arg-type]


def test_reports_go_over_https_with_the_configured_ca(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server, cfg = _setup(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert cfg.fleet.url and cfg.fleet.url.startswith("https://")
        assert deliver(cfg, _report(), flush_seconds=10).sent == 1
        untrusted = AgentConfig(node=cfg.node, tier=cfg.tier, source=cfg.source,
                                state_dir=cfg.state_dir,
                                fleet=FleetConfig(url=cfg.fleet.url,
                                                  token_file=cfg.fleet.token_file))
        outcome = deliver(untrusted, _report(), flush_seconds=1)
        assert outcome.sent == 0 and outcome.pending == 1  # kept, not trusted blindly
    finally:
        server.stop()


def test_a_wrong_token_is_an_error_and_keeps_the_report(tmp_path: Path) -> None:
    server, cfg = _setup(tmp_path, token="stolen-or-stale")
    try:
        with pytest.raises(ReportError, match="HTTP 401"):
            deliver(cfg, _report(), flush_seconds=5)
        with Spool(cfg.state_path) as spool:
            assert spool.stats().pending == 1
    finally:
        server.stop()


def test_batches_too_large_for_the_service_are_split(tmp_path: Path) -> None:
    server, cfg = _setup(tmp_path, "--max-body", "4000")
    try:
        with Spool(cfg.state_path) as spool:
            for _ in range(30):
                spool.put(_report(deferred_reason=None, images=("r/x@sha256:" + "0" * 64,)))
        outcome = deliver(cfg, None, flush_seconds=20)
        assert outcome.sent == 30 and outcome.pending == 0
    finally:
        server.stop()


def test_a_report_the_service_refuses_is_set_aside_and_the_rest_flow(tmp_path: Path) -> None:
    server, cfg = _setup(tmp_path)
    try:
        with Spool(cfg.state_path) as spool:
            for i in range(5):
                spool.put(_report(health="x" * 100 if i == 2 else "Healthy"))
        outcome = deliver(cfg, None, flush_seconds=20)
        assert outcome.sent == 4 and outcome.pending == 0
        with Spool(cfg.state_path) as spool:
            assert spool.stats().rejected == 1
            reason = spool._db.execute("SELECT reason FROM rejected").fetchone()[0]
        assert "reports[2].health" in reason
    finally:
        server.stop()


def test_report_cycle_sends_a_sync_result_and_never_raises(tmp_path: Path) -> None:
    import httpx

    from agent.cycle import SyncResult
    from agent.report import report_cycle

    server, cfg = _setup(tmp_path)
    operator = str(fleet_cli("operators", "add", "ops", db=server.db)["token"])
    try:
        outcome = SyncResult(node="n1", tier="cloud", result="rolled-back", revision="good",
                             failed_revision="bad", error="health check failed",
                             health={"status": "Degraded", "objects": []})
        delivered = report_cycle(cfg, outcome, commit_time="2026-01-01T00:00:00Z")
        assert delivered.sent == 1 and delivered.error is None
        node = httpx.get(f"{server.url}/v1/nodes/n1",
                         headers={"Authorization": f"Bearer {operator}"}).json()["node"]
        assert (node["result"], node["revision"], node["desired_revision"], node["state"]) == (
            "rolled_back", "good", "bad", "failed")
        Path(str(cfg.fleet.token_file)).write_text("")
        broken = report_cycle(cfg, outcome)
        assert broken.sent == 0 and broken.error and "token file is empty" in broken.error
        assert broken.spooled and broken.pending == 1  # kept for when the token is fixed
    finally:
        server.stop()
