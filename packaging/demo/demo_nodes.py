"""The three demo nodes: enrolment, agent configs, daemons, and the edge-agent commands."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from demo_procs import Background, free_port, start
from demo_repo import DemoError


@dataclass(frozen=True)
class NodeSpec:
    name: str
    tier: str
    region: str
    platform: str
    story: str  # one line for the narration


NODES = (
    NodeSpec("cloud-1", "cloud", "eu-west", "linux/amd64",
             "realtime: polls Git every few seconds"),
    NodeSpec("gw-001", "edge-site-a", "site-a", "linux/amd64",
             "interval: polls on its tier's interval"),
    NodeSpec("car-042", "vehicle", "on-the-road", "linux/arm64",
             "on-demand: syncs only when asked, and never while its update lock is held"),
)


@dataclass(frozen=True)
class Servers:
    """Where the node agents find everything (from the local environment)."""

    git_url: str  # the fleet repo's HTTP URL
    git_user: str
    git_password_file: Path
    registry: str
    registry_user: str
    registry_password_file: Path
    kubeconfig: str
    fleet_url: str


class Node:
    def __init__(self, spec: NodeSpec, root: Path, bin_dir: Path):
        self.spec = spec
        self.dir = root / "nodes" / spec.name
        self.config = self.dir / "agent.yaml"
        self.token_file = self.dir / "fleet.token"
        self.log = self.dir / "agent.log"
        self.agent = str(bin_dir / "edge-agent")
        self.fleet = str(bin_dir / "fleet")

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def socket(self) -> str:
        return str(self.dir / "run" / "agent.sock")

    def enrol(self, db: Path) -> None:
        """`fleet nodes add`: the token is printed once; keep it where the agent reads it."""
        proc = subprocess.run([self.fleet, "nodes", "add", self.name, "--tier", self.spec.tier,
                               "--region", self.spec.region, "--db", str(db), "--output", "json"],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise DemoError(f"fleet nodes add {self.name}: {proc.stderr.strip()}")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.token_file.write_text(json.loads(proc.stdout)["token"] + "\n", encoding="utf-8")
        self.token_file.chmod(0o600)

    def write_config(self, servers: Servers) -> None:
        config: dict[str, Any] = {
            "node": self.name, "tier": self.spec.tier, "region": self.spec.region,
            "platform": self.spec.platform,
            "state_dir": str(self.dir / "state"),
            "source": {"url": servers.git_url, "ref": "main",
                       "auth": {"username": servers.git_user,
                                "password_file": str(servers.git_password_file)}},
            "kube": {"kubeconfig": servers.kubeconfig},
            # The tier registries of tiers.yaml (harbor-*.local) all map to the one local
            # registry, which speaks plain HTTP.
            "images": {"registry_override": servers.registry, "insecure_http": True,
                       "username": servers.registry_user,
                       "password_file": str(servers.registry_password_file)},
            "fleet": {"url": servers.fleet_url, "token_file": str(self.token_file),
                      "heartbeat_interval": "1m"},
            "daemon": {"socket": self.socket, "lock_file": str(self.dir / "run" / "update.lock"),
                       "metrics_listen": f"127.0.0.1:{free_port()}", "log_format": "json"},
        }
        (self.dir / "run").mkdir(parents=True, exist_ok=True)
        self.config.write_text(f"# {self.name}: {self.spec.story}\n"
                               + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    def start(self, cwd: Path) -> Background:
        self.log.write_text("", encoding="utf-8")
        return start(f"agent {self.name}", [self.agent, "run", "--config", str(self.config)],
                     self.log, cwd=cwd)

    def cli(self, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run `edge-agent ARGS --config <this node's config>` as a user would."""
        return subprocess.run([self.agent, *args, "--config", str(self.config)],
                              capture_output=True, text=True, timeout=timeout, check=False)

    def status(self) -> dict[str, Any]:
        from agent.daemon_control import request

        reply = request(self.socket, {"op": "status"}, timeout=10)
        if not reply.get("ok"):
            raise DemoError(f"{self.name}: status: {reply.get('error')}")
        return dict(reply["status"])
