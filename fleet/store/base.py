"""The `Store` protocol and the SQL both engines share.

Queries are written once with `?` placeholders; the PostgreSQL store turns
them into `%s`. Every value goes through parameters, never into the text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from fleet.errors import ConflictError, NotFoundError, StoreError
from fleet.store.migrations import statements
from fleet.store.model import (
    DeliveryInputs,
    GroupCount,
    HistoryRow,
    IngestOutcome,
    IngestReport,
    NodeIdentity,
    NodeStatus,
    RolloutRecord,
    Summary,
)

DEFAULT_OFFLINE_AFTER = 3600.0

# One expression decides a node's state, so the summary, the list and the page agree.
STATE_SQL = """CASE
    WHEN last_report IS NULL THEN 'never'
    WHEN last_report < ? THEN 'offline'
    WHEN result IN ('failed', 'rolled_back') THEN 'failed'
    WHEN result = 'deferred' THEN 'deferred'
    WHEN LOWER(COALESCE(health, 'healthy')) = 'progressing' THEN 'progressing'
    WHEN LOWER(COALESCE(health, 'healthy')) NOT IN ('healthy', 'suspended') THEN 'unhealthy'
    ELSE 'healthy' END"""

def state_of(result: str | None, health: str | None, *, never: bool, offline: bool) -> str:
    """STATE_SQL in Python, for the summary's groups (tests hold the two together)."""
    if never:
        return "never"
    if offline:
        return "offline"
    if result in ("failed", "rolled_back"):
        return "failed"
    if result == "deferred":
        return "deferred"
    level = (health or "healthy").lower()
    if level == "progressing":
        return "progressing"
    if level not in ("healthy", "suspended"):
        return "unhealthy"
    return "healthy"


STATE_ORDER_SQL = """CASE state WHEN 'failed' THEN 0 WHEN 'unhealthy' THEN 1
    WHEN 'offline' THEN 2 WHEN 'never' THEN 3 WHEN 'deferred' THEN 4
    WHEN 'progressing' THEN 5 ELSE 6 END"""

_STATUS_COLUMNS = ("node, tier, region, platform, agent_version, desired_revision, revision, "
                   "commit_time, apply_time, result, health, deferred_reason, failures, "
                   "last_report, reports_received")


class Store(Protocol):
    """What the API, the CLI and the metrics need from a fleet store."""

    def close(self) -> None: ...
    def schema_version(self) -> int: ...
    def add_node(self, name: str, tier: str, region: str, token_hash: str) -> None: ...
    def add_nodes(self, nodes: Sequence[tuple[str, str, str, str]]) -> None: ...
    def add_operator(self, name: str, token_hash: str) -> None: ...
    def node_for_token(self, token_hash: str) -> NodeIdentity | None: ...
    def operator_for_token(self, token_hash: str) -> str | None: ...
    def create_session(self, token_hash: str, operator: str, expires_at: float) -> None: ...
    def session_operator(self, token_hash: str) -> str | None: ...
    def delete_session(self, token_hash: str) -> None: ...
    def ingest(self, node: str, reports: Sequence[IngestReport]) -> IngestOutcome: ...
    def list_nodes(self, *, tier: str | None = None, region: str | None = None,
                   state: str | None = None, limit: int = 1000, offset: int = 0,
                   offline_after: float = DEFAULT_OFFLINE_AFTER) -> list[NodeStatus]: ...
    def get_node(self, name: str, offline_after: float = DEFAULT_OFFLINE_AFTER
                 ) -> NodeStatus | None: ...
    def node_reports(self, name: str, limit: int = 20) -> list[dict[str, Any]]: ...
    def summary(self, offline_after: float = DEFAULT_OFFLINE_AFTER) -> Summary: ...
    def history(self, since: float) -> list[HistoryRow]: ...
    def delivery_inputs(self, since: float, revision: str | None) -> DeliveryInputs: ...
    def create_rollout(self, revision: str, waves: list[dict[str, Any]], gate: float
                       ) -> RolloutRecord: ...
    def get_rollout(self, rollout_id: int | None = None) -> RolloutRecord | None: ...
    def update_rollout(self, rollout_id: int, *, state: str, current_wave: int) -> None: ...


