"""The environment's record on disk: which components run, their processes and the
values clients need (`state.json`), and the shell view of those values (`env.sh`)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.testenv import paths
from tests.testenv.procs import ProcSpec, Running, is_alive


@dataclass
class ProcRecord:
    spec: ProcSpec
    running: Running | None
    ready: dict[str, Any]  # how to tell it is ready again after a restart (see readiness.py)

    def alive(self) -> bool:
        return self.running is not None and is_alive(self.running)

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_json(),
            "running": self.running.to_json() if self.running else None,
            "ready": self.ready,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcRecord:
        running = Running(**data["running"]) if data["running"] else None
        return cls(ProcSpec.from_json(data["spec"]), running, data["ready"])


@dataclass
class Component:
    """One server group (kube, git, registry, postgres) and who started it."""

    name: str
    origin: str  # "up" (make testenv-up) or "fixture:<pid>" (a pytest session)
    values: dict[str, str] = field(default_factory=dict)
    procs: dict[str, ProcRecord] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "values": self.values,
            "procs": {name: rec.to_json() for name, rec in self.procs.items()},
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> Component:
        procs = {n: ProcRecord.from_json(r) for n, r in data["procs"].items()}
        return cls(name, data["origin"], data["values"], procs)


@dataclass
class State:
    components: dict[str, Component] = field(default_factory=dict)
    sessions: list[int] = field(default_factory=list)  # live pytest sessions using the env

    def values(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for comp in self.components.values():
            merged.update(comp.values)
        return merged


def load() -> State:
    try:
        data = json.loads(paths.STATE_FILE.read_text())
    except FileNotFoundError:
        return State()
    comps = {n: Component.from_json(n, c) for n, c in data.get("components", {}).items()}
    return State(comps, list(data.get("sessions", [])))


def save(state: State) -> None:
    paths.ROOT.mkdir(parents=True, exist_ok=True)
    data = {
        "components": {n: c.to_json() for n, c in state.components.items()},
        "sessions": state.sessions,
    }
    tmp = paths.STATE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(paths.STATE_FILE)
    write_env_sh(state.values())


# Variable of env.sh -> key in the components' values.
ENV_VARS = {
    "KUBECONFIG": "kubeconfig",
    "EDGESYNC_GIT_URL": "git_url",
    "EDGESYNC_GIT_USER": "git_user",
    "EDGESYNC_GIT_PASSWORD": "git_password",
    "EDGESYNC_GIT_DAEMON_URL": "git_daemon_url",
    "EDGESYNC_REGISTRY": "registry",
    "EDGESYNC_REGISTRY_USER": "registry_user",
    "EDGESYNC_REGISTRY_PASSWORD": "registry_password",
    "EDGESYNC_PG_DSN": "pg_dsn",
}


def write_env_sh(values: dict[str, str]) -> None:
    lines = ["# Written by `python -m tests.testenv up`; source it to talk to the local servers."]
    for var, key in ENV_VARS.items():
        if key in values:
            lines.append(f"export {var}={shlex.quote(values[key])}")
    lines.append(f'export PATH={shlex.quote(str(paths.BIN_DIR))}:"$PATH"')
    paths.ENV_FILE.write_text("\n".join(lines) + "\n")


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Serialise changes to the environment between processes (several test sessions)."""
    paths.ROOT.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def pid_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()
