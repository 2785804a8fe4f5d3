"""One sync cycle: source -> render -> images -> defer? -> plan/apply -> verify/rollback -> record.

The stages are pure values in, values out; this module only wires them and
keeps the node's promise: after any run the node is on the new revision or on
the last good one, and `state.json` says which (an interrupted run leaves
`applying` set, which the next run reports and converges).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from agent.config import AgentConfig
from agent.errors import EdgesyncError, KubeError, StateError
from agent.model import Bundle, Revision
from agent.state import Inventory, InventoryEntry, StateStore
from agent.tiers import Tier

Outcome = Literal["applied", "unchanged", "failed", "rolled-back", "deferred"]
DEFAULT_HEALTH_TIMEOUT = 300.0


@dataclass(frozen=True)
class SyncResult:
    node: str
    tier: str
    result: Outcome
    revision: str | None = None
    changes: dict[str, int] = field(default_factory=dict)
    health: dict[str, Any] | None = None
    error: str | None = None
    rolled_back_to: str | None = None
    failed_revision: str | None = None
    durations: dict[str, float] = field(default_factory=dict)
    objects: int = 0
    requests: dict[str, Any] = field(default_factory=dict)
    entries: tuple[dict[str, Any], ...] = ()
    interrupted: str | None = None
    reason: str | None = None
    images: tuple[str, ...] = ()
    desired_revision: str | None = None
    commit_time: str | None = None
    bytes_fetched: int = 0

    @property
    def ok(self) -> bool:
        """Converged and healthy on the revision the source asks for."""
        return self.result in ("applied", "unchanged") and self.error is None

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "tier": self.tier, "revision": self.revision,
                "result": self.result, "changes": self.changes, "health": self.health,
                "error": self.error, "rolled_back_to": self.rolled_back_to,
                "failed_revision": self.failed_revision, "objects": self.objects,
                "durations": {k: round(v, 3) for k, v in self.durations.items()},
                "requests": self.requests, "interrupted": self.interrupted,
                "reason": self.reason, "images": list(self.images),
                "desired_revision": self.desired_revision, "commit_time": self.commit_time,
                "bytes_fetched": self.bytes_fetched, "entries": list(self.entries)}


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def images_stage(cfg: AgentConfig, tier: Tier, bundle: Bundle,
                 revision: str | None = None) -> tuple[Bundle, tuple[str, ...]]:
    """Rewrite every image to the tier registry and pin it to this node's platform digest.

    Raises `ImageError` naming every image that does not resolve, before anything
    is written. Resolutions are cached per revision, so a no-op cycle asks no registry.
    """
    from agent.images import pin_bundle

    pinned = pin_bundle(bundle, tier=tier, cfg=cfg.images, platform=cfg.platform,
                        cache_dir=cfg.state_path / "images", revision=revision)
    return pinned.bundle, tuple(p.pinned for p in pinned.pins)


def policy_stage(tier: Tier, bundle: Bundle, revision: str) -> None:
    """Refuse a bundle that breaks the tier's policy (tags are checked before pinning)."""
    from agent.policy import enforce

    enforce(bundle, tier, where=f"revision {revision}")


def _render(repo: Path, tier: Tier) -> Bundle:
    from agent.render import render_tier

    return render_tier(repo, tier)


def sync_once(cfg: AgentConfig, *, offline: bool = False,
              check_defer: Callable[[Tier], str | None] | None = None) -> SyncResult:
    store = StateStore(cfg.state_dir)
    with store.locked():
        return _Cycle(cfg, store, offline=offline, check_defer=check_defer).run()


