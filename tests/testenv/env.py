"""What tests get from the fixtures: addresses, credentials and the fault hooks."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.testenv import paths, stack
from tests.testenv.procs import Running
from tests.testenv.state import State

# Names accepted by `Env.log_path` besides any process name (e.g. "kube-scheduler").
LOGS = {
    "git": "git-access.log",  # lighttpd access log: one line per HTTP request
    "apiserver": "kube-apiserver.log",
    "registry": "registry.log",  # includes the registry's access log lines
    "postgres": "postgres.log",
}


@dataclass(frozen=True)
class Env:
    root: Path
    kubeconfig: str = ""
    kubectl: str = ""  # the kubectl built with the control plane (also first on PATH)
    git_url: str = ""  # HTTP base: repos are at f"{git_url}/fleet.git"
    git_user: str = ""
    git_password: str = ""
    git_daemon_url: str = ""  # git:// base: f"{git_daemon_url}/fleet.git"
    git_repos: str = ""  # the served directory of bare repos (see servers.git.create_bare_repo)
    registry: str = ""  # host:port, plain HTTP
    registry_user: str = ""
    registry_password: str = ""
    # Digests of the seeded manifests: "multi", "multi/amd64", "multi/arm64", "list",
    # "list/amd64", "list/arm64", "amd64-only".
    registry_images: dict[str, str] = field(default_factory=dict)
    pg_dsn: str = ""
    # This test session's own forwarders: fault name -> (pid, start time, port).
    forwarders: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @classmethod
    def from_state(cls, state: State) -> Env:
        return cls.from_values(state.values())

    @classmethod
    def from_values(cls, values: dict[str, str]) -> Env:
        return cls(
            root=paths.ROOT,
            kubeconfig=values.get("kubeconfig", ""),
            kubectl=values.get("kubectl", ""),
            git_url=values.get("git_url", ""),
            git_user=values.get("git_user", ""),
            git_password=values.get("git_password", ""),
            git_daemon_url=values.get("git_daemon_url", ""),
            git_repos=values.get("git_repos", ""),
            registry=values.get("registry", ""),
            registry_user=values.get("registry_user", ""),
            registry_password=values.get("registry_password", ""),
            registry_images=json.loads(values.get("registry_images", "{}")),
            pg_dsn=values.get("pg_dsn", ""),
        )

    def stop(self, name: str) -> None:
        """Stop the server `name` (apiserver, git, registry, postgres) by PID."""
        stack.stop_server(name)

    def start(self, name: str) -> None:
        """Start it again: same port, same data; returns once it is ready."""
        stack.start_server(name)

    def cut(self, name: str) -> None:
        """Refuse new connections on its port and abort open ones; the server keeps running.
        From a fixture's Env this acts on the session's own port only."""
        if name in self.forwarders:
            pid, start_time, port = self.forwarders[name]
            stack.signal_forwarder(Running(pid, start_time), port, cut=True)
        else:
            stack.cut(name)

    def restore(self, name: str) -> None:
        if name in self.forwarders:
            pid, start_time, port = self.forwarders[name]
            stack.signal_forwarder(Running(pid, start_time), port, cut=False)
        else:
            stack.restore(name)

    def log_path(self, name: str) -> Path:
        return paths.LOG_DIR / LOGS.get(name, f"{name}.log")

    def flushed_log(self, name: str, quiet: float = 1.1, timeout: float = 10.0) -> str:
        """The log's text once it has stopped growing for `quiet` seconds: lighttpd writes
        its access log about once a second, so count requests with this, not `log_path`."""
        path = self.log_path(name)
        deadline = time.monotonic() + timeout
        size, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now_size = path.stat().st_size if path.exists() else 0
            if now_size != size:
                size, since = now_size, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
            time.sleep(0.1)
        return path.read_text(errors="replace") if path.exists() else ""

    def session_log(self, name: str) -> list[str]:
        """The flushed lines of the `git` or `registry` log that came through this Env's
        address: requests of other test sessions sharing the server are left out."""
        address = {"git": self.git_url, "registry": self.registry}[name]
        host = address.removeprefix("http://").split("/", 1)[0]
        return [line for line in self.flushed_log(name).splitlines() if host in line]
