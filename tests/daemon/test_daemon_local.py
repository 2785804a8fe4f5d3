"""Daemon parts that need no cluster: notify protocol, logs, control socket, offline start."""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from agent.config import AgentConfig
from agent.daemon_control import signature_ok
from agent.daemon_log import EventLog
from agent.daemon_notify import notify, watchdog_interval
from agent.dataload import load_dataclass
from agent.source import git as gitsource
from tests.daemon.node import AGENT, REPO, NotifyListener, fleet_files, wait_until
from tests.source.fleetrepo import FleetRepo


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_notify_reaches_a_datagram_listener(tmp_path: Path, kind: str) -> None:
    address = str(tmp_path / "notify") if kind == "path" else f"@es-{uuid.uuid4().hex[:8]}"
    listener = NotifyListener(address)
    try:
        assert notify("READY=1", "STATUS=two\nlines", env={"NOTIFY_SOCKET": address})
        listener.wait_for("READY=1", 5)
        assert "STATUS=two lines" in listener.lines()
    finally:
        listener.close()
    assert not notify("READY=1", env={})
    assert not notify("READY=1", env={"NOTIFY_SOCKET": str(tmp_path / "nobody")})


def test_watchdog_interval_is_half_the_timeout() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "4000000"}) == 2.0
    assert watchdog_interval({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "4000000",
                              "WATCHDOG_PID": str(os.getpid())}) == 2.0
    assert watchdog_interval({}) is None


def test_log_lines_are_structured_and_redacted() -> None:
    out = io.StringIO()
    EventLog("json", out)("failed", error="https://u:pw@git.example/x: refused", failures=2)
    record = json.loads(out.getvalue())
    assert record["event"] == "failed" and record["failures"] == 2
    assert "pw" not in record["error"] and "***@git.example" in record["error"]
    out = io.StringIO()
    EventLog("kv", out)("synced", revision="abc", changes={"created": 1}, note="two words")
    line = out.getvalue()
    assert " event=synced " in line and " revision=abc " in line
    assert 'note="two words"' in line and 'changes="{\\"created\\": 1}"' in line


def test_webhook_signature_check() -> None:
    import hashlib
    import hmac

    body = b'{"ref":"refs/heads/main"}'
    good = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert signature_ok(b"k", body, f"sha256={good}")
    assert signature_ok(b"k", body, good)
    assert not signature_ok(b"k", body + b" ", f"sha256={good}")
    assert not signature_ok(b"other", body, f"sha256={good}")
    assert not signature_ok(b"k", body, None)


@pytest.mark.slow
def test_starts_offline_and_serves_the_revision_on_disk(tmp_path: Path) -> None:
    fleet = FleetRepo(tmp_path / "remote", files=fleet_files("offline"))
    data = {
        "node": "n-offline", "tier": "cloud", "state_dir": str(tmp_path / "state"),
        "source": {"url": fleet.url},
        "kube": {"kubeconfig": str(tmp_path / "no-cluster-here")},
        "daemon": {"socket": str(tmp_path / "run/agent.sock"),
                   "lock_file": str(tmp_path / "run/update.lock"),
                   "metrics_listen": None, "log_format": "json"},
    }
    rev = gitsource.resolve(load_dataclass(AgentConfig, data))
    # The Git server is gone when the node boots.
    data["source"] = {"url": "http://127.0.0.1:9/git/fleet.git"}
    config = tmp_path / "agent.yaml"
    config.write_text(yaml.safe_dump(data))
    listener = NotifyListener(f"@es-{uuid.uuid4().hex[:8]}")
    log = tmp_path / "daemon.log"
    proc = subprocess.Popen([*AGENT, "run", "--config", str(config)], cwd=REPO,
                            env={**os.environ, "NOTIFY_SOCKET": listener.address},
                            stderr=open(log, "w"))  # noqa: SIM115
    try:
        listener.wait_for("READY=1", 30)
        sock = Path(data["daemon"]["socket"])  # type: ignore[index]
        assert stat.S_IMODE(sock.stat().st_mode) == 0o660
        status_cmd = [*AGENT, "trigger", "--config", str(config), "--wait", "--output", "json"]
        out = subprocess.run(status_cmd, capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 1
        reply = json.loads(out.stdout)
        assert reply["ok"] and reply["result"]["result"] == "failed"
        from agent.daemon_control import request

        status = wait_until(lambda: (s := request(str(sock), {"op": "status"})["status"])
                            ["failures"] >= 1 and s, 30, "a failed poll")
        assert status["source_revision"] == rev.id
        assert status["mode"] == "realtime"
        assert status["phase"] == "backoff"
        assert "ls-remote failed" in status["last_error"]
        bad = request(str(sock), {"op": "explode"})
        assert not bad["ok"] and "unknown op" in bad["error"]
        proc.terminate()
        assert proc.wait(30) == 0
        listener.wait_for("STOPPING=1", 5)
        assert not sock.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        listener.close()


@pytest.mark.slow
def test_second_daemon_on_the_same_socket_is_refused(tmp_path: Path) -> None:
    fleet = FleetRepo(tmp_path / "remote", files=fleet_files("twice"))
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    socket_port = busy.getsockname()[1]
    data = {
        "node": "n-twice", "tier": "vehicle", "state_dir": str(tmp_path / "state"),
        "source": {"url": fleet.url}, "kube": {"kubeconfig": str(tmp_path / "none")},
        "daemon": {"socket": str(tmp_path / "agent.sock"), "lock_file": str(tmp_path / "lock"),
                   "metrics_listen": None},
    }
    config = tmp_path / "agent.yaml"
    config.write_text(yaml.safe_dump(data))
    first = subprocess.Popen([*AGENT, "run", "--config", str(config)], cwd=REPO,
                             stderr=subprocess.DEVNULL)
    try:
        wait_until((tmp_path / "agent.sock").exists, 30, "first daemon")
        second = subprocess.run([*AGENT, "run", "--config", str(config)], cwd=REPO,
                                capture_output=True, text=True, timeout=60, check=False)
        assert second.returncode == 1
        assert "another edge-agent daemon is serving this socket" in second.stderr
        assert first.poll() is None and (tmp_path / "agent.sock").exists()
        # A metrics port someone else holds is named in the error, not a traceback.
        data["daemon"]["socket"] = str(tmp_path / "other.sock")  # type: ignore[index]
        data["daemon"]["metrics_listen"] = f"127.0.0.1:{socket_port}"  # type: ignore[index]
        config.write_text(yaml.safe_dump(data))
        third = subprocess.run([*AGENT, "run", "--config", str(config)], cwd=REPO,
                               capture_output=True, text=True, timeout=60, check=False)
        assert third.returncode == 1
        assert f"127.0.0.1:{socket_port}: cannot listen: Address already in use" in third.stderr
        assert "Traceback" not in third.stderr
        assert not (tmp_path / "other.sock").exists()
    finally:
        first.terminate()
        first.wait(30)
        busy.close()
