"""The Git source against real repositories over file:// (no server needed).

The HTTP transport (request counts, bytes on the wire, credentials) is covered
in test_git_http.py against the test environment's Git server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.config import AgentConfig
from agent.errors import SourceError
from agent.source import git as gitsource
from agent.source import store
from tests.source.fleetrepo import FleetRepo, git

MakeCfg = Callable[..., AgentConfig]


def files_under(path: str | Path) -> set[str]:
    root = Path(path)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_checkout_holds_only_what_the_tier_needs(fleet: FleetRepo, make_cfg: MakeCfg) -> None:
    rev = gitsource.resolve(make_cfg(fleet.url))
    assert rev.id == fleet.head()
    assert rev.ref == "refs/heads/main"
    assert files_under(rev.path) == {
        "tiers.yaml", "cloud/kustomization.yaml", "cloud/patch.yaml", "cloud/files/app.conf",
        "base/kustomization.yaml", "base/configmap.yaml",
        "components/labels/kustomization.yaml"}
    assert rev.commit_time and rev.commit_time.startswith("20")
    assert rev.bytes_fetched > 0
    # Immutable: the checkout is read-only and `current` points at it.
    assert not os.access(Path(rev.path) / "tiers.yaml", os.W_OK) or os.geteuid() == 0
    assert (Path(rev.path).stat().st_mode & 0o222) == 0
    assert os.path.realpath(store.revisions_dir(make_cfg(fleet.url).state_dir) / "current") \
        == rev.path


def test_other_tier_gets_its_own_paths(fleet: FleetRepo, make_cfg: MakeCfg) -> None:
    rev = gitsource.resolve(make_cfg(fleet.url, tier="vehicle"))
    assert files_under(rev.path) == {
        "tiers.yaml", "vehicle/kustomization.yaml", "vehicle/firmware.bin",
        "base/kustomization.yaml", "base/configmap.yaml"}


def test_blobs_of_other_tiers_are_never_fetched(fleet: FleetRepo, make_cfg: MakeCfg) -> None:
    cfg = make_cfg(fleet.url)
    rev = gitsource.resolve(cfg)
    # The 400 kB firmware blob of the vehicle tier stays on the server.
    assert rev.bytes_fetched < 20_000
    blob = git(fleet.work, "rev-parse", "HEAD:vehicle/firmware.bin")
    cache = Path(cfg.state_dir) / "git"
    proc = subprocess.run(["git", "--git-dir", str(cache), "cat-file", "-e", blob],
                          env={**os.environ, "GIT_NO_LAZY_FETCH": "1"}, capture_output=True,
                          check=False)
    assert proc.returncode != 0


def test_unchanged_remote_fetches_nothing(fleet: FleetRepo, make_cfg: MakeCfg) -> None:
    cfg = make_cfg(fleet.url)
    first = gitsource.resolve(cfg)
    packs = sorted((Path(cfg.state_dir) / "git/objects/pack").iterdir())
    poll = gitsource.poll(cfg)
    assert not poll.changed
    again = gitsource.resolve(cfg)
    assert again == first
    assert sorted((Path(cfg.state_dir) / "git/objects/pack").iterdir()) == packs


def test_new_commit_gets_a_new_directory(fleet: FleetRepo, make_cfg: MakeCfg) -> None:
    cfg = make_cfg(fleet.url)
    first = gitsource.resolve(cfg)
    fleet.write("cloud/patch.yaml", fleet.work.joinpath("cloud/patch.yaml").read_text()
                .replace("tier: cloud", "tier: cloud-v2"))
    fleet.commit("cloud v2")
    fleet.push()
    assert gitsource.poll(cfg).changed
    second = gitsource.resolve(cfg)
    assert second.id == fleet.head() != first.id
    assert "cloud-v2" in Path(second.path, "cloud/patch.yaml").read_text()
    assert "cloud-v2" not in Path(first.path, "cloud/patch.yaml").read_text()
    assert second.bytes_fetched < 5_000


def test_force_pushed_branch_is_followed(fleet: FleetRepo, make_cfg: MakeCfg) -> None:
    cfg = make_cfg(fleet.url)
    base = fleet.head()
    fleet.write("base/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    fleet.commit("bad change")
    fleet.push()
    bad = gitsource.resolve(cfg)
    git(fleet.work, "reset", "-q", "--hard", base)
    fleet.write("docs/handbook.md", "rewritten history\n")
    fleet.commit("rewritten")
    fleet.push(force=True)
    rev = gitsource.resolve(cfg)
    assert rev.id == fleet.head() not in (bad.id, base)
    assert "name: app" in Path(rev.path, "base/configmap.yaml").read_text()


def test_corrupt_cache_is_refetched(fleet: FleetRepo, make_cfg: MakeCfg) -> None:
    cfg = make_cfg(fleet.url)
    first = gitsource.resolve(cfg)
    objects = Path(cfg.state_dir) / "git/objects"
    for p in objects.rglob("*"):
        if p.is_file():
            p.unlink()
    fleet.write("cloud/files/app.conf", "level=debug\n")
    fleet.commit("debug")
    fleet.push()
    rev = gitsource.resolve(cfg)
    assert rev.id == fleet.head()
    assert Path(rev.path, "cloud/files/app.conf").read_text() == "level=debug\n"
    assert files_under(first.path)  # the earlier checkout never depended on the cache


def test_old_revisions_are_collected_but_good_stays(fleet: FleetRepo, make_cfg: MakeCfg) -> None:
    cfg = make_cfg(fleet.url, keep_revisions=2)
    ids = []
    for i in range(4):
        fleet.write("cloud/files/app.conf", f"n={i}\n")
        fleet.commit(f"change {i}")
        fleet.push()
        ids.append(gitsource.resolve(cfg).id)
        if i == 0:
            gitsource.mark_good(cfg, ids[0])
    on_disk = {p.name for p in store.revisions_dir(cfg.state_dir).iterdir()
               if p.is_dir() and not p.is_symlink()}
    assert on_disk == {ids[0], ids[2], ids[3]}


def test_offline_uses_current_and_needs_nothing_else(fleet: FleetRepo,
                                                    make_cfg: MakeCfg) -> None:
    cfg = make_cfg(fleet.url)
    with pytest.raises(SourceError, match="no revision on disk"):
        gitsource.resolve(cfg, offline=True)
    rev = gitsource.resolve(cfg)
    shutil.rmtree(fleet.bare)  # the server is gone
    assert gitsource.resolve(cfg, offline=True) == rev
    with pytest.raises(SourceError, match="git ls-remote failed"):
        gitsource.resolve(cfg)
    assert gitsource.current(cfg) == rev


def test_exact_commit_and_version_range(fleet: FleetRepo, make_cfg: MakeCfg) -> None:
    fleet.tag("v1.0.0")
    first = fleet.head()
    fleet.write("cloud/files/app.conf", "v=1.4\n")
    fleet.commit("1.4")
    fleet.push()
    fleet.tag("v1.4.0")
    fleet.write("cloud/files/app.conf", "v=2\n")
    fleet.commit("2.0")
    fleet.push()
    fleet.tag("v2.0.0")
    rev = gitsource.resolve(make_cfg(fleet.url, ref=">=1.2 <2"))
    assert rev.ref == "refs/tags/v1.4.0"
    assert Path(rev.path, "cloud/files/app.conf").read_text() == "v=1.4\n"
    pinned = gitsource.resolve(make_cfg(fleet.url, ref=first))
    assert pinned.id == first
    assert Path(pinned.path, "cloud/files/app.conf").read_text() == "level=info\n"


def test_unknown_tier_or_missing_policy_is_refused(fleet: FleetRepo, make_cfg: MakeCfg) -> None:
    cfg = make_cfg(fleet.url, tier="submarine")
    with pytest.raises(SourceError, match="tier 'submarine' is not defined"):
        gitsource.resolve(cfg)
    assert gitsource.current(cfg) is None
    assert not [p for p in store.revisions_dir(cfg.state_dir).iterdir()
                if not p.name.startswith(".")]


def test_full_disk_during_fetch_keeps_last_good_and_recovers(fleet: FleetRepo,
                                                           make_cfg: MakeCfg,
                                                           tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("this test mounts a tmpfs and needs root")
    state = tmp_path / "small"
    state.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1500k", "tmpfs", str(state)], check=True)
    try:
        cfg = make_cfg(fleet.url, tier="cloud")
        cfg = type(cfg)(**{**cfg.__dict__, "state_dir": str(state)})
        good = gitsource.resolve(cfg)
        gitsource.mark_good(cfg, good.id)
        # 400 kB of incompressible text in the cloud overlay cannot fit beside the filler.
        fleet.write("cloud/files/model.bin", os.urandom(200_000).hex())
        fleet.commit("new model")
        fleet.push()
        filler = state / "filler"
        filler.write_bytes(b"\0" * (shutil.disk_usage(state).free - 300 * 1024))
        with pytest.raises(SourceError) as err:
            gitsource.resolve(cfg)
        assert "KiB free in" in str(err.value)
        assert gitsource.current(cfg) == good
        assert files_under(good.path)
        assert not list(store.revisions_dir(state).glob(".tmp-*"))
        filler.unlink()
        rev = gitsource.resolve(cfg)
        assert rev.id == fleet.head()
        assert Path(rev.path, "cloud/files/model.bin").stat().st_size == 400_000
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)


def test_changing_tier_recuts_the_same_commit(fleet: FleetRepo, make_cfg: MakeCfg) -> None:
    cloud = gitsource.resolve(make_cfg(fleet.url, tier="cloud"))
    vehicle = gitsource.resolve(make_cfg(fleet.url, tier="vehicle"))
    assert vehicle.id == cloud.id
    assert Path(vehicle.path, "vehicle/kustomization.yaml").is_file()
    assert not Path(vehicle.path, "cloud").exists()


def test_revisions_named_in_the_state_file_are_never_collected(fleet: FleetRepo,
                                                               make_cfg: MakeCfg) -> None:
    from agent.state import StateStore

    cfg = make_cfg(fleet.url, keep_revisions=1)
    applied = gitsource.resolve(cfg).id
    store_ = StateStore(cfg.state_dir)
    store_.save(store_.load().update(applied_revision=applied, last_good_revision=applied))
    for i in range(3):
        fleet.write("cloud/files/app.conf", f"n={i}\n")
        fleet.commit(f"change {i}")
        fleet.push()
        gitsource.resolve(cfg)
    assert Path(store.checkout_dir(cfg.state_dir, applied), "tiers.yaml").is_file()
