"""The schedule stage: when to poll, and whether an apply may run now.

`deferral(cfg, tier, now)` is what `sync_once` takes as `check_defer`: None
means apply; a string is the reason the cycle is deferred (a closed
maintenance window, a held update lock).
"""

from __future__ import annotations

from datetime import UTC, datetime

from agent.config import AgentConfig
from agent.schedule.lock import ApplyGate, probe
from agent.schedule.timing import backoff, first_run, next_run, poll_period
from agent.schedule.windows import closed_reason
from agent.tiers import Tier

__all__ = ["ApplyGate", "backoff", "deferral", "first_run", "next_run", "poll_period"]


def deferral(cfg: AgentConfig, tier: Tier, now: datetime | None = None) -> str | None:
    """Why applying `tier` must wait right now, or None if it may go ahead."""
    reason = closed_reason(tier.windows, now or datetime.now(UTC))
    if reason:
        return reason
    return probe(cfg.daemon.lock_file)
