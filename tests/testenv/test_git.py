"""The Git servers: clone, push and ls-remote with and without the right password."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.testenv import paths
from tests.testenv.env import Env
from tests.testenv.servers.git import create_bare_repo

pytestmark = pytest.mark.git

GIT_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false"}


def git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, timeout=60,
        check=False,
    )


def with_auth(env: Env, user: str, password: str) -> str:
    return env.git_url.replace("http://", f"http://{user}:{password}@", 1)


def test_clone_has_overlays_as_root(git_env: Env, tmp_path: Path) -> None:
    url = with_auth(git_env, git_env.git_user, git_env.git_password) + "/fleet.git"
    result = git("clone", "-q", url, str(tmp_path / "fleet"))
    assert result.returncode == 0, result.stderr
    tracked = git("ls-files", cwd=tmp_path / "fleet").stdout.split()
    expected = sorted(
        str(p.relative_to(paths.REPO / "overlays"))
        for p in (paths.REPO / "overlays").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    assert sorted(tracked) == expected
    assert git("rev-parse", "--abbrev-ref", "HEAD", cwd=tmp_path / "fleet").stdout.strip() == "main"


def refusals(env: Env) -> int:
    """HTTP 401 answers to this session so far, from the web server's access log."""
    return sum(" 401 " in line for line in env.session_log("git"))


def test_wrong_or_missing_password_is_refused(git_env: Env) -> None:
    for url in (with_auth(git_env, git_env.git_user, "wrong"), git_env.git_url):
        before = refusals(git_env)
        result = git("ls-remote", f"{url}/fleet.git")
        assert result.returncode != 0
        assert refusals(git_env) > before, "the server itself must have refused"


def test_push_then_ls_remote_over_http(git_env: Env, tmp_path: Path) -> None:
    name = f"scratch-{uuid.uuid4().hex[:8]}.git"
    create_bare_repo(name, paths.REPO / "overlays")
    url = with_auth(git_env, git_env.git_user, git_env.git_password) + f"/{name}"
    work = tmp_path / "work"
    assert git("clone", "-q", url, str(work)).returncode == 0
    (work / "NOTE").write_text("pushed by the harness test\n")
    git("add", "NOTE", cwd=work)
    commit = git(
        "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "note",
        cwd=work,
    )  # fmt: skip
    assert commit.returncode == 0, commit.stderr
    head = git("rev-parse", "HEAD", cwd=work).stdout.strip()

    wrong_url = with_auth(git_env, git_env.git_user, "wrong") + f"/{name}"
    denied = git("push", wrong_url, "main", cwd=work)
    assert denied.returncode != 0

    pushed = git("push", "-q", "origin", "main", cwd=work)
    assert pushed.returncode == 0, pushed.stderr
    remote = git("ls-remote", url, "refs/heads/main").stdout.split()
    assert remote[0] == head


def test_git_daemon_serves_the_same_repo(git_env: Env) -> None:
    over_daemon = git("ls-remote", f"{git_env.git_daemon_url}/fleet.git", "refs/heads/main")
    assert over_daemon.returncode == 0, over_daemon.stderr
    url = with_auth(git_env, git_env.git_user, git_env.git_password) + "/fleet.git"
    over_http = git("ls-remote", url, "refs/heads/main")
    assert over_daemon.stdout.split()[0] == over_http.stdout.split()[0]
