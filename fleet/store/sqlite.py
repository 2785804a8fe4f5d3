"""The default store: one SQLite file in WAL mode, one writer at a time."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fleet.errors import StoreError
from fleet.store.base import SqlStore
from fleet.store.model import IngestReport


class SqliteStore(SqlStore):
    dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.RLock()
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

    def _is_unique_violation(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)

    def _insert_reports(self, db: Any, rows: Sequence[IngestReport], now: float) -> set[str]:
        fresh: set[str] = set()
        for r in rows:
            cur = db.execute(
                "INSERT INTO reports (idempotency_key, node, tier, kind, created_at, "
                "received_at, desired_revision, applied_revision, commit_time, apply_time, "
                "result, health, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (idempotency_key) DO NOTHING",
                (r.idempotency_key, r.node, r.tier, r.kind, r.created_at, now,
                 r.desired_revision, r.applied_revision, r.commit_time, r.apply_time,
                 r.result, r.health, r.body))
            if cur.rowcount == 1:
                fresh.add(r.idempotency_key)
        return fresh
