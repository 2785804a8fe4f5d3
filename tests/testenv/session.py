"""A test session's own forwarders in front of the shared servers.

Several test sessions (developers, benchmarks) share one environment. Each session gets
private ports for the servers it uses, so when one of its tests cuts a port, no other
session loses its connection. Stopping a server is still felt by everyone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from pathlib import Path

from tests.testenv import paths, proxy
from tests.testenv.env import Env
from tests.testenv.procs import ProcSpec, Running, free_port, spawn, stop, wait_ready
from tests.testenv.readiness import probe
from tests.testenv.stack import FAULTS, log
from tests.testenv.state import State


class SessionForwarders:
    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid or os.getpid()
        self.running: list[Running] = []
        self.files: list[Path] = []

    def env_for(self, state: State, component: str) -> Env:
        """The shared environment as this session sees it: `component` on private ports."""
        shared = state.components[component]
        values = dict(shared.values)
        forwarders: dict[str, tuple[int, int, int]] = {}
        renames: dict[str, str] = {}
        for name, fault in FAULTS.items():
            if fault.component != component:
                continue
            routes, _ = proxy.parse(shared.procs[fault.proxy].spec.argv[3:])
            private = [(free_port(), target) for _, target in routes]
            running = self._start(fault.proxy, private)
            forwarders[name] = (running.pid, running.start_time, private[0][0])
            for (public, _), (mine, _) in zip(routes, private, strict=True):
                renames[f"127.0.0.1:{public}"] = f"127.0.0.1:{mine}"
        values = {key: _rename(value, renames) for key, value in values.items()}
        if "kubeconfig" in values:
            values["kubeconfig"] = str(self._kubeconfig(Path(shared.values["kubeconfig"]), renames))
        env = Env.from_values({**state.values(), **values})
        return dataclasses.replace(env, forwarders=forwarders)

    def _start(self, name: str, routes: list[tuple[int, int]]) -> Running:
        argv = [sys.executable, "-m", "tests.testenv.proxy", f"--parent={self.pid}"]
        argv += [f"{listen}:{target}" for listen, target in routes]
        spec = ProcSpec(f"{name} (session {self.pid})", argv, log("session-forwarders"),
                        cwd=str(paths.REPO))  # fmt: skip
        running = spawn(spec)
        self.running.append(running)
        wait_ready(spec, running, probe({"tcp": routes[0][0]}), 10)
        return running

    def _kubeconfig(self, shared: Path, renames: dict[str, str]) -> Path:
        config = json.loads(shared.read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = _rename(cluster["cluster"]["server"], renames)
        path = paths.ROOT / "sessions" / f"{self.pid}.kubeconfig"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config, indent=2))
        self.files.append(path)
        return path

    def close(self) -> None:
        for running in self.running:
            stop(running)
        for path in self.files:
            path.unlink(missing_ok=True)


def _rename(text: str, renames: dict[str, str]) -> str:
    """Swap whole host:port addresses at once (no port is rewritten twice or in part)."""
    return re.sub(r"127\.0\.0\.1:\d+", lambda m: renames.get(m.group(0), m.group(0)), text)
