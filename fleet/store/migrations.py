"""Numbered schema migrations, one list for both engines.

`{ID}`, `{REAL}` and `{BIGINT}` are the only dialect differences; each
migration runs once, recorded in `schema_version`.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        """CREATE TABLE nodes (
            name TEXT PRIMARY KEY,
            tier TEXT NOT NULL,
            region TEXT NOT NULL DEFAULT '',
            token_hash TEXT NOT NULL UNIQUE,
            created_at {REAL} NOT NULL)""",
        """CREATE TABLE operators (
            name TEXT PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            created_at {REAL} NOT NULL)""",
        """CREATE TABLE reports (
            id {ID},
            idempotency_key TEXT NOT NULL UNIQUE,
            node TEXT NOT NULL,
            tier TEXT NOT NULL,
            kind TEXT NOT NULL,
            created_at {REAL} NOT NULL,
            received_at {REAL} NOT NULL,
            desired_revision TEXT,
            applied_revision TEXT,
            commit_time {REAL},
            apply_time {REAL},
            result TEXT,
            health TEXT,
            body TEXT NOT NULL)""",
        "CREATE INDEX reports_node_id ON reports (node, id)",
        "CREATE INDEX reports_kind_created ON reports (kind, created_at)",
        """CREATE TABLE node_status (
            node TEXT PRIMARY KEY REFERENCES nodes (name) ON DELETE CASCADE,
            tier TEXT NOT NULL,
            region TEXT NOT NULL,
            platform TEXT,
            agent_version TEXT,
            desired_revision TEXT,
            revision TEXT,
            commit_time {REAL},
            apply_time {REAL},
            result TEXT,
            health TEXT,
            deferred_reason TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            last_result_at {REAL},
            last_report {REAL},
            reports_received {BIGINT} NOT NULL DEFAULT 0)""",
        "CREATE INDEX node_status_tier_region ON node_status (tier, region)",
        "CREATE INDEX node_status_last_report ON node_status (last_report)",
        "CREATE INDEX node_status_commit_time ON node_status (commit_time)",
    ]),
    (2, [
        """CREATE TABLE rollouts (
            id {ID},
            revision TEXT NOT NULL,
            state TEXT NOT NULL,
            current_wave INTEGER NOT NULL,
            gate {REAL} NOT NULL,
            waves TEXT NOT NULL,
            created_at {REAL} NOT NULL,
            updated_at {REAL} NOT NULL)""",
        "CREATE INDEX rollouts_state ON rollouts (state)",
    ]),
    (3, [
        # Browser sessions: the cookie carries a short-lived session token, never the
        # operator's own token.
        """CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            operator TEXT NOT NULL REFERENCES operators (name) ON DELETE CASCADE,
            expires_at {REAL} NOT NULL)""",
        "CREATE INDEX sessions_expires ON sessions (expires_at)",
    ]),
]

DIALECTS = {
    "sqlite": {"ID": "INTEGER PRIMARY KEY AUTOINCREMENT", "REAL": "REAL", "BIGINT": "INTEGER"},
    "postgres": {"ID": "BIGSERIAL PRIMARY KEY", "REAL": "DOUBLE PRECISION", "BIGINT": "BIGINT"},
}


def statements(dialect: str, after: int) -> list[tuple[int, list[str]]]:
    """The migrations newer than version `after`, rendered for `dialect`."""
    words = DIALECTS[dialect]
    return [(version, [sql.format(**words) for sql in sqls])
            for version, sqls in MIGRATIONS if version > after]


LATEST = MIGRATIONS[-1][0]
