"""The fleet store: one `Store` protocol, SQLite (default) and PostgreSQL engines."""

from __future__ import annotations

from pathlib import Path

from fleet.store.base import DEFAULT_OFFLINE_AFTER, SqlStore, Store
from fleet.store.model import (
    STATES,
    GroupCount,
    HistoryRow,
    IngestOutcome,
    IngestReport,
    NodeIdentity,
    NodeStatus,
    RolloutRecord,
    Summary,
)

DEFAULT_DB = "fleet.db"


def open_store(url: str | None = None) -> SqlStore:
    """`postgresql://…` opens PostgreSQL; `sqlite:///path`, a path or nothing opens SQLite."""
    if url and url.startswith(("postgresql://", "postgres://")):
        from fleet.store.postgres import PostgresStore

        return PostgresStore(url)
    from fleet.store.sqlite import SqliteStore

    path = url or DEFAULT_DB
    if path.startswith("sqlite:///"):
        path = path.removeprefix("sqlite:///")
    elif path.startswith("sqlite://"):
        path = path.removeprefix("sqlite://")
    return SqliteStore(Path(path) if path != ":memory:" else path)


__all__ = ["DEFAULT_DB", "DEFAULT_OFFLINE_AFTER", "STATES", "GroupCount", "HistoryRow",
           "IngestOutcome", "IngestReport", "NodeIdentity", "NodeStatus", "RolloutRecord",
           "SqlStore", "Store", "Summary", "open_store"]