class _Cycle:
    def __init__(self, cfg: AgentConfig, store: StateStore, *, offline: bool,
                 check_defer: Callable[[Tier], str | None] | None):
        self.cfg = cfg
        self.store = store
        self.offline = offline
        self.check_defer = check_defer
        self.durations: dict[str, float] = {}
        self.state = store.load()
        self.images: tuple[str, ...] = ()
        self.source: Revision | None = None

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.durations[name] = self.durations.get(name, 0.0) + time.monotonic() - start

    def result(self, outcome: Outcome, **kw: Any) -> SyncResult:
        src = self.source
        return SyncResult(node=self.cfg.node, tier=self.cfg.tier, result=outcome,
                          durations=dict(self.durations), images=self.images,
                          desired_revision=src.id if src else None,
                          commit_time=src.commit_time if src else None,
                          bytes_fetched=src.bytes_fetched if src else 0, **kw)

    def run(self) -> SyncResult:
        interrupted = (f"the previous sync of {self.state.applying} was interrupted"
                       if self.state.applying else None)
        held_back: str | None = None
        try:
            if self.offline:
                revision, bundle, timeout = self._offline_target()
            else:
                with self.stage("source"):
                    from agent.source import resolve

                    rev = resolve(self.cfg, offline=False)
                    self.source = rev
                hold = self._rollout_hold(rev.id)
                if hold:
                    # Nothing changed on the node: it still runs what it ran.
                    return self.result("deferred", revision=self.state.applied_revision,
                                       reason=hold, failed_revision=self.state.failed_revision)
                with self.stage("render"):
                    from agent.tiers import load_tiers

                    tier = load_tiers(rev.path, self.cfg.source.tiers_file).get(self.cfg.tier)
                    timeout = tier.health_timeout_seconds
                    revision = rev.id
                    if revision == self.state.failed_revision and self.state.last_good_revision:
                        held_back = revision
                        revision, bundle, _ = self._offline_target()
                    else:
                        bundle = _render(Path(rev.path), tier)
                if held_back is None:
                    if self.cfg.policy.enforce:
                        with self.stage("policy"):
                            policy_stage(tier, bundle, revision)
                    with self.stage("images"):
                        bundle, self.images = images_stage(self.cfg, tier, bundle, revision)
                if self.check_defer is not None:
                    reason = self.check_defer(tier)
                    if reason:
                        # Nothing changed on the node: it still runs what it ran.
                        return self.result("deferred", revision=self.state.applied_revision,
                                           reason=reason,
                                           failed_revision=self.state.failed_revision)
        except EdgesyncError as exc:
            return self._record_failure_before_apply(exc, interrupted)
        out = self._converge(revision, bundle, timeout, interrupted,
                             holding_back=held_back is not None)
        if held_back is not None:
            note = (f"revision {held_back} failed before ({self.state.failed_reason}); "
                    f"staying on {revision} until the source moves past it")
            return SyncResult(**{**out.__dict__, "failed_revision": held_back,
                                 "error": out.error or note})
        return out

    def _rollout_hold(self, target: str) -> str | None:
        """Why a staged rollout keeps this node off `target` (asked only when it is new)."""
        from agent.report.gate import check, gate_service

        if target == self.state.applied_revision or gate_service(self.cfg) is None:
            return None
        with self.stage("rollout"):
            return check(self.cfg, target)

    def _offline_target(self) -> tuple[str, Bundle, float]:
        good = self.state.last_good_revision
        bundle = self.store.load_bundle(good) if good else None
        if good is None or bundle is None:
            raise StateError("no last good revision on disk to re-apply",
                             where=str(self.store.root))
        return good, bundle, self.state.health_timeout or DEFAULT_HEALTH_TIMEOUT

    def _record_failure_before_apply(self, exc: EdgesyncError,
                                     interrupted: str | None) -> SyncResult:
        self.state = self.state.update(node=self.cfg.node, tier=self.cfg.tier, result="failed",
                                       error=str(exc), last_sync=now_rfc3339())
        self.store.save(self.state)
        return self.result("failed", revision=self.state.applied_revision, error=str(exc),
                           interrupted=interrupted, failed_revision=self.state.failed_revision)

    def _converge(self, revision: str, bundle: Bundle, timeout: float,
                  interrupted: str | None, *, holding_back: bool = False) -> SyncResult:
        from agent.kube import KubeClient, ResourceManager, load_connection

        try:
            conn = load_connection(self.cfg.kube.kubeconfig, self.cfg.kube.context)
        except EdgesyncError as exc:
            return self._record_failure_before_apply(exc, interrupted)
        with KubeClient(conn) as client:
            mgr = ResourceManager(client, node=self.cfg.node,
                                  field_manager=self.cfg.kube.field_manager)
            out = _Apply(self, mgr, revision, bundle, timeout=timeout,
                         interrupted=interrupted, holding_back=holding_back).run()
            return SyncResult(**{**out.__dict__, "requests": client.counter.snapshot()})


