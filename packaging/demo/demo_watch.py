"""Narration: what each agent logs and what the fleet service receives, with timestamps.

Two channels are printed as they happen: the agents' own event log (JSON lines) and the
fleet service's view (`GET /v1/status` with the operator token), so the story shows
both the node doing the work and the report arriving centrally.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from demo_nodes import Node
from demo_repo import DemoError


def short(revision: object) -> str:
    return str(revision or "-")[:12]


class Narrator:
    def __init__(self, quiet: bool = False):
        self.t0 = time.monotonic()
        self.since: tuple[str, float] | None = None
        self.quiet = quiet

    def mark(self, what: str) -> None:
        """Later lines show the seconds since this moment (e.g. the commit)."""
        self.since = (what, time.monotonic())

    def say(self, who: str, text: str) -> None:
        clock = datetime.now().strftime("%H:%M:%S")
        rel = ""
        if self.since is not None:
            rel = f" +{time.monotonic() - self.since[1]:5.1f}s"
        print(f"{clock}{rel}  {who:<8} {text}", flush=True)

    def step(self, title: str) -> None:
        print(f"\n== {title}", flush=True)

    def detail(self, text: str) -> None:
        if not self.quiet:
            print(f"   {text}", flush=True)


def describe(event: dict[str, Any]) -> str | None:
    """One readable line for the agent events worth telling; None for the rest."""
    name = event.get("event")
    if name == "started":
        mode = str(event.get("mode"))
        if mode.startswith("unknown"):
            return "agent started; nothing on disk yet, so it syncs once to learn its tier"
        return f"agent started, sync mode {mode}"
    if name == "synced":
        changes = ", ".join(f"{k} {v}" for k, v in (event.get("changes") or {}).items() if v)
        return (f"{event.get('result')} revision {short(event.get('revision'))}"
                + (f" ({changes})" if changes else "") + f" in {event.get('seconds')}s")
    if name == "deferred":
        return f"deferred revision {short(event.get('revision'))}: {event.get('reason')}"
    if name == "failed":
        error = str(event.get("error") or "").splitlines()
        return f"FAILED at {event.get('stage')}: {error[0] if error else '?'}"
    if name == "trigger":
        return f"trigger received ({event.get('source')})"
    return None


class AgentLogs:
    """Follows each node's JSON event log from where it was last read."""

    def __init__(self, nodes: list[Node]):
        self.nodes = nodes
        self.offsets = {n.name: 0 for n in nodes}

    def new_events(self) -> list[tuple[Node, dict[str, Any]]]:
        out = []
        for node in self.nodes:
            try:
                with open(node.log, "rb") as fh:
                    fh.seek(self.offsets[node.name])
                    data = fh.read()
            except FileNotFoundError:
                continue
            complete = data[:data.rfind(b"\n") + 1]
            self.offsets[node.name] += len(complete)
            for line in complete.decode(errors="replace").splitlines():
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # a traceback or a library's warning: not an event
                if isinstance(event, dict):
                    out.append((node, event))
        return out


class FleetView:
    """The fleet service as an operator sees it (`/v1/status` with the operator token)."""

    def __init__(self, url: str, token_file: Path):
        self.url = url.rstrip("/")
        self.token_file = token_file
        self.seen: dict[str, tuple[Any, ...]] = {}

    def status(self) -> dict[str, Any]:
        token = self.token_file.read_text(encoding="utf-8").strip()
        try:
            response = httpx.get(f"{self.url}/v1/status", timeout=10,
                                 headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise DemoError(f"fleet service {self.url}: {exc}") from exc
        if response.status_code != 200:
            raise DemoError(f"fleet service {self.url}/v1/status: HTTP {response.status_code}")
        data: dict[str, Any] = response.json()
        return data

    def nodes(self) -> dict[str, dict[str, Any]]:
        return {n["name"]: n for n in self.status()["nodes"]}

    def changes(self) -> list[dict[str, Any]]:
        """Nodes whose reported result or revision moved since the last call."""
        moved = []
        for name, node in self.nodes().items():
            key = (node.get("result"), node.get("revision"), node.get("desired_revision"))
            if node.get("result") is not None and self.seen.get(name) != key:
                self.seen[name] = key
                moved.append(node)
        return moved


class Watch:
    """Prints both channels while waiting for a condition."""

    def __init__(self, narrator: Narrator, logs: AgentLogs, fleet: FleetView):
        self.say = narrator.say
        self.logs = logs
        self.fleet = fleet

    def pump(self) -> None:
        for node, event in self.logs.new_events():
            line = describe(event)
            if line:
                self.say(node.name, line)
        for seen in self.fleet.changes():
            if seen["result"] == "deferred":
                runs = short(seen["revision"]) if seen.get("revision") else "nothing yet"
                what = f"deferred {short(seen.get('desired_revision'))}, still runs {runs}"
            else:
                what = f"{seen['result']} revision {short(seen.get('revision'))}"
            self.say("fleet", f"report from {seen['name']}: {what}")

    def until(self, what: str, check: Callable[[dict[str, dict[str, Any]]], bool],
              timeout: float) -> dict[str, dict[str, Any]]:
        """Pump until `check(fleet nodes)` holds; a clear error naming `what` otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            nodes = self.fleet.nodes()
            if check(nodes):
                return nodes
            if time.monotonic() > deadline:
                seen = {n: (v.get("result"), short(v.get("revision"))) for n, v in nodes.items()}
                raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}; "
                                f"the fleet service has {seen}")
            time.sleep(0.5)
