"""Stand-in for report delivery from `edge-agent run`, until the daemon sends its own.

`edge-agent sync --once` delivers its report through `agent.report`; the daemon loop
does not yet. So that the fleet service still hears about every cycle, the demo turns
each cycle event in an agent's log into that node's report and hands it to the node's
own spool and sender (`agent.report.deliver`, the node's token), exactly the path the
daemon will use. As soon as `agent/daemon.py` delivers reports itself, `needed()` says
so and the demo sends nothing on the agents' behalf.
"""

from __future__ import annotations

import dataclasses
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from demo_nodes import Node


def needed() -> bool:
    import agent.daemon

    source = Path(agent.daemon.__file__).read_text(encoding="utf-8")
    # The loop had no word of reports before it delivered them (e.g. agent.daemon_report).
    return "report" not in source


class Relay:
    def __init__(self, repo_work: Path):
        self.repo_work = repo_work
        self.errors: list[str] = []

    def commit_time(self, revision: str | None) -> str | None:
        if not revision:
            return None
        proc = subprocess.run(["git", "-C", str(self.repo_work), "show", "-s", "--format=%ct",
                               revision], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            return None
        stamp = datetime.fromtimestamp(int(proc.stdout.strip()), UTC)
        return stamp.isoformat().replace("+00:00", "Z")

    def __call__(self, node: Node, event: dict[str, Any]) -> None:
        from agent.config import load_config
        from agent.cycle import Outcome, SyncResult
        from agent.report import deliver, result_report

        cfg = load_config(node.config)
        name = event["event"]
        result = cast(Outcome, {"synced": event.get("result"), "deferred": "deferred"}.get(
            name, event.get("result") or "failed"))
        revision = event.get("revision")
        outcome = SyncResult(node=cfg.node, tier=cfg.tier, result=result, revision=revision,
                             reason=event.get("reason"), error=event.get("error"),
                             changes=event.get("changes") or {},
                             durations=event.get("durations") or {})
        report = result_report(cfg, outcome, desired_revision=revision,
                               commit_time=self.commit_time(revision))
        if result == "deferred":
            # A deferred cycle applied nothing: the node still runs what it ran before.
            applied = node.status().get("applied_revision")
            report = dataclasses.replace(report, applied_revision=applied)
        sent = deliver(cfg, report, flush_seconds=5.0)
        if sent.error:
            self.errors.append(f"{node.name}: {sent.error}")
