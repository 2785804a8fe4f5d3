"""Session fixtures for the real servers of the local environment (tests/testenv).

Each fixture starts only the component it needs, on first use, or reuses the one already
running (e.g. after `make testenv-up`). When the last test session using the environment
ends, it stops what test sessions started; what `make testenv-up` started keeps running.
Outside CI a server that cannot start skips its tests; in CI (CI=true) it is an error.
Each session reaches the servers through forwarders of its own (tests/testenv/session.py),
so `env.cut(...)` in one session leaves the others connected.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.testenv import paths
from tests.testenv.env import Env
from tests.testenv.session import SessionForwarders


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


@pytest.fixture(scope="session")
def _testenv_session() -> Iterator[SessionForwarders]:
    from tests.testenv import stack

    stack.join_session(os.getpid())
    forwarders = SessionForwarders()
    yield forwarders
    forwarders.close()
    stack.leave_session(os.getpid())


def _env(component: str, session: SessionForwarders) -> Env:
    from tests.testenv import stack
    from tests.testenv.procs import TestenvError

    try:
        state = stack.ensure([component], origin=f"fixture:{os.getpid()}")
        return session.env_for(state, component)
    except TestenvError as exc:
        message = f"the local {component} server could not start:\n{exc}"
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def kube_env(_testenv_session: SessionForwarders) -> Env:
    """kube-apiserver + controller-manager + scheduler + etcd + kwok (nodes kwok-amd64,
    kwok-arm64). The matching kubectl is put first on PATH."""
    env = _env("kube", _testenv_session)
    os.environ["PATH"] = f"{paths.BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}"
    return env


@pytest.fixture(scope="session")
def git_env(_testenv_session: SessionForwarders) -> Env:
    """Smart-HTTP Git with basic auth and git daemon; bare repo fleet.git from overlays/."""
    return _env("git", _testenv_session)


@pytest.fixture(scope="session")
def registry_env(_testenv_session: SessionForwarders) -> Env:
    """Distribution registry with htpasswd auth and the seeded edgesync/busybox images."""
    return _env("registry", _testenv_session)


@pytest.fixture(scope="session")
def pg_env(_testenv_session: SessionForwarders) -> Env:
    """A throwaway PostgreSQL cluster; `pg_dsn` points at database edgesync."""
    return _env("postgres", _testenv_session)
