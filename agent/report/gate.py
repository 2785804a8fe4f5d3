"""Staged rollouts, seen from a node: may it move to the revision its source resolved?

The fleet service answers `GET /v1/rollouts/gate` for the calling node (its
token says who it is). The rule the node applies:

  * no rollout, a completed one, or one whose waves do not name this tier:
    follow the source;
  * a running rollout of revision R: move to R once this node's wave is
    released, and to nothing else until the rollout completes or is aborted
    (a newer commit pushed mid-rollout waits for a rollout of its own);
  * an aborted rollout of R: never move to R; later commits are free.

With `fleet.rollouts: require` a node moves only to a revision a rollout has
released to it: a commit nobody rolled out waits, which closes the window in
which a fast node takes a commit before its rollout exists.

A held node keeps running what it ran. The node asks only when its source is
ahead of what it runs, and while held at most every `REFRESH_SECONDS`; the
answer is kept in the state directory, so a node that loses the service keeps
obeying the last answer it had. A node that never reached the service is held
only in `require` mode.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.config import AgentConfig
from agent.errors import EdgesyncError, ReportError
from agent.state.atomic import read_json, write_json

log = logging.getLogger("edgesync.report")

GATE_FILE = "rollout-gate.json"
REFRESH_SECONDS = 10.0


@dataclass(frozen=True)
class RolloutGate:
    rollout: int | None
    revision: str | None
    state: str | None
    gated: bool
    released: bool
    fetched_at: float

    @classmethod
    def from_json(cls, data: Any, fetched_at: float) -> RolloutGate:
        if not isinstance(data, dict):
            raise ReportError("rollout gate answer is not a JSON object", where="fleet gate")
        rollout, revision, state = data.get("rollout"), data.get("revision"), data.get("state")
        gated, released = data.get("gated"), data.get("released")
        if not (rollout is None or isinstance(rollout, int)) or \
                not (revision is None or isinstance(revision, str)) or \
                not (state is None or isinstance(state, str)) or \
                not isinstance(gated, bool) or not isinstance(released, bool):
            raise ReportError("rollout gate answer has unexpected fields", where="fleet gate")
        return cls(rollout, revision, state, gated, released, fetched_at)


def hold_reason(gate: RolloutGate | None, target: str, *, require: bool = False
                ) -> str | None:
    """Why the node must not move to `target` now (None: it may).

    `require` (`fleet.rollouts: require`): only a revision a rollout released to this
    node is allowed, so no answer, no rollout or one of another revision holds it too.
    """
    if require:
        if gate is None:
            return "fleet.rollouts is require and the fleet service has not answered yet"
        if gate.rollout is None or gate.revision != target:
            return f"fleet.rollouts is require and no rollout releases {target[:12]}"
        if not gate.gated:
            return (f"fleet.rollouts is require and rollout {gate.rollout} of {target[:12]} "
                    "does not name this node's tier")
    if gate is None or gate.rollout is None or gate.revision is None or not gate.gated:
        return None
    short = gate.revision[:12]
    if gate.state == "running":
        if target != gate.revision:
            return (f"rollout {gate.rollout} of {short} is running; the source is at "
                    f"{target[:12]}, which waits until the rollout completes or is aborted")
        if not gate.released:
            return f"rollout {gate.rollout} has not released {short} to this node's wave yet"
        return None
    if gate.state == "aborted" and target == gate.revision:
        return f"rollout {gate.rollout} of {short} was aborted"
    return None


def fetch_gate(url: str, token: str, ca_file: str | None = None, *,
               timeout: float = 5.0) -> RolloutGate:
    import httpx

    from agent.report.sender import fleet_client

    endpoint = url.rstrip("/") + "/v1/rollouts/gate"
    try:
        with fleet_client(token, ca_file, timeout=timeout) as client:
            response = client.get(endpoint)
    except httpx.HTTPError as exc:
        raise ReportError(f"fleet service unreachable: {exc}", where=endpoint) from None
    if response.status_code != 200:
        raise ReportError(f"fleet service answered HTTP {response.status_code}",
                          where=endpoint)
    try:
        data = response.json()
    except ValueError:
        raise ReportError("rollout gate answer is not JSON", where=endpoint) from None
    return RolloutGate.from_json(data, time.time())


def gate_service(cfg: AgentConfig) -> str | None:
    """The fleet service this node asks about rollouts; None when it does not ask."""
    return cfg.fleet.url if cfg.fleet.url and cfg.fleet.rollouts != "ignore" else None


def check(cfg: AgentConfig, target: str, *, now: float | None = None) -> str | None:
    """Why this node must not move to `target` now (None: it may), asking the service.

    A kept answer that holds `target` and is younger than `REFRESH_SECONDS` is used
    without asking, so held nodes polling fast do not hammer the service; an answer that
    would let the node move is always fresh.
    """
    from agent.report.deliver import read_token

    url = gate_service(cfg)
    if url is None:
        return None
    require = cfg.fleet.rollouts == "require"
    if not cfg.fleet.token_file:
        return hold_reason(None, target, require=require)
    now = time.time() if now is None else now
    path = Path(cfg.state_dir) / GATE_FILE
    kept = _load(path)
    if kept is not None and 0 <= now - kept.fetched_at < REFRESH_SECONDS:
        reason = hold_reason(kept, target, require=require)
        if reason:
            return reason
    try:
        gate = fetch_gate(url, read_token(cfg.fleet.token_file), cfg.fleet.ca_file)
    except ReportError as exc:
        log.warning("rollout gate: %s; %s", exc, "obeying the last answer" if kept else
                    "no answer kept, following the source")
        return hold_reason(kept, target, require=require)
    try:
        write_json(path, asdict(gate))
    except EdgesyncError as exc:  # keeping the answer only matters once the service is gone
        log.warning("rollout gate: cannot keep the answer: %s", exc)
    return hold_reason(gate, target, require=require)


def _load(path: Path) -> RolloutGate | None:
    try:
        data = read_json(path)
        if data is None:
            return None
        return RolloutGate.from_json(data, float(data["fetched_at"]))
    except (EdgesyncError, KeyError, TypeError, ValueError) as exc:
        # An unreadable answer is no answer: it must not stop a sync.
        log.warning("rollout gate: ignoring %s: %s", path, exc)
        return None
