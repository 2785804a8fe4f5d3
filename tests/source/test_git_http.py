"""The Git source over smart HTTP with basic auth (lighttpd + git-http-backend).

Requests and bytes are counted in the web server's access log, one line per
request with the response size, filtered to this test's own repository.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.config import AgentConfig
from agent.errors import SourceError
from agent.source import git as gitsource
from tests.source.httpfleet import HttpFleet
from tests.testenv.env import Env

pytestmark = pytest.mark.git

MakeCfg = Callable[..., AgentConfig]


@pytest.fixture
def http_fleet(git_env: Env, tmp_path: Path) -> HttpFleet:
    return HttpFleet(git_env, tmp_path / "remote")


@pytest.fixture
def http_cfg(http_fleet: HttpFleet, make_cfg: MakeCfg, tmp_path: Path) -> AgentConfig:
    secret = tmp_path / "git-password"
    secret.write_text(http_fleet.env.git_password + "\n")
    secret.chmod(0o600)
    return make_cfg(http_fleet.http_url,
                    auth={"username": http_fleet.env.git_user, "password_file": str(secret)})


def test_no_change_costs_one_request_and_no_fetch(http_fleet: HttpFleet,
                                                  http_cfg: AgentConfig) -> None:
    rev = gitsource.resolve(http_cfg)
    assert rev.id == http_fleet.head()
    before = len(http_fleet.settled_requests())
    again = gitsource.resolve(http_cfg)
    assert again == rev
    after = http_fleet.settled_requests()[before:]
    assert len(after) == 1, after
    method, path, status, _ = after[0]
    assert (method, status) == ("GET", 200)
    assert path.endswith("/info/refs?service=git-upload-pack")
    # Credentials went out preemptively: no 401 challenge round trip, ever.
    # (The test's own pushes use receive-pack and do get challenged.)
    assert all(r[2] != 401 for r in http_fleet.requests() if "upload-pack" in r[1])


def test_sparse_shallow_fetch_moves_less_than_a_full_clone(http_fleet: HttpFleet,
                                                           http_cfg: AgentConfig,
                                                           tmp_path: Path) -> None:
    for i in range(3):  # some history a full clone must carry
        http_fleet.write("docs/handbook.md", f"# ops v{i}\n" + os.urandom(20_000).hex())
        http_fleet.commit(f"docs {i}")
    http_fleet.push()
    start = len(http_fleet.settled_requests())
    rev = gitsource.resolve(http_cfg)
    ours = http_fleet.settled_requests()[start:]
    ours_bytes = sum(r[3] for r in ours)
    mid = len(http_fleet.requests())
    authed = http_fleet.env.git_url.replace(
        "http://", f"http://{http_fleet.env.git_user}:{http_fleet.env.git_password}@", 1)
    subprocess.run(["git", "clone", "-q", f"{authed}/{http_fleet.name}", str(tmp_path / "full")],
                   check=True, capture_output=True)
    full = http_fleet.settled_requests()[mid:]
    full_bytes = sum(r[3] for r in full)
    assert rev.bytes_fetched > 0
    assert ours_bytes * 10 < full_bytes, (ours_bytes, full_bytes)
    print(f"sparse+shallow {ours_bytes} B in {len(ours)} requests; "
          f"full clone {full_bytes} B in {len(full)} requests")


def test_wrong_password_is_reported_without_the_secret(http_fleet: HttpFleet,
                                                       make_cfg: MakeCfg,
                                                       tmp_path: Path) -> None:
    secret = tmp_path / "wrong"
    secret.write_text("not-the-password-0123")
    cfg = make_cfg(http_fleet.http_url,
                   auth={"username": http_fleet.env.git_user, "password_file": str(secret)})
    with pytest.raises(SourceError) as err:
        gitsource.resolve(cfg)
    text = str(err.value)
    assert "ls-remote failed" in text and http_fleet.name in text
    assert "not-the-password-0123" not in text
    assert gitsource.current(cfg) is None


def test_secrets_never_reach_argv_or_the_clone_config(http_fleet: HttpFleet,
                                                      http_cfg: AgentConfig) -> None:
    gitsource.resolve(http_cfg)
    cache_config = (Path(http_cfg.state_dir) / "git" / "config").read_text()
    assert http_fleet.env.git_password not in cache_config
    assert "extraHeader" not in cache_config
    seen: list[list[str]] = []
    from git.cmd import Git

    original = Git.execute

    def spy(self: Git, command: list[str], **kw: object) -> object:
        seen.append(list(command))
        return original(self, command, **kw)  # type: ignore[arg-type]

    Git.execute = spy  # type: ignore[method-assign]
    try:
        http_fleet.write("cloud/files/app.conf", "x=1\n")
        http_fleet.commit("x")
        http_fleet.push()
        gitsource.resolve(http_cfg)
    finally:
        Git.execute = original  # type: ignore[method-assign]
    assert seen
    assert not any(http_fleet.env.git_password in arg for cmd in seen for arg in cmd)


def test_unreachable_server_keeps_the_revision_on_disk(http_fleet: HttpFleet,
                                                       http_cfg: AgentConfig) -> None:
    rev = gitsource.resolve(http_cfg)
    # A port nobody listens on: the server is down for this node.
    down = type(http_cfg.source)(**{**http_cfg.source.__dict__,
                                    "url": "http://127.0.0.1:9/git/" + http_fleet.name})
    cfg = type(http_cfg)(**{**http_cfg.__dict__, "source": down})
    with pytest.raises(SourceError, match="ls-remote failed"):
        gitsource.resolve(cfg)
    assert gitsource.resolve(cfg, offline=True) == rev
    assert gitsource.resolve(http_cfg) == rev


def test_tag_range_and_older_commit_over_http(http_fleet: HttpFleet, make_cfg: MakeCfg,
                                              http_cfg: AgentConfig) -> None:
    old = http_fleet.head()
    http_fleet.tag("v1.2.0")
    http_fleet.write("cloud/files/app.conf", "v=3\n")
    http_fleet.commit("three")
    http_fleet.push()
    http_fleet.tag("v3.0.0")
    auth = {"username": http_cfg.source.auth.username,
            "password_file": http_cfg.source.auth.password_file}
    # An older commit no ref points at any more: fetched by its id.
    pinned = gitsource.resolve(make_cfg(http_fleet.http_url, ref=old, auth=auth))
    assert pinned.id == old
    assert Path(pinned.path, "cloud/files/app.conf").read_text() == "level=info\n"
    newest = gitsource.resolve(make_cfg(http_fleet.http_url, ref=">=1", auth=auth))
    assert (newest.id, newest.ref) == (http_fleet.head(), "refs/tags/v3.0.0")
    ranged = gitsource.resolve(make_cfg(http_fleet.http_url, ref="^1", auth=auth))
    assert (ranged.id, ranged.ref) == (old, "refs/tags/v1.2.0")