class SqlStore:
    """The shared implementation; subclasses provide connections and bulk ingest."""

    dialect = "sqlite"

    # -- provided by the engine -------------------------------------------------------
    def _tx(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _is_unique_violation(self, exc: Exception) -> bool:
        raise NotImplementedError

    def _insert_reports(self, db: Any, rows: Sequence[IngestReport], now: float) -> set[str]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- helpers ----------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return text if self.dialect == "sqlite" else text.replace("?", "%s")

    def _all(self, db: Any, text: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(db.execute(self._sql(text), tuple(params)).fetchall())

    def _one(self, db: Any, text: str, params: Sequence[Any] = ()) -> Any:
        return db.execute(self._sql(text), tuple(params)).fetchone()

    # -- schema -----------------------------------------------------------------------
    def migrate(self) -> None:
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version "
                       "(version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)")
        current = self.schema_version()
        for version, sqls in statements(self.dialect, current):
            with self._tx() as db:
                for sql in sqls:
                    db.execute(sql)
                db.execute(self._sql("INSERT INTO schema_version (version, applied_at) "
                                     "VALUES (?, ?)"), (version, time.time()))

    def schema_version(self) -> int:
        with self._tx() as db:
            row = self._one(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version")
        return int(row[0])

    # -- enrolment --------------------------------------------------------------------
    def add_node(self, name: str, tier: str, region: str, token_hash: str) -> None:
        self.add_nodes([(name, tier, region, token_hash)])

    def add_nodes(self, nodes: Sequence[tuple[str, str, str, str]]) -> None:
        now = time.time()
        try:
            with self._tx() as db:
                db.cursor().executemany(self._sql(
                    "INSERT INTO nodes (name, tier, region, token_hash, created_at) "
                    "VALUES (?, ?, ?, ?, ?)"), [(*n, now) for n in nodes])
                db.cursor().executemany(self._sql(
                    "INSERT INTO node_status (node, tier, region) VALUES (?, ?, ?)"),
                    [(n[0], n[1], n[2]) for n in nodes])
        except Exception as exc:
            if self._is_unique_violation(exc):
                names = ", ".join(n[0] for n in nodes[:3])
                raise ConflictError("node already enrolled", where=names) from exc
            raise

    def add_operator(self, name: str, token_hash: str) -> None:
        try:
            with self._tx() as db:
                db.execute(self._sql("INSERT INTO operators (name, token_hash, created_at) "
                                     "VALUES (?, ?, ?)"), (name, token_hash, time.time()))
        except Exception as exc:
            if self._is_unique_violation(exc):
                raise ConflictError("operator already exists", where=name) from exc
            raise

    def node_for_token(self, token_hash: str) -> NodeIdentity | None:
        with self._tx() as db:
            row = self._one(db, "SELECT name, tier, region FROM nodes WHERE token_hash = ?",
                            (token_hash,))
        return NodeIdentity(*row) if row else None

    def operator_for_token(self, token_hash: str) -> str | None:
        with self._tx() as db:
            row = self._one(db, "SELECT name FROM operators WHERE token_hash = ?", (token_hash,))
        return str(row[0]) if row else None

    # -- browser sessions -------------------------------------------------------------
    def create_session(self, token_hash: str, operator: str, expires_at: float) -> None:
        with self._tx() as db:
            db.execute(self._sql("DELETE FROM sessions WHERE expires_at < ?"), (time.time(),))
            db.execute(self._sql("INSERT INTO sessions (token_hash, operator, expires_at) "
                                 "VALUES (?, ?, ?)"), (token_hash, operator, expires_at))

    def session_operator(self, token_hash: str) -> str | None:
        with self._tx() as db:
            row = self._one(db, "SELECT operator FROM sessions WHERE token_hash = ? "
                                "AND expires_at >= ?", (token_hash, time.time()))
        return str(row[0]) if row else None

    def delete_session(self, token_hash: str) -> None:
        with self._tx() as db:
            db.execute(self._sql("DELETE FROM sessions WHERE token_hash = ?"), (token_hash,))

    # -- ingest -----------------------------------------------------------------------
    def ingest(self, node: str, reports: Sequence[IngestReport]) -> IngestOutcome:
        """Store a batch from one node atomically; keys seen before count as duplicates."""
        if not reports:
            return IngestOutcome(0, 0)
        with self._tx() as db:
            return self._ingest_in(db, node, reports)

    def _ingest_in(self, db: Any, node: str, reports: Sequence[IngestReport]) -> IngestOutcome:
        fresh_keys = self._insert_reports(db, reports, time.time())
        fresh = [r for r in reports if r.idempotency_key in fresh_keys]
        if fresh:
            self._update_status(db, node, fresh)
        return IngestOutcome(len(fresh), len(reports) - len(fresh))

    def _update_status(self, db: Any, node: str, fresh: list[IngestReport]) -> None:
        newest = max(fresh, key=lambda r: r.created_at)
        db.execute(self._sql(
            "UPDATE node_status SET reports_received = reports_received + ?, "
            "last_report = CASE WHEN last_report IS NULL OR last_report < ? THEN ? "
            "ELSE last_report END, "
            "platform = COALESCE(?, platform), agent_version = COALESCE(?, agent_version) "
            "WHERE node = ?"),
            (len(fresh), newest.created_at, newest.created_at, newest.platform,
             newest.agent_version, node))
        results = [r for r in fresh if r.kind == "result"]
        if not results:
            return
        last = max(results, key=lambda r: r.created_at)
        db.execute(self._sql(
            "UPDATE node_status SET desired_revision = ?, revision = ?, commit_time = ?, "
            "apply_time = ?, result = ?, health = ?, deferred_reason = ?, failures = ?, "
            "last_result_at = ? WHERE node = ? AND (last_result_at IS NULL "
            "OR last_result_at <= ?)"),
            (last.desired_revision, last.applied_revision, last.commit_time, last.apply_time,
             last.result, last.health, last.deferred_reason, last.failures, last.created_at,
             node, last.created_at))

    # -- queries ----------------------------------------------------------------------
    def list_nodes(self, *, tier: str | None = None, region: str | None = None,
                   state: str | None = None, limit: int = 1000, offset: int = 0,
                   offline_after: float = DEFAULT_OFFLINE_AFTER) -> list[NodeStatus]:
        where: list[str] = []
        params: list[Any] = [time.time() - offline_after]
        for column, value in (("tier", tier), ("region", region), ("state", state)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        params += [limit, offset]
        with self._tx() as db:
            rows = self._all(db, (
                f"SELECT * FROM (SELECT {_STATUS_COLUMNS}, {STATE_SQL} AS state "
                f"FROM node_status) s {clause} "
                f"ORDER BY {STATE_ORDER_SQL}, last_report, node LIMIT ? OFFSET ?"), params)
        return [_status(row) for row in rows]

    def get_node(self, name: str, offline_after: float = DEFAULT_OFFLINE_AFTER
                 ) -> NodeStatus | None:
        with self._tx() as db:
            row = self._one(db, f"SELECT {_STATUS_COLUMNS}, {STATE_SQL} AS state "
                                "FROM node_status WHERE node = ?",
                            (time.time() - offline_after, name))
        return _status(row) if row else None

    def node_reports(self, name: str, limit: int = 20) -> list[dict[str, Any]]:
        with self._tx() as db:
            rows = self._all(db, "SELECT body FROM reports WHERE node = ? "
                                 "ORDER BY id DESC LIMIT ?", (name, limit))
        return [json.loads(row[0]) for row in rows]

    def summary(self, offline_after: float = DEFAULT_OFFLINE_AFTER) -> Summary:
        cutoff = time.time() - offline_after
        with self._tx() as db:
            latest = self._one(db, "SELECT desired_revision FROM node_status "
                                   "WHERE commit_time IS NOT NULL "
                                   "ORDER BY commit_time DESC LIMIT 1")
            # One scan grouped by raw columns; the state of each (few) group is worked
            # out here, which is cheaper than evaluating STATE_SQL on every row.
            groups = self._all(db, "SELECT tier, region, revision, result, health, "
                                   "last_report IS NULL, last_report < ?, COUNT(*) "
                                   "FROM node_status GROUP BY 1, 2, 3, 4, 5, 6, 7", (cutoff,))
        states: dict[tuple[str, str, str], int] = {}
        revisions: dict[tuple[str, str, str | None], int] = {}
        for tier, region, revision, result, health, never, offline, count in groups:
            state = state_of(result, health, never=bool(never), offline=bool(offline))
            states[(tier, region, state)] = states.get((tier, region, state), 0) + int(count)
            revisions[(tier, region, revision)] = (revisions.get((tier, region, revision), 0)
                                                   + int(count))
        return Summary(
            latest_revision=latest[0] if latest else None,
            by_state=[GroupCount(t, r, k, c) for (t, r, k), c in sorted(states.items())],
            by_revision=[GroupCount(t, r, k, c) for (t, r, k), c in sorted(
                revisions.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[1]))])

    def history(self, since: float) -> list[HistoryRow]:
        with self._tx() as db:
            rows = self._all(db, "SELECT node, tier, created_at, result, desired_revision, "
                                 "applied_revision, commit_time, apply_time FROM reports "
                                 "WHERE kind = 'result' AND created_at >= ? "
                                 "ORDER BY created_at, id", (since,))
        return [HistoryRow(*row) for row in rows]

    def delivery_inputs(self, since: float, revision: str | None) -> DeliveryInputs:
        """`fleet.metrics.inputs_from_history` done by the database, with GROUP BYs."""
        window = "kind = 'result' AND created_at >= ?"
        with self._tx() as db:
            leads = self._all(db, "SELECT node, tier, applied_revision, "
                                  "MIN(apply_time - commit_time) FROM reports "
                                  f"WHERE {window} AND result = 'applied' "
                                  "AND applied_revision <> '' AND commit_time IS NOT NULL "
                                  "AND apply_time IS NOT NULL "
                                  "GROUP BY node, tier, applied_revision", (since,))
            targets = self._all(db, "SELECT tier, COALESCE(NULLIF(desired_revision, ''), "
                                    "applied_revision), MAX(CASE WHEN result IN ('failed', "
                                    "'rolled_back') AND desired_revision <> '' THEN 1 ELSE 0 "
                                    f"END) FROM reports WHERE {window} AND result IN "
                                    "('applied', 'unchanged', 'failed', 'rolled_back') "
                                    "AND COALESCE(NULLIF(desired_revision, ''), "
                                    "applied_revision) <> '' GROUP BY 1, 2", (since,))
            # One scan with a window function rather than a join: without fresh table
            # statistics a join here can be planned as a nested loop (seconds to minutes).
            columns = ("node, tier, created_at, result, desired_revision, applied_revision, "
                       "commit_time, apply_time")
            restore = self._all(db, f"SELECT {columns} FROM (SELECT {columns}, id, "
                                    "MAX(CASE WHEN result IN ('failed', 'rolled_back') "
                                    "THEN 1 ELSE 0 END) OVER (PARTITION BY node) AS failing "
                                    f"FROM reports WHERE {window} AND result IN ('applied', "
                                    "'unchanged', 'failed', 'rolled_back')) s "
                                    "WHERE failing = 1 ORDER BY created_at, id", (since,))
            arrivals = [] if not revision else self._all(
                db, "SELECT node, tier, MIN(COALESCE(apply_time, created_at)), "
                    "MIN(CASE WHEN desired_revision = ? THEN commit_time END) FROM reports "
                    f"WHERE {window} AND applied_revision = ? "
                    "AND result IN ('applied', 'unchanged') GROUP BY node, tier",
                (revision, since, revision))
        return DeliveryInputs(
            leads=[(r[0], r[1], r[2], max(0.0, float(r[3]))) for r in leads],
            targets=[(r[0], r[1], bool(r[2])) for r in targets],
            restore_rows=[HistoryRow(*r) for r in restore],
            arrivals=[(r[0], r[1], float(r[2]), None if r[3] is None else float(r[3]))
                      for r in arrivals])

    # -- rollouts ---------------------------------------------------------------------
    def create_rollout(self, revision: str, waves: list[dict[str, Any]], gate: float
                       ) -> RolloutRecord:
        now = time.time()
        with self._tx() as db:
            active = self._one(db, "SELECT id FROM rollouts WHERE state IN ('running', "
                                   "'waiting')")
            if active:
                raise ConflictError(f"rollout {active[0]} is still active; promote or abort it",
                                    where="rollouts")
            row = self._one(db, "INSERT INTO rollouts (revision, state, current_wave, gate, "
                                "waves, created_at, updated_at) VALUES (?, 'running', 0, ?, ?, "
                                "?, ?) RETURNING id",
                            (revision, gate, json.dumps(waves), now, now))
        return RolloutRecord(int(row[0]), revision, "running", 0, gate, waves, now, now)

    def get_rollout(self, rollout_id: int | None = None) -> RolloutRecord | None:
        with self._tx() as db:
            if rollout_id is None:
                row = self._one(db, "SELECT id, revision, state, current_wave, gate, waves, "
                                    "created_at, updated_at FROM rollouts ORDER BY id DESC "
                                    "LIMIT 1")
            else:
                row = self._one(db, "SELECT id, revision, state, current_wave, gate, waves, "
                                    "created_at, updated_at FROM rollouts WHERE id = ?",
                                (rollout_id,))
        if not row:
            return None
        return RolloutRecord(int(row[0]), row[1], row[2], int(row[3]), float(row[4]),
                             json.loads(row[5]), float(row[6]), float(row[7]))

    def update_rollout(self, rollout_id: int, *, state: str, current_wave: int) -> None:
        with self._tx() as db:
            cur = db.execute(self._sql("UPDATE rollouts SET state = ?, current_wave = ?, "
                                       "updated_at = ? WHERE id = ?"),
                             (state, current_wave, time.time(), rollout_id))
            if cur.rowcount == 0:
                raise NotFoundError("no such rollout", where=f"rollout {rollout_id}")


def _status(row: Sequence[Any]) -> NodeStatus:
    return NodeStatus(
        name=row[0], tier=row[1], region=row[2], platform=row[3], agent_version=row[4],
        desired_revision=row[5], revision=row[6], commit_time=row[7], apply_time=row[8],
        result=row[9], health=row[10], deferred_reason=row[11], failures=int(row[12] or 0),
        last_report=row[13], reports_received=int(row[14] or 0), state=row[15])


__all__ = ["DEFAULT_OFFLINE_AFTER", "SqlStore", "Store", "StoreError"]
