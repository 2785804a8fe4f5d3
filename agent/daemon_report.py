"""Report delivery for the daemon: spool in the loop, send from a thread of its own.

A report is durable once `submit` returns (it is in the on-disk spool), so the
loop never waits on the fleet service; the sender thread flushes the spool
after each submit, and on the heartbeat interval spools a heartbeat and tries
again, which also drains what piled up while the node was offline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from agent.config import AgentConfig
from agent.dataload import parse_duration
from agent.errors import EdgesyncError

FLUSH_SECONDS = 15.0


class ReportPump:
    def __init__(self, config: Callable[[], AgentConfig], log: Callable[..., Any],
                 applied: Callable[[], tuple[str | None, str | None]]):
        self._config = config
        self._log = log
        self._applied = applied  # (applied revision, health) for heartbeats
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        if not self._config().fleet.url:
            return
        self._thread = threading.Thread(target=self._run, name="report-sender", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=FLUSH_SECONDS + 5)

    def submit(self, result: Any) -> None:
        """Spool the cycle's report now; the sender thread delivers it."""
        from agent.report import Spool, result_report

        cfg = self._config()
        if not cfg.fleet.url:
            return
        report = result_report(cfg, result, desired_revision=result.desired_revision,
                               commit_time=result.commit_time, images=result.images,
                               bytes_fetched=result.bytes_fetched)
        try:
            with Spool(cfg.state_path, cfg.fleet.spool_max_bytes) as spool:
                spool.put(report)
        except EdgesyncError as exc:
            self._log("report_spool_failed", level="error", error=str(exc))
            return
        self._wake.set()

    def _run(self) -> None:
        from agent.report import deliver, heartbeat_report

        while not self._stop.is_set():
            cfg = self._config()
            try:
                interval = parse_duration(cfg.fleet.heartbeat_interval,
                                          key="fleet.heartbeat_interval")
            except EdgesyncError:
                interval = 300.0
            woken = self._wake.wait(interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            report = None
            if not woken:
                revision, health = self._applied()
                report = heartbeat_report(cfg, applied_revision=revision, health=health)
            pending: int | None = None
            try:
                out = deliver(cfg, report, flush_seconds=FLUSH_SECONDS)
                error, pending = out.error, out.pending
            except EdgesyncError as exc:
                error = str(exc)
            if error != self.last_error:
                if error:
                    self._log("report_pending", level="warning", error=error, pending=pending)
                else:
                    self._log("reports_delivered", pending=pending)
            self.last_error = error
