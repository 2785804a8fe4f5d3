"""Spool a report and try to send what is waiting, within a bounded time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from agent.config import AgentConfig
from agent.errors import ReportError
from agent.report.build import SyncOutcome, result_report
from agent.report.model import Report
from agent.report.sender import Sender
from agent.report.spool import Spool


@dataclass(frozen=True)
class DeliveryOutcome:
    spooled: bool
    sent: int
    pending: int
    error: str | None = None


def read_token(path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ReportError(f"cannot read fleet token: {exc.strerror}", where=path) from exc
    if not token:
        raise ReportError("fleet token file is empty", where=path)
    return token


def deliver(cfg: AgentConfig, report: Report | None, *,
            flush_seconds: float = 10.0) -> DeliveryOutcome:
    """Put `report` (if any) in the node's spool, then flush for at most `flush_seconds`.

    Without `fleet.url` there is nobody to send to, so nothing is spooled. A
    service that is down is not an error: the report waits in the spool.
    """
    if not cfg.fleet.url:
        return DeliveryOutcome(spooled=False, sent=0, pending=0,
                               error="fleet.url is not set; report not kept")
    with Spool(cfg.state_path, cfg.fleet.spool_max_bytes) as spool:
        if report is not None:
            spool.put(report)
        if not cfg.fleet.token_file:
            return DeliveryOutcome(True, 0, spool.stats().pending,
                                   "fleet.token_file is not set; report kept in the spool")
        try:
            token = read_token(cfg.fleet.token_file)
        except ReportError as exc:
            return DeliveryOutcome(report is not None, 0, spool.stats().pending,
                                   f"{exc}; report kept in the spool")
        with Sender(cfg.fleet.url, token, cfg.fleet.ca_file) as sender:
            result = sender.flush(spool, deadline=time.monotonic() + flush_seconds,
                                  max_wait=max(0.5, flush_seconds / 4))
    return DeliveryOutcome(report is not None, result.sent, result.pending, result.error)


def report_cycle(cfg: AgentConfig, outcome: SyncOutcome, *, commit_time: str | None = None,
                 desired_revision: str | None = None, flush_seconds: float = 10.0
                 ) -> DeliveryOutcome:
    """Report one cycle's outcome; a reporting problem never fails the sync itself.

    For `edge-agent sync --once` and the daemon: build the report, spool it,
    try to send for at most `flush_seconds`, and say what happened.
    """
    try:
        report = result_report(cfg, outcome, commit_time=commit_time,
                               desired_revision=desired_revision,
                               images=tuple(getattr(outcome, "images", ())),
                               bytes_fetched=int(getattr(outcome, "bytes_fetched", 0)))
        return deliver(cfg, report, flush_seconds=flush_seconds)
    except ReportError as exc:
        return DeliveryOutcome(spooled=False, sent=0, pending=-1, error=str(exc))