class _Apply:
    """Apply one target revision, verify it, roll back when it breaks, record the outcome."""

    def __init__(self, cycle: _Cycle, mgr: Any, revision: str, bundle: Bundle, *,
                 timeout: float, interrupted: str | None, holding_back: bool = False):
        self.holding_back = holding_back
        self.c = cycle
        self.mgr = mgr
        self.revision = revision
        self.bundle = bundle
        self.timeout = timeout
        self.interrupted = interrupted
        self.ns = cycle.cfg.kube.namespace

    def run(self) -> SyncResult:
        from agent.kube.apply import ApplyError, apply_bundle
        from agent.kube.client import UnreachableError
        from agent.kube.delete import prune
        from agent.kube.inventory import read_cluster_inventory, write_cluster_inventory
        from agent.kube.wait import wait_healthy

        c, store, state = self.c, self.c.store, self.c.state
        try:
            with c.stage("plan"):
                cluster_inv = read_cluster_inventory(self.mgr, self.ns)
                previous = store.load_inventory() or cluster_inv or Inventory()
                desired = self.mgr.prepare(self.bundle)
                entries = [InventoryEntry.of(d.obj) for d in desired]
                # Before the first write, remember everything that may exist after it, so a
                # run killed half way still knows what to prune.
                pending = Inventory.union(self.revision, [previous.entries, entries])
                pending = Inventory(pending.revision, pending.entries, previous.fingerprints)
                if set(pending.entries) != set(previous.entries) or \
                        previous.revision != self.revision:
                    store.save_inventory(pending)
                write_cluster_inventory(self.mgr, self.ns, pending, cluster_inv)
                store.save_bundle(self.revision, self.bundle)
                c.state = state = state.update(applying=self.revision, node=c.cfg.node,
                                               tier=c.cfg.tier, health_timeout=self.timeout)
                store.save(state)
            with c.stage("apply"):
                applied = apply_bundle(self.mgr, desired, fingerprints=previous.fingerprints)
            keys = {d.key for d in applied.desired}
            with c.stage("prune"):
                pruned = prune(self.mgr, [e for e in pending.entries if e.key not in keys])
            changeset = applied.changeset + pruned
            with c.stage("health"):
                health = wait_healthy(self.mgr, applied.desired, timeout=self.timeout)
        except UnreachableError as exc:
            # Nothing can be said about what was written: leave `applying` set; the next
            # run re-plans from the pending inventory and converges.
            return self._finish("failed", error=str(exc), record_failed=False)
        except ApplyError as exc:
            return self._rollback(f"apply failed: {exc}", exc.changeset.counts(), None)
        except KubeError as exc:
            # A rejected bundle (dry run): nothing was written and the node stays where it
            # was. The revision is not held back: trying it again costs only dry runs, and
            # what rejected it (a conflicting field manager, a missing namespace or CRD)
            # may be fixed in the cluster without a new revision.
            return self._finish("failed", error=str(exc), record_failed=False,
                                still_on_previous=True, blame=True)

        if not health.ok:
            return self._rollback(health.reason(), changeset.counts(), health.to_json())

        with c.stage("record"):
            fps = _fingerprints(applied, self.mgr)
            final = Inventory(self.revision, tuple(sorted(entries)), fps)
            store.save_inventory(final)
            write_cluster_inventory(self.mgr, self.ns, final, pending)
            outcome: Literal["applied", "unchanged"] = "applied" if changeset.changed \
                else "unchanged"
            c.state = c.state.update(applied_revision=self.revision,
                                     last_good_revision=self.revision, result=outcome,
                                     error=None, last_sync=now_rfc3339(), applying=None)
            if not self.holding_back:
                # Healthy on a revision the source asked for: it moved past any failed one.
                c.state = c.state.update(failed_revision=None, failed_reason=None)
            store.save(c.state)
            store.keep_bundles(self.revision)
        return c.result(outcome, revision=self.revision, changes=changeset.counts(),
                        health=health.to_json(), objects=len(desired),
                        entries=tuple(changeset.to_json()), interrupted=self.interrupted,
                        failed_revision=c.state.failed_revision)

    def _finish(self, outcome: Literal["failed", "rolled-back"], *, error: str,
                record_failed: bool, reason: str | None = None, still_on_previous: bool = False,
                blame: bool = False,
                changes: dict[str, int] | None = None, health: dict[str, Any] | None = None,
                rolled_back_to: str | None = None) -> SyncResult:
        c = self.c
        updates: dict[str, Any] = {"result": outcome, "error": error,
                                   "last_sync": now_rfc3339()}
        if record_failed and self.revision != c.state.last_good_revision:
            why = reason or error
            updates.update(failed_revision=self.revision,
                           failed_reason="; ".join(x.strip() for x in why.splitlines()))
        if still_on_previous:
            updates["applying"] = None
        if rolled_back_to is not None:
            updates.update(applied_revision=rolled_back_to, applying=None)
        c.state = c.state.update(**updates)
        c.store.save(c.state)
        return c.result(outcome, revision=c.state.applied_revision, error=error,
                        changes=changes or {}, health=health, rolled_back_to=rolled_back_to,
                        failed_revision=self.revision if blame else c.state.failed_revision,
                        objects=len(self.bundle), interrupted=self.interrupted)

    def _rollback(self, reason: str, changes: dict[str, int],
                  health: dict[str, Any] | None) -> SyncResult:
        """Put the last good revision back: re-apply its bundle, prune the rest, wait."""
        from agent.kube.apply import apply_bundle
        from agent.kube.delete import prune
        from agent.kube.inventory import read_cluster_inventory, write_cluster_inventory
        from agent.kube.wait import wait_healthy

        c, store = self.c, self.c.store
        good = c.state.last_good_revision
        good_bundle = store.load_bundle(good) if good else None
        if good is None or good == self.revision or good_bundle is None:
            return self._finish("failed", error=reason, record_failed=True,
                                changes=changes, health=health)
        from agent.kube.client import UnreachableError

        try:
            with c.stage("rollback"):
                desired = self.mgr.prepare(good_bundle)
                applied = apply_bundle(self.mgr, desired)
                keys = {d.key for d in applied.desired}
                pending = store.load_inventory() or Inventory()
                prune(self.mgr, [e for e in pending.entries if e.key not in keys])
                after = wait_healthy(self.mgr, applied.desired, timeout=self.timeout)
                entries = tuple(sorted(InventoryEntry.of(d.obj) for d in desired))
                final = Inventory(good, entries, _fingerprints(applied, self.mgr))
                store.save_inventory(final)
                write_cluster_inventory(self.mgr, self.ns, final,
                                        read_cluster_inventory(self.mgr, self.ns))
        except UnreachableError as exc:
            # The revision is retried next run, which fails and rolls back again.
            return self._finish("failed", error=f"{reason}\nrollback to {good} failed: {exc}",
                                record_failed=False, changes=changes, health=health)
        except EdgesyncError as exc:
            return self._finish("failed", error=f"{reason}\nrollback to {good} failed: {exc}",
                                record_failed=True, reason=reason, changes=changes,
                                health=health)
        error = f"revision {self.revision} rolled back to {good}: {reason}"
        if not after.ok:
            error += f"\nthe last good revision is not healthy either: {after.reason()}"
        return self._finish("rolled-back", error=error, record_failed=True, reason=reason,
                            changes=changes, health=health, rolled_back_to=good)


