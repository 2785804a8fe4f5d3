"""The node's durable report spool: SQLite in WAL mode with synchronous=FULL.

Reports leave in the order they were put. A size cap bounds the file: when a
new report would pass it, the oldest heartbeats go first (they only say "I was
alive"); results are never dropped, and every drop is counted so the node can
tell the fleet service what it lost.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from agent.errors import ReportError
from agent.report.model import Report

SPOOL_FILE = "reports.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spool_kind_seq ON spool (kind, seq);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class SpooledReport:
    """A report waiting in the spool, with its place in the send order."""

    seq: int
    idempotency_key: str
    body: str

    @property
    def wire(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.body)
        return data


@dataclass(frozen=True)
class SpoolStats:
    pending: int
    pending_bytes: int
    dropped_heartbeats: int
    rejected: int


class Spool:
    """Durable FIFO of reports under `state_dir`, at most about `max_bytes` of payload."""

    def __init__(self, state_dir: str | Path, max_bytes: int = 16 * 1024 * 1024) -> None:
        self.path = Path(state_dir) / SPOOL_FILE
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ReportError(f"cannot open report spool: {exc}", where=str(self.path)) from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put(self, report: Report) -> int:
        """Store `report` durably and return its sequence number (idempotent per key)."""
        with self._lock, self._transaction():
            row = self._db.execute("SELECT seq FROM spool WHERE idempotency_key = ?",
                                   (report.idempotency_key,)).fetchone()
            if row is not None:
                return int(row[0])
            wire = report.to_wire()
            wire["spool_dropped"] = self._counter("dropped_heartbeats")
            body = json.dumps(wire, separators=(",", ":"), sort_keys=True)
            size = len(body.encode())
            self._make_room(size)
            cur = self._db.execute(
                "INSERT INTO spool (idempotency_key, kind, size, body) VALUES (?, ?, ?, ?)",
                (report.idempotency_key, report.kind, size, body))
            return int(cur.lastrowid or 0)

    def _make_room(self, incoming: int) -> None:
        used = int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM spool").fetchone()[0])
        excess = used + incoming - self.max_bytes
        if excess <= 0:
            return
        dropped = 0
        for seq, size in self._db.execute(
                "SELECT seq, size FROM spool WHERE kind = 'heartbeat' ORDER BY seq").fetchall():
            if excess <= 0:
                break
            self._db.execute("DELETE FROM spool WHERE seq = ?", (seq,))
            excess -= size
            dropped += 1
        if dropped:
            self._bump("dropped_heartbeats", dropped)
        # Results stay even past the cap: losing a result is worse than a larger file.

    def peek_batch(self, limit: int = 100, max_bytes: int = 512 * 1024) -> list[SpooledReport]:
        """The oldest reports, in order, up to `limit` and about `max_bytes` of payload."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, idempotency_key, size, body FROM spool ORDER BY seq LIMIT ?",
                (limit,)).fetchall()
        batch: list[SpooledReport] = []
        total = 0
        for seq, key, size, body in rows:
            if batch and total + size > max_bytes:
                break
            batch.append(SpooledReport(int(seq), str(key), str(body)))
            total += int(size)
        return batch

    def ack(self, seqs: list[int]) -> None:
        """Forget reports the fleet service has stored."""
        if not seqs:
            return
        with self._lock, self._transaction():
            self._db.executemany("DELETE FROM spool WHERE seq = ?", [(s,) for s in seqs])

    def reject(self, item: SpooledReport, reason: str) -> None:
        """Move a report the service refuses for good out of the queue, keeping it on disk."""
        with self._lock, self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO rejected (seq, idempotency_key, reason, body) "
                "VALUES (?, ?, ?, ?)", (item.seq, item.idempotency_key, reason, item.body))
            self._db.execute("DELETE FROM spool WHERE seq = ?", (item.seq,))

    def stats(self) -> SpoolStats:
        with self._lock:
            pending, used = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM spool").fetchone()
            rejected = self._db.execute("SELECT COUNT(*) FROM rejected").fetchone()[0]
            dropped = self._counter("dropped_heartbeats")
        return SpoolStats(int(pending), int(used), dropped, int(rejected))

    def _counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def _bump(self, name: str, by: int) -> None:
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", (name, by))

    def _transaction(self) -> _Tx:
        return _Tx(self._db, str(self.path))


class _Tx:
    """BEGIN IMMEDIATE … COMMIT, rolled back on error, with errors as ReportError."""

    def __init__(self, db: sqlite3.Connection, where: str) -> None:
        self._db = db
        self._where = where

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
            return
        self._db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise ReportError(f"report spool write failed: {exc}", where=self._where) from exc
