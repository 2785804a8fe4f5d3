"""Fault hooks: a server stopped and started again, a port cut and restored."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

from tests.testenv.env import Env
from tests.testenv.state import load
from tests.testenv.test_git import git, with_auth


@pytest.mark.git
def test_cut_and_restore_git(git_env: Env) -> None:
    url = with_auth(git_env, git_env.git_user, git_env.git_password) + "/fleet.git"
    assert git("ls-remote", url).returncode == 0
    git_env.cut("git")
    try:
        cut = git("ls-remote", url)
        assert cut.returncode != 0
        assert "connect" in cut.stderr.lower(), cut.stderr
        assert git("ls-remote", f"{git_env.git_daemon_url}/fleet.git").returncode != 0
    finally:
        git_env.restore("git")
    assert git("ls-remote", url).returncode == 0
    assert git("ls-remote", f"{git_env.git_daemon_url}/fleet.git").returncode == 0


@pytest.mark.git
def test_stop_and_start_git(git_env: Env) -> None:
    url = with_auth(git_env, git_env.git_user, git_env.git_password) + "/fleet.git"
    git_env.stop("git")
    try:
        assert git("ls-remote", url).returncode != 0
    finally:
        git_env.start("git")
    assert git("ls-remote", url).returncode == 0


@pytest.mark.registry
def test_cut_and_restore_registry(registry_env: Env) -> None:
    url = f"http://{registry_env.registry}/v2/"
    registry_env.cut("registry")
    try:
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=5)
    finally:
        registry_env.restore("registry")
    assert httpx.get(url, timeout=5).status_code == 401


@pytest.mark.postgres
def test_postgres_keeps_its_data_across_stop_and_start(pg_env: Env) -> None:
    table = f"fault_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_env.pg_dsn, autocommit=True) as conn:
        conn.execute(f"create table {table} (n int)")
        conn.execute(f"insert into {table} values (42)")
    pg_env.stop("postgres")
    try:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(pg_env.pg_dsn, connect_timeout=3)
    finally:
        pg_env.start("postgres")
    with psycopg.connect(pg_env.pg_dsn, autocommit=True) as conn:
        assert conn.execute(f"select n from {table}").fetchone() == (42,)
        conn.execute(f"drop table {table}")


@pytest.mark.postgres
def test_cut_aborts_an_open_postgres_connection(pg_env: Env) -> None:
    conn = psycopg.connect(pg_env.pg_dsn, autocommit=True)
    try:
        assert conn.execute("select 1").fetchone() == (1,)
        pg_env.cut("postgres")
        try:
            with pytest.raises(psycopg.OperationalError):
                conn.execute("select 1")
        finally:
            pg_env.restore("postgres")
    finally:
        conn.close()
    with psycopg.connect(pg_env.pg_dsn, connect_timeout=5) as again:
        assert again.execute("select 1").fetchone() == (1,)


@pytest.mark.git
def test_a_cut_stays_within_the_session(git_env: Env) -> None:
    shared = Env.from_state(load())  # what other sessions and env.sh use
    assert shared.git_url != git_env.git_url
    shared_url = with_auth(shared, shared.git_user, shared.git_password) + "/fleet.git"
    git_env.cut("git")
    try:
        assert git("ls-remote", shared_url).returncode == 0
    finally:
        git_env.restore("git")
