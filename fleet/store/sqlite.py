"""The default store: one SQLite file in WAL mode, one writer at a time."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fleet.errors import StoreError
from fleet.store.base import SqlStore
from fleet.store.model import IngestOutcome, IngestReport


@dataclass
class _Pending:
    node: str
    reports: Sequence[IngestReport]
    done: bool = False
    outcome: IngestOutcome | None = None
    error: BaseException | None = None


class SqliteStore(SqlStore):
    dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            # Reports are acknowledged to nodes once stored, so a commit must survive a crash.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open SQLite store: {exc}", where=self.path) from exc
        self.migrate()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot start a transaction: {exc}", where=self.path) from exc
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"commit failed: {exc}", where=self.path) from exc

    def ingest(self, node: str, reports: Sequence[IngestReport]) -> IngestOutcome:
        """Group commit: batches that arrive while a commit is running share the next one.

        SQLite has one writer and each durable commit costs an fsync, so instead of
        one fsync per batch, whoever gets the lock commits every batch waiting by
        then, each in its own savepoint (a failing batch fails only itself).
        """
        if not reports:
            return IngestOutcome(0, 0)
        mine = _Pending(node, reports)
        with self._queue_lock:
            self._queue.append(mine)
        with self._lock:
            if not mine.done:
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._commit_group(group)
        if mine.error is not None:
            raise mine.error
        assert mine.outcome is not None
        return mine.outcome

    def _commit_group(self, group: list[_Pending]) -> None:
        try:
            with self._tx() as db:
                for item in group:
                    db.execute("SAVEPOINT batch")
                    try:
                        item.outcome = self._ingest_in(db, item.node, item.reports)
                    except sqlite3.Error as exc:
                        db.execute("ROLLBACK TO batch")
                        item.error = StoreError(f"cannot store reports: {exc}",
                                                where=self.path)
                    db.execute("RELEASE batch")
        except BaseException as exc:
            for item in group:
                item.outcome, item.error = None, exc
        for item in group:
            item.done = True

    def _is_unique_violation(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)

    def _insert_reports(self, db: Any, rows: Sequence[IngestReport], now: float) -> set[str]:
        payload = json.dumps([
            (r.idempotency_key, r.node, r.tier, r.kind, r.created_at, now, r.desired_revision,
             r.applied_revision, r.commit_time, r.apply_time, r.result, r.health, r.body)
            for r in rows], separators=(",", ":"))
        cur = db.execute(_INSERT_BATCH, (payload,))
        return {row[0] for row in cur.fetchall()}


# One statement per batch, unpacked by SQLite's json_each (`WHERE true` keeps the
# upsert clause from being read as part of the SELECT).
_INSERT_BATCH = """
INSERT INTO reports (idempotency_key, node, tier, kind, created_at, received_at,
                     desired_revision, applied_revision, commit_time, apply_time,
                     result, health, body)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
       json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
       json_extract(value, '$[6]'), json_extract(value, '$[7]'), json_extract(value, '$[8]'),
       json_extract(value, '$[9]'), json_extract(value, '$[10]'), json_extract(value, '$[11]'),
       json_extract(value, '$[12]')
FROM json_each(?) WHERE true
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING idempotency_key"""
