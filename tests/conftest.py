"""Session fixtures for the real servers of the local environment (tests/testenv).

Each fixture starts only the component it needs, on first use, or reuses the one already
running (e.g. after `make testenv-up`). When the last test session using the environment
ends, it stops what test sessions started; what `make testenv-up` started keeps running.
Outside CI a server that cannot start skips its tests; in CI (CI=true) it is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.testenv import paths
from tests.testenv.env import Env


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


@pytest.fixture(scope="session")
def _testenv_session() -> Iterator[None]:
    from tests.testenv import stack

    stack.join_session(os.getpid())
    yield
    stack.leave_session(os.getpid())


def _env(component: str) -> Env:
    from tests.testenv import stack
    from tests.testenv.procs import TestenvError

    try:
        state = stack.ensure([component], origin=f"fixture:{os.getpid()}")
    except TestenvError as exc:
        message = f"the local {component} server could not start:\n{exc}"
        if _in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return Env.from_state(state)


@pytest.fixture(scope="session")
def kube_env(_testenv_session: None) -> Env:
    """kube-apiserver + controller-manager + scheduler + etcd + kwok (nodes kwok-amd64,
    kwok-arm64). The matching kubectl is put first on PATH."""
    env = _env("kube")
    os.environ["PATH"] = f"{paths.BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}"
    return env


@pytest.fixture(scope="session")
def git_env(_testenv_session: None) -> Env:
    """Smart-HTTP Git with basic auth and git daemon; bare repo fleet.git from overlays/."""
    return _env("git")


@pytest.fixture(scope="session")
def registry_env(_testenv_session: None) -> Env:
    """Distribution registry with htpasswd auth and the seeded edgesync/busybox images."""
    return _env("registry")


@pytest.fixture(scope="session")
def pg_env(_testenv_session: None) -> Env:
    """A throwaway PostgreSQL cluster; `pg_dsn` points at database edgesync."""
    return _env("postgres")
