"""Turn a cycle's `SyncResult` (or nothing, for a heartbeat) into a `Report`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from agent.config import AgentConfig
from agent.report.model import ObjectFailure, Report, utc_now

# The cycle spells it with a hyphen; the wire format uses identifiers.
_RESULT_NAMES = {"rolled-back": "rolled_back"}


class SyncOutcome(Protocol):
    """The fields of `agent.cycle.SyncResult` a report reads."""

    @property
    def result(self) -> str: ...
    @property
    def revision(self) -> str | None: ...
    @property
    def health(self) -> dict[str, Any] | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def failed_revision(self) -> str | None: ...
    @property
    def durations(self) -> dict[str, float]: ...
    @property
    def reason(self) -> str | None: ...


def _version() -> str:
    from agent import __version__

    return str(__version__)


def result_report(cfg: AgentConfig, outcome: SyncOutcome, *,
                  desired_revision: str | None = None, commit_time: str | None = None,
                  images: tuple[str, ...] = (), bytes_fetched: int = 0) -> Report:
    """The report of one cycle. `desired_revision` defaults to what the cycle tried."""
    result = _RESULT_NAMES.get(outcome.result, outcome.result)
    desired = desired_revision or (outcome.failed_revision if result in ("failed",
                                                                         "rolled_back")
                                   else None) or outcome.revision
    health = outcome.health or {}
    failures = tuple(ObjectFailure(str(o.get("subject", "?")),
                                   f"{o.get('status', '')}: {o.get('message', '')}".strip(": "))
                     for o in health.get("objects") or () if isinstance(o, Mapping))
    if outcome.error and not failures:
        failures = (ObjectFailure("sync", outcome.error[:4000]),)
    return Report(
        node=cfg.node, tier=cfg.tier, kind="result", region=cfg.region,
        platform=cfg.platform, agent_version=_version(),
        desired_revision=desired, applied_revision=outcome.revision,
        commit_time=commit_time,
        apply_time=utc_now() if result in ("applied", "unchanged") else None,
        result=result, health=str(health["status"]) if "status" in health else None,
        failures=failures[:1000],
        deferred_reason=(outcome.reason or outcome.error) if result == "deferred" else None,
        images=images[:500], durations=dict(outcome.durations), bytes_fetched=bytes_fetched)


def heartbeat_report(cfg: AgentConfig, *, applied_revision: str | None = None,
                     health: str | None = None) -> Report:
    """"Still here": sent on the heartbeat interval between cycles; dropped first when full."""
    return Report(node=cfg.node, tier=cfg.tier, kind="heartbeat", region=cfg.region,
                  platform=cfg.platform, agent_version=_version(),
                  applied_revision=applied_revision, health=health)
