"""Run `edge-agent run` as a real process against the test environment, and watch it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from agent.daemon_control import request
from tests.fleet.server import fleet_cli
from tests.source.httpfleet import HttpFleet
from tests.testenv.env import Env

REPO = Path(__file__).resolve().parents[2]
AGENT = [str(REPO / ".venv/bin/edge-agent")]


def fleet_files(ns: str, *, cloud_interval: str = "1s", windows: str = "[]") -> dict[str, str]:
    """A fleet repo whose tiers each land in their own namespace `<ns>-<tier>`."""
    files = {
        "tiers.yaml": (
            "tiers:\n"
            f"  cloud: {{overlay: cloud, registry: r.local, "
            f"sync: {{mode: realtime, interval: {cloud_interval}}}, health_timeout: 30s}}\n"
            "  vehicle: {overlay: vehicle, registry: r.local, sync: {mode: on-demand}, "
            "health_timeout: 30s}\n"
            f"  edge-site-a: {{overlay: edge-site-a, registry: r.local, windows: {windows}, "
            "sync: {mode: interval, interval: 1h, jitter: 0s}, health_timeout: 30s}\n"),
        "base/kustomization.yaml": "resources: [configmap.yaml]\n",
        "base/configmap.yaml": (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n"
            "data: {greeting: hello}\n"),
    }
    for tier in ("cloud", "vehicle", "edge-site-a"):
        files[f"{tier}/kustomization.yaml"] = (
            f"namespace: {ns}-{tier}\nresources: [namespace.yaml, ../base]\n")
        files[f"{tier}/namespace.yaml"] = (
            f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}-{tier}}}\n")
    return files


class NotifyListener:
    """A systemd-style notify socket: records every datagram the service sends."""

    def __init__(self, address: str):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(b"\0" + address[1:].encode() if address.startswith("@") else address)
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append(data.decode())

    def lines(self) -> list[str]:
        return [ln for m in list(self.messages) for ln in m.splitlines()]

    def wait_for(self, prefix: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ln in self.lines():
                if ln.startswith(prefix):
                    return ln
            time.sleep(0.05)
        raise AssertionError(f"no {prefix!r} notification; got {self.lines()}")

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    """One edge node: its config, state dir and (when started) its daemon process."""

    def __init__(self, tmp: Path, git_env: Env, kube_env: Env, *, tier: str,
                 fleet: HttpFleet, extra: dict[str, Any] | None = None):
        self.tmp = tmp
        self.kube_env = kube_env
        self.fleet = fleet
        self.tier = tier
        secret = tmp / "git-password"
        secret.write_text(git_env.git_password)
        secret.chmod(0o600)
        self.metrics_port = free_port()
        self.data: dict[str, Any] = {
            "node": f"node-{uuid.uuid4().hex[:6]}", "tier": tier,
            "state_dir": str(tmp / "state"),
            "source": {"url": fleet.http_url,
                       "auth": {"username": git_env.git_user, "password_file": str(secret)}},
            "kube": {"kubeconfig": kube_env.kubeconfig},
            "daemon": {"socket": str(tmp / "run/agent.sock"),
                       "lock_file": str(tmp / "run/update.lock"),
                       "metrics_listen": f"127.0.0.1:{self.metrics_port}",
                       "log_format": "json"},
        }
        for key, value in (extra or {}).items():
            if isinstance(value, dict):
                self.data.setdefault(key, {}).update(value)
            else:
                self.data[key] = value
        self.config = tmp / "agent.yaml"
        self.write_config()
        self.proc: subprocess.Popen[str] | None = None
        self.log = tmp / "daemon.log"

    def write_config(self) -> None:
        self.config.write_text(yaml.safe_dump(self.data))

    @property
    def socket(self) -> str:
        return str(self.data["daemon"]["socket"])

    def start(self, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [*AGENT, "run", "--config", str(self.config)], cwd=REPO,
            env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
            stderr=open(self.log, "a"), text=True)  # noqa: SIM115
        wait_until(lambda: Path(self.socket).exists(), 30, "the control socket")

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self.proc = None
        return code

    def status(self) -> dict[str, Any]:
        reply = request(self.socket, {"op": "status"}, timeout=10)
        assert reply["ok"], reply
        return dict(reply["status"])

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*AGENT, *args, "--config", str(self.config)], cwd=REPO,
                              capture_output=True, text=True, timeout=120, check=False)

    def configmap(self, ns: str) -> str | None:
        """The greeting in ConfigMap `app` of `ns`, as the API server has it."""
        proc = subprocess.run(
            ["kubectl", "--kubeconfig", self.kube_env.kubeconfig, "-n", ns, "get", "configmap",
             "app", "-o", "jsonpath={.data.greeting}"], capture_output=True, text=True,
            check=False)
        return proc.stdout if proc.returncode == 0 else None


def enrolled_node(tmp: Path, git_env: Env, kube_env: Env, *, ns: str, tier: str, db: str,
                  fleet_url: str, **fleet: Any) -> Node:
    """A node of `tier` on a fresh fleet repo, enrolled in the fleet service at `db`/
    `fleet_url` with its token on disk; extra `fleet.*` settings from `fleet`."""
    repo = HttpFleet(git_env, tmp / "remote", files=fleet_files(ns))
    node = Node(tmp, git_env, kube_env, tier=tier, fleet=repo)
    enrolled = fleet_cli("nodes", "add", str(node.data["node"]), "--tier", tier, db=db)
    token = tmp / "fleet-token"
    token.write_text(str(enrolled["token"]))
    node.data["fleet"] = {"url": fleet_url, "token_file": str(token), **fleet}
    node.write_config()
    return node
