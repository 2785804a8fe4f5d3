"""Staged rollouts: a target revision released to waves of nodes, each gated on health.

A wave names a tier and the share of that tier's nodes it covers. Nodes are
taken in a fixed order (by a hash of their name), so a later wave of the same
tier includes every node of the earlier one. A wave's gate passes when at
least `gate` of its nodes run the target revision and are healthy.

Agents enforce it (`GET /v1/rollouts/gate`, see `gate`): while a rollout is
running, a node moves only to its revision and only once its wave is released;
after an abort no node moves to that revision. Nodes of tiers no wave names are
not gated.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

from fleet.errors import ConflictError, FleetError, NotFoundError
from fleet.store import NodeIdentity, RolloutRecord, SqlStore


@dataclass(frozen=True)
class Wave:
    tier: str
    percent: float

    @classmethod
    def parse(cls, text: str) -> Wave:
        """`TIER:PERCENT`, e.g. `edge-site-a:10`; `TIER` alone means 100 %."""
        tier, _, percent = text.partition(":")
        try:
            value = float(percent) if percent else 100.0
        except ValueError:
            raise FleetError(f"wave percent must be a number, got {percent!r}",
                             where=f"wave {text}") from None
        if not tier or not 0 < value <= 100:
            raise FleetError("wave must be TIER:PERCENT with 0 < PERCENT <= 100",
                             where=f"wave {text}")
        return cls(tier, value)

    def as_dict(self) -> dict[str, Any]:
        return {"tier": self.tier, "percent": self.percent}


def _order(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def wave_nodes(store: SqlStore, wave: dict[str, Any]) -> list[str]:
    names = sorted((n.name for n in store.list_nodes(tier=wave["tier"], limit=1_000_000)),
                   key=_order)
    return names[:math.ceil(len(names) * float(wave["percent"]) / 100)]


def start(store: SqlStore, revision: str, waves: list[Wave], gate: float = 0.95
          ) -> RolloutRecord:
    if not waves:
        raise FleetError("a rollout needs at least one wave", where="rollout")
    if not 0 <= gate <= 1:
        raise FleetError("gate must be between 0 and 1", where="rollout")
    return store.create_rollout(revision, [w.as_dict() for w in waves], gate)


def status(store: SqlStore, rollout_id: int | None = None) -> dict[str, Any]:
    record = _get(store, rollout_id)
    waves = []
    for index, wave in enumerate(record.waves):
        names = set(wave_nodes(store, wave))
        nodes = [n for n in store.list_nodes(tier=wave["tier"], limit=1_000_000)
                 if n.name in names]
        on_target = [n for n in nodes if n.revision == record.revision]
        healthy = [n for n in on_target if n.state == "healthy"]
        share = len(healthy) / len(nodes) if nodes else 1.0
        waves.append({**wave, "index": index, "nodes": len(nodes), "on_target": len(on_target),
                      "healthy_on_target": len(healthy), "gate_passed": share >= record.gate,
                      "released": index <= record.current_wave})
    return {"id": record.id, "revision": record.revision, "state": record.state,
            "current_wave": record.current_wave, "gate": record.gate, "waves": waves,
            "enforced_by_agents": True}


def promote(store: SqlStore, rollout_id: int | None = None, force: bool = False
            ) -> dict[str, Any]:
    record = _get(store, rollout_id)
    if record.state != "running":
        raise ConflictError(f"rollout is {record.state}", where=f"rollout {record.id}")
    current = status(store, record.id)["waves"][record.current_wave]
    if not current["gate_passed"] and not force:
        raise ConflictError(
            f"wave {record.current_wave} ({current['tier']} {current['percent']:g} %) has "
            f"{current['healthy_on_target']} of {current['nodes']} nodes healthy on "
            f"{record.revision[:12]}, gate is {record.gate:.0%}; use --force to override",
            where=f"rollout {record.id}")
    nxt = record.current_wave + 1
    state = "completed" if nxt >= len(record.waves) else "running"
    store.update_rollout(record.id, state=state, current_wave=min(nxt, len(record.waves) - 1))
    return status(store, record.id)


def abort(store: SqlStore, rollout_id: int | None = None) -> dict[str, Any]:
    record = _get(store, rollout_id)
    if record.state != "running":
        raise ConflictError(f"rollout is {record.state}", where=f"rollout {record.id}")
    store.update_rollout(record.id, state="aborted", current_wave=record.current_wave)
    return status(store, record.id)


def _get(store: SqlStore, rollout_id: int | None) -> RolloutRecord:
    record = store.get_rollout(rollout_id)
    if record is None:
        raise NotFoundError("no rollout" if rollout_id is None else "no such rollout",
                            where="rollouts" if rollout_id is None else f"rollout {rollout_id}")
    return record


def wave_assignment(store: SqlStore, record: RolloutRecord, tier: str) -> dict[str, int]:
    """Node name -> index of the first wave of `record` that covers it, for one tier."""
    assigned: dict[str, int] = {}
    for index, wave in enumerate(record.waves):
        if wave["tier"] == tier:
            for name in wave_nodes(store, wave):
                assigned.setdefault(name, index)
    return assigned


def gate(record: RolloutRecord | None, node: NodeIdentity, assignment: dict[str, int]
         ) -> dict[str, Any]:
    """What the latest rollout allows `node`: the answer of `GET /v1/rollouts/gate`.

    `released` says whether the node may move to `revision`; `gated` whether the rollout
    concerns the node at all (its tier is named by a wave).
    """
    if record is None:
        return {"rollout": None, "revision": None, "state": None, "gated": False,
                "released": True, "wave": None}
    gated = any(w["tier"] == node.tier for w in record.waves)
    wave = assignment.get(node.name)
    if not gated or record.state == "completed":
        released = True
    elif record.state == "aborted":
        released = False
    else:
        released = wave is not None and wave <= record.current_wave
    return {"rollout": record.id, "revision": record.revision, "state": record.state,
            "gated": gated, "released": released, "wave": wave}
