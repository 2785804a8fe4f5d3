"""PostgreSQL answers on the DSN of env.sh."""

from __future__ import annotations

import psycopg
import pytest

from tests.testenv.env import Env

pytestmark = pytest.mark.postgres


def test_select_one(pg_env: Env) -> None:
    with psycopg.connect(pg_env.pg_dsn, connect_timeout=10) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        assert conn.execute("select current_database()").fetchone() == ("edgesync",)


def test_wrong_password_is_refused(pg_env: Env) -> None:
    user_part, _, host_part = pg_env.pg_dsn.rpartition("@")
    wrong = user_part.rsplit(":", 1)[0] + ":wrong@" + host_part
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=10)