def _fingerprints(applied: Any, mgr: Any) -> dict[str, tuple[str, str]]:
    """(desired digest, live resourceVersion) per object, read after health settled.

    Only kinds with a health rule and a write in this cycle are listed again: their
    controllers move the resourceVersion after the write; every other object's
    version is the one already in hand.
    """
    from agent.kube.changeset import Action
    from agent.kube.health import has_rule

    written = {e.subject for e in applied.changeset.entries
               if e.action in (Action.created, Action.configured)}
    live = dict(applied.live)
    live.update(mgr.list_owned_many({d.resource for d in applied.desired
                                     if d.resource and d.subject in written
                                     and has_rule(d.key.group, d.key.kind)}))
    out: dict[str, tuple[str, str]] = {}
    for d in applied.desired:
        obj = live.get(d.key)
        if obj is not None:
            out[d.subject] = (d.digest, str((obj.get("metadata") or {})
                                            .get("resourceVersion", "")))
    return out


def report_result(cfg: AgentConfig, result: SyncResult, *,
                  flush_seconds: float = 10.0) -> str | None:
    """Spool the cycle's report and try to send it; returns why it was not sent, if so.

    Delivery problems never fail a sync: the report waits in the on-disk spool.
    """
    from agent.report import report_cycle

    if not cfg.fleet.url:
        return None
    return report_cycle(cfg, result, commit_time=result.commit_time,
                        desired_revision=result.desired_revision,
                        flush_seconds=flush_seconds).error
