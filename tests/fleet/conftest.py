"""Fixtures for the fleet tests: a fresh store (SQLite file or PostgreSQL database)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

STORES = [pytest.param("sqlite", id="sqlite"),
          pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)]


def _pg_base(request: pytest.FixtureRequest) -> str:
    # A developer may point at a running PostgreSQL; otherwise the harness starts one.
    override = os.environ.get("FLEET_TEST_PG_DSN")
    if override:
        return override
    return str(request.getfixturevalue("pg_env").pg_dsn)


@contextmanager
def fresh_pg_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); its DSN."""
    import psycopg

    base = _pg_base(request)
    name = f"fleet_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(base)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database(request: pytest.FixtureRequest) -> Iterator[str]:
    with fresh_pg_database(request) as dsn:
        yield dsn


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "fleet.db")
    return str(request.getfixturevalue("pg_database"))
