"""`edge-agent run`: the long-running loop around `sync_once`.

The loop only decides *when* to sync; every stage lives in its own package.

* Polling follows the tier policy of the revision on disk (`agent.schedule`):
  realtime every few seconds, interval with jitter, on-demand never. A node
  with nothing on disk syncs once at start to learn its tier.
* A poll of a Git source is one `ls-remote`; only when the ref moved (or a
  trigger came) does `sync_once` run. Local-directory sources are polled by
  their content hash.
* Failures back off exponentially with jitter, capped (tenacity's policy),
  while polls keep running at the tier's pace so a fixing commit is picked up
  at once. A revision the cycle marked failed (rolled back) is not retried
  until the source moves past it.
* A deferred cycle (lock held, window closed, a staged rollout holding the
  new revision) is re-checked every few seconds with the cheap `deferral`
  probe and the rollout gate, and synced as soon as it clears.
* SIGTERM/SIGINT: finish the running cycle, then exit; a second signal
  abandons it (the state file's `applying` mark makes the next run converge).
  SIGHUP: reload the config between cycles (an invalid file is logged and
  the old config kept).
* systemd: READY=1 once serving, STATUS= after every change, WATCHDOG=1
  while the loop is alive (a cycle counts as alive up to its health timeout
  plus a margin), STOPPING=1 on the way out.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from agent.config import AgentConfig, load_config
from agent.daemon_control import Controller, Trigger
from agent.daemon_log import EventLog
from agent.daemon_metrics import Metrics
from agent.daemon_notify import notify, watchdog_interval
from agent.errors import EdgesyncError, StateError
from agent.tiers import Tier

DEFER_RECHECK = 2.0
BACKOFF_BASE = 2.0
BACKOFF_CAP = 300.0
CYCLE_MARGIN = 300.0


def backoff_seconds(failures: int) -> float:
    from agent.schedule import backoff

    return backoff(failures, base=BACKOFF_BASE, cap=BACKOFF_CAP)


@dataclass
class LoopState:
    """What the loop knows between cycles (all of it shows in `status`)."""

    phase: str = "starting"
    last_attempt: str | None = None  # source commit/content id the last cycle worked on
    last_ok: bool = False
    settled_bad: bool = False  # the last attempt was marked failed by the cycle; wait for a move
    failures: int = 0
    last_error: str | None = None
    deferred: str | None = None
    deferred_target: str | None = None  # the source revision a deferred cycle did not take
    next_poll: float | None = None
    retry_at: float | None = None
    last_result: dict[str, Any] | None = None
    last_sync_at: float | None = None
    started_at: float = field(default_factory=time.time)
    cycles: int = 0
    polls: int = 0


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else None


class Daemon:
    def __init__(self, config_path: str | None, cfg: AgentConfig | None = None):
        self.config_path = config_path
        self.cfg = cfg or load_config(config_path)
        self.log = EventLog(self.cfg.daemon.log_format)
        self.metrics = Metrics()
        self.rng = random.Random()
        self.state = LoopState()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._reload = False
        self._lock = threading.Lock()
        self._queue: list[Trigger] = []
        self._ids = itertools.count(1)
        self._in_cycle_since: float | None = None
        self._heartbeat = time.monotonic()
        self._servers: list[Any] = []
        self._tier_cache: tuple[str, Tier] | None = None
        self._signals = 0
        self._last_status = ""
        self._socket_bound = False
        from agent.daemon_report import ReportPump

        # Through getters: a SIGHUP reload replaces both the config and the log.
        self.reports = ReportPump(lambda: self.cfg, self._emit, self._applied_for_heartbeat)

    # -- outside requests ------------------------------------------------------------------

    def enqueue(self, source: str) -> Trigger:
        trig = Trigger(id=next(self._ids), source=source)
        with self._lock:
            self._queue.append(trig)
        self.log("trigger", source=source, id=trig.id)
        self._wake.set()
        return trig

    def status(self) -> dict[str, Any]:
        from agent.state import StateStore

        s = self.state
        try:
            node = StateStore(self.cfg.state_dir).load().to_json()
        except EdgesyncError as exc:
            node = {"error": str(exc)}
        tier = self._tier()
        return {
            "node": self.cfg.node, "tier": self.cfg.tier, "pid": os.getpid(),
            "mode": tier.sync.mode if tier else None,
            "phase": s.phase, "source_revision": self._source_revision(),
            "applied_revision": node.get("applied_revision"),
            "last_good_revision": node.get("last_good_revision"),
            "failed_revision": node.get("failed_revision"),
            "last_result": (s.last_result or {}).get("result") or node.get("result"),
            "last_sync": _iso(s.last_sync_at) or node.get("last_sync"),
            "last_error": s.last_error, "deferred": s.deferred, "failures": s.failures,
            "next_poll": _iso(s.next_poll), "retry_at": _iso(s.retry_at),
            "cycles": s.cycles, "polls": s.polls, "started": _iso(s.started_at),
            "queued_triggers": len(self._queue),
        }

    # -- running -------------------------------------------------------------------------

    def run(self) -> int:
        self._install_signals()
        try:
            self._start_servers()
        except BaseException:
            self._stop_servers()
            raise
        self._schedule_first()
        self._last_status = self._status_line()
        notify("READY=1", f"STATUS={self._last_status}")
        self.log("started", node=self.cfg.node, tier=self.cfg.tier, pid=os.getpid(),
                 socket=self.cfg.daemon.socket, metrics=self.cfg.daemon.metrics_listen,
                 mode=(t.sync.mode if (t := self._tier()) else "unknown (nothing on disk)"))
        self.reports.start()
        interval = watchdog_interval()
        if interval:
            threading.Thread(target=self._watchdog, args=(interval,), name="watchdog",
                             daemon=True).start()
        try:
            while not self._stop.is_set():
                self._heartbeat = time.monotonic()
                if self._reload:
                    self._reload_config()
                self._step()
        finally:
            notify("STOPPING=1")
            self._stop_servers()
            self.reports.stop()
            self.log("stopped", cycles=self.state.cycles)
        return 0

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _step(self) -> None:
        s = self.state
        now = time.time()
        with self._lock:
            triggers, self._queue = self._queue, []
        if triggers:
            self._cycle(triggers=triggers)
            return
        if s.deferred is not None and s.retry_at is not None and now >= s.retry_at:
            if self._still_deferred():
                s.retry_at = now + DEFER_RECHECK
            else:
                self._cycle()
            return
        if s.retry_at is not None and now >= s.retry_at and s.deferred is None:
            s.retry_at = None
            self._cycle()
            return
        if self._resync_due(now):
            self.log("resync", reason="periodic drift check")
            self._cycle()
            return
        if s.next_poll is not None and now >= s.next_poll:
            self._poll_then_maybe_sync()
            return
        due = [t for t in (s.next_poll, s.retry_at) if t is not None]
        wait = max(0.0, min(due) - now) if due else 3600.0
        self._wake.wait(min(wait, 10.0))  # wake at least every 10 s to keep the heartbeat fresh
        self._wake.clear()

    def _schedule_first(self) -> None:
        from agent.state import StateStore

        now = time.time()
        tier = self._tier()
        try:
            node = StateStore(self.cfg.state_dir).load()
        except EdgesyncError:
            node = None
        if node is not None and node.applied_revision:
            self.state.last_attempt = self._source_revision() or node.applied_revision
            self.state.last_ok = node.result in ("applied", "unchanged") and not node.error
            self.state.settled_bad = node.failed_revision == self.state.last_attempt
        if tier is None:
            self.state.next_poll = now  # nothing on disk: learn the tier policy now
        else:
            from agent.schedule import first_run

            self.state.next_poll = first_run(tier.sync, now, self.rng)
        self.state.phase = "idle"

    # -- one wake-up -------------------------------------------------------------------------

    def _poll_then_maybe_sync(self) -> None:
        s = self.state
        start = time.time()
        try:
            target = self._poll_source()
        except EdgesyncError as exc:
            s.polls += 1
            self._failed(str(exc), stage="poll", started=start)
            return
        s.polls += 1
        moved = target != s.last_attempt
        self.metrics.polls.labels("true" if moved else "false").inc()
        if moved or (not s.last_ok and not s.settled_bad and s.retry_at is None):
            self._cycle(started=start)
        else:
            self._plan_next_poll(start)

    def _poll_source(self) -> str:
        if self.cfg.source.url:
            from agent.source import git as gitsource

            return gitsource.poll(self.cfg).target.commit
        from agent.source import resolve

        return resolve(self.cfg, offline=False).id

    def _cycle(self, *, triggers: list[Trigger] | None = None,
               started: float | None = None) -> None:
        from agent.cycle import SyncResult, sync_once
        from agent.schedule import ApplyGate, deferral

        s = self.state
        start = started or time.time()
        gate = ApplyGate(self.cfg.daemon.lock_file)
        cfg = self.cfg

        def check_defer(tier: Tier) -> str | None:
            # Windows and script lock first; then hold the update lock for the whole apply.
            reason = deferral(cfg, tier)
            return reason or gate.try_hold()

        before = self._source_revision()
        s.phase = "syncing"
        self._in_cycle_since = time.monotonic()
        notify(f"STATUS=syncing ({'trigger' if triggers else 'source moved'})")
        try:
            result: SyncResult = sync_once(cfg, check_defer=check_defer)
        except EdgesyncError as exc:
            result = SyncResult(node=cfg.node, tier=cfg.tier, result="failed", error=str(exc))
        finally:
            gate.release()
            self._in_cycle_since = None
        end = time.time()
        s.cycles += 1
        s.last_sync_at = end
        s.last_result = {k: v for k, v in result.to_json().items() if k != "entries"}
        self.reports.submit(result)
        self.metrics.record(result, end)
        after = self._source_revision()
        if after and after != before:
            self._count_fetched(after)
        s.last_attempt = after or result.revision
        s.deferred_target = result.desired_revision if result.result == "deferred" else None
        if result.result == "deferred":
            s.deferred = result.reason or "deferred"
            s.retry_at = end + DEFER_RECHECK
            s.phase = "deferred"
            self.log("deferred", revision=result.desired_revision, running=result.revision,
                     reason=s.deferred)
        elif result.ok:
            s.deferred = None
            s.last_ok, s.settled_bad, s.failures, s.last_error = True, False, 0, None
            s.retry_at = None
            s.phase = "idle"
            self.metrics.consecutive_failures.set(0)
            self._mark_good(result.revision)
            self.log("synced", result=result.result, revision=result.revision,
                     changes=result.changes, seconds=round(end - start, 3),
                     durations={k: round(v, 3) for k, v in result.durations.items()})
        else:
            s.deferred = None
            s.settled_bad = bool(result.failed_revision) and \
                result.failed_revision == s.last_attempt
            self._failed(result.error or result.result, stage="sync", started=start,
                         result=result.result, revision=result.revision,
                         retry=not s.settled_bad)
        for trig in triggers or []:
            trig.result = s.last_result
            trig.done.set()
        self._plan_next_poll(start)

    def _failed(self, error: str, *, stage: str, started: float, retry: bool = True,
                **fields: Any) -> None:
        s = self.state
        s.last_ok = False
        s.failures += 1
        s.last_error = error
        s.phase = "backoff"
        wait = backoff_seconds(s.failures)
        s.retry_at = time.time() + wait if retry and stage == "sync" else None
        self.metrics.consecutive_failures.set(s.failures)
        if stage == "poll":
            self.metrics.failed.inc()
        self.log("failed", level="error", stage=stage, error=error, failures=s.failures,
                 retry_in=round(wait, 1) if retry else None, **fields)
        self._plan_next_poll(started, at_least=wait if stage == "poll" else 0.0)

    def _plan_next_poll(self, started: float, *, at_least: float = 0.0) -> None:
        from agent.schedule import next_run

        tier = self._tier()
        now = time.time()
        if tier is None:
            # Still nothing on disk (the first sync failed): keep trying to get a revision.
            self.state.next_poll = now + max(at_least, backoff_seconds(1))
        else:
            nxt = next_run(tier.sync, started, self.rng)
            self.state.next_poll = None if nxt is None else max(nxt, now + at_least)
        self._notify_status()

    def _emit(self, event: str, **fields: Any) -> None:
        self.log(event, **fields)

    def _resync_due(self, now: float) -> bool:
        """A full cycle now and then, even when the source did not move, to undo drift.

        On-demand tiers stay quiet: they change only when someone asks.
        """
        from agent.dataload import parse_duration

        s, tier = self.state, self._tier()
        every = self.cfg.daemon.resync_interval
        if not every or tier is None or tier.sync.mode == "on-demand":
            return False
        if not s.last_ok or s.deferred is not None or s.last_sync_at is None:
            return False
        try:
            seconds = parse_duration(every, key="daemon.resync_interval")
        except EdgesyncError:
            return False
        return seconds > 0 and now - s.last_sync_at >= seconds

    def _applied_for_heartbeat(self) -> tuple[str | None, str | None]:
        from agent.state import StateStore

        try:
            node = StateStore(self.cfg.state_dir).load()
        except EdgesyncError:
            return None, None
        healthy = node.result in ("applied", "unchanged") and not node.error
        return node.applied_revision, "Healthy" if healthy else node.result

    def _still_deferred(self) -> bool:
        from agent.schedule import deferral

        tier = self._tier()
        if tier is None:
            return False
        try:
            reason = deferral(self.cfg, tier)
            if reason is None and self.state.deferred_target:
                # A staged rollout's hold is re-checked at the fleet service (whose kept
                # answer makes most checks free), not by a cycle: held nodes must not ask
                # their Git server every few seconds. A moved source still syncs at the
                # tier's poll.
                from agent.report.gate import check

                reason = check(self.cfg, self.state.deferred_target)
        except EdgesyncError as exc:
            reason = str(exc)
        self.state.deferred = reason
        return reason is not None

    # -- helpers -------------------------------------------------------------------------

    def _source_revision(self) -> str | None:
        if not self.cfg.source.url:
            return None
        from agent.source import store

        return store.pointer(self.cfg.state_dir, store.CURRENT)

    def _tier(self) -> Tier | None:
        """The node's tier from the revision on disk (None before the first fetch)."""
        from agent.tiers import load_tiers

        if self.cfg.source.url:
            rev = self._source_revision()
            root = str(Path(self.cfg.state_dir) / "revisions" / rev) if rev else None
        else:
            root = self.cfg.source.path
        if root is None:
            return None
        key = f"{root}:{self.cfg.tier}"
        if self._tier_cache and self._tier_cache[0] == key:
            return self._tier_cache[1]
        try:
            tier = load_tiers(root, self.cfg.source.tiers_file).get(self.cfg.tier)
        except EdgesyncError:
            return None
        if self.cfg.source.url:  # local sources may change under us; checkouts never do
            self._tier_cache = (key, tier)
        return tier

    def _mark_good(self, revision: str | None) -> None:
        if not (self.cfg.source.url and revision):
            return
        from agent.source import git as gitsource

        try:
            gitsource.mark_good(self.cfg, revision)
        except EdgesyncError as exc:
            self.log("mark_good_failed", level="warning", error=str(exc))

    def _count_fetched(self, commit: str) -> None:
        from agent.source import store

        rev = store.load(self.cfg.state_dir, commit)
        if rev is not None and rev.bytes_fetched:
            self.metrics.fetched_bytes.inc(rev.bytes_fetched)

    def _notify_status(self) -> None:
        """Tell systemd the status line when it changed (not on every idle poll)."""
        line = self._status_line()
        if line != self._last_status:
            self._last_status = line
            notify(f"STATUS={line}")

    def _status_line(self) -> str:
        s = self.state
        parts = [s.phase]
        if s.last_result:
            parts.append(f"last {s.last_result.get('result')} "
                         f"{str(s.last_result.get('revision') or '')[:12]}")
        if s.deferred:
            parts.append(f"deferred: {s.deferred}")
        if s.last_error and not s.last_ok:
            parts.append(f"error: {s.last_error.splitlines()[0][:120]}")
        return "; ".join(parts)

    def _reload_config(self) -> None:
        self._reload = False
        try:
            cfg = load_config(self.config_path)
        except EdgesyncError as exc:
            self.log("reload_failed", level="error", error=str(exc), action="kept old config")
            return
        changed = [k for k in ("socket", "metrics_listen", "webhook")
                   if getattr(cfg.daemon, k) != getattr(self.cfg.daemon, k)]
        self.cfg = cfg
        self.log = EventLog(cfg.daemon.log_format)
        self._tier_cache = None
        self.state.last_attempt = None  # a new source or tier must sync
        self.state.next_poll = time.time()
        self.log("reloaded", config=self.config_path,
                 restart_needed_for=",".join(changed) or None)

    # -- threads and servers -------------------------------------------------------------

    def _watchdog(self, interval: float) -> None:
        while not self._stop.wait(interval):
            since = self._in_cycle_since
            if since is not None:
                tier = self._tier()
                allowance = (tier.health_timeout_seconds if tier else 300.0) + CYCLE_MARGIN
                alive = time.monotonic() - since < allowance
            else:
                alive = time.monotonic() - self._heartbeat < max(4 * interval, 30.0)
            if alive:
                notify("WATCHDOG=1")

    def _start_servers(self) -> None:
        from agent.daemon_control import serve_socket, serve_webhook

        d = self.cfg.daemon
        controller = Controller(self.enqueue, self.status)
        with _listening(d.socket):
            self._servers.append(serve_socket(d.socket, d.socket_group, controller))
        self._socket_bound = True
        if d.metrics_listen:
            with _listening(d.metrics_listen):
                self._servers.append(self.metrics.serve(d.metrics_listen))
        if d.webhook.listen:
            with _listening(d.webhook.listen):
                self._servers.append(serve_webhook(d.webhook.listen, d.webhook.secret_file,
                                                   controller, self.log))

    def _stop_servers(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        sock = Path(self.cfg.daemon.socket)
        if self._socket_bound and sock.is_socket():
            sock.unlink()

    def _install_signals(self) -> None:
        def on_stop(signum: int, _frame: FrameType | None) -> None:
            self._signals += 1
            self.log("signal", name=signal.Signals(signum).name,
                     action="finishing the running cycle, then exiting"
                     if self._in_cycle_since is not None else "exiting")
            self.stop()
            if self._signals > 1 and self._in_cycle_since is not None:
                raise SystemExit(143)  # abandon: the next run converges from `applying`

        def on_hup(_signum: int, _frame: FrameType | None) -> None:
            self._reload = True
            self._wake.set()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_hup)


@contextmanager
def _listening(address: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise StateError(f"cannot listen: {exc.strerror or exc}", where=address) from exc


def run(config_path: str | None) -> int:
    return Daemon(config_path).run()
