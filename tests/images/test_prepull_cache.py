"""Pre-pull decisions and the per-revision cache on disk.

There is no CRI runtime on the test machines, so pre-pull is tested for its decision
(when it runs, when it skips and why) and for the exact `crictl` command lines it runs,
with a recording runner standing in for `subprocess.run`; nothing else is replaced.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.config import ImagesConfig
from agent.images import PreflightError, pin_bundle
from agent.images._cache import KEEP_FILES, cache_file, load, store
from agent.images._prepull import plan_prepull, prepull
from tests.images.conftest import TIER, bundle_of, deployment

PINNED = ["h.local/a@sha256:" + "a" * 64, "h.local/b@sha256:" + "b" * 64]


def test_prepull_off_by_default_and_skips_with_a_reason(tmp_path: Path) -> None:
    assert ImagesConfig().prepull is False
    assert plan_prepull(PINNED, enabled=False).reason == "images.prepull is off"
    no_crictl = plan_prepull(PINNED, enabled=True, crictl="")
    assert (no_crictl.run, no_crictl.reason) == (False, "crictl is not installed")
    no_socket = plan_prepull(PINNED, enabled=True, crictl="/usr/bin/crictl",
                             sockets=[str(tmp_path / "missing.sock")])
    assert not no_socket.run
    assert "no CRI socket" in no_socket.reason
    assert prepull(no_socket).images == ()


def test_prepull_command_lines(tmp_path: Path) -> None:
    socket = tmp_path / "containerd.sock"
    socket.touch()
    plan = plan_prepull([*PINNED, PINNED[0]], enabled=True, crictl="/usr/bin/crictl",
                        sockets=[str(tmp_path / "absent.sock"), str(socket)])
    assert plan.run
    assert plan.commands == tuple(
        ("/usr/bin/crictl", "--runtime-endpoint", f"unix://{socket}", "pull", image)
        for image in PINNED)

    calls: list[list[str]] = []

    def runner(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        calls.append(list(argv))
        if argv[3] == "inspecti":
            return subprocess.CompletedProcess(argv, 0, json.dumps({"status": {"size": "1000"}}))
        if argv[-1] == PINNED[1]:
            return subprocess.CompletedProcess(argv, 1, "", "pull access denied")
        return subprocess.CompletedProcess(argv, 0, "Image is up to date", "")

    report = prepull(plan, runner)
    assert [(p.image, p.ok, p.bytes, p.error) for p in report.images] == [
        (PINNED[0], True, 1000, None), (PINNED[1], False, None, "pull access denied")]
    assert report.total_bytes == 1000
    assert calls[1] == ["/usr/bin/crictl", "--runtime-endpoint", f"unix://{socket}",
                        "inspecti", "-o", "json", PINNED[0]]


def test_cache_round_trip_and_bad_files(tmp_path: Path) -> None:
    entries = {"k": {"pinned": PINNED[0], "digest": "sha256:" + "a" * 64,
                     "platform": "linux/arm64", "index_digest": None}}
    path = store(tmp_path, "abc", entries)
    assert path == tmp_path / "abc.json"
    assert load(tmp_path, "abc") == entries
    assert load(tmp_path, "other") == {}
    path.write_text("{garbage")
    assert load(tmp_path, "abc") == {}
    path.write_text(json.dumps({"version": 1, "revision": "not-abc", "entries": entries}))
    assert load(tmp_path, "abc") == {}
    # Revision ids that are not safe file names are hashed, never used as paths.
    assert cache_file(tmp_path, "../../etc/passwd").parent == tmp_path


def test_cache_keeps_only_recent_revisions(tmp_path: Path) -> None:
    for i in range(KEEP_FILES + 4):
        store(tmp_path, f"rev{i}", {})
    assert len(list(tmp_path.glob("*.json"))) == KEEP_FILES
    assert (tmp_path / f"rev{KEEP_FILES + 3}.json").exists()


def test_a_cached_entry_that_is_damaged_is_resolved_again(tmp_path: Path) -> None:
    # The registry in this test does not exist: a damaged cache entry must lead to a real
    # resolution attempt (which fails here), never to a made-up pin.
    cfg = ImagesConfig(registry_override="127.0.0.1:9", insecure_http=True)
    bundle = bundle_of(deployment("a", "registry.example.com/team/app:1"))
    key = "127.0.0.1:9/team/app:1|linux/amd64|platform"
    store(tmp_path, "r1", {key: {"pinned": "not a ref!", "digest": "x", "platform": "p"}})
    with pytest.raises(PreflightError, match="registry unreachable"):
        pin_bundle(bundle, tier=TIER, cfg=cfg, platform="linux/amd64", cache_dir=tmp_path,
                   revision="r1")
    good = "127.0.0.1:9/team/app@sha256:" + "c" * 64
    store(tmp_path, "r1", {key: {"pinned": good, "digest": "sha256:" + "c" * 64,
                                 "platform": "linux/amd64", "index_digest": None}})
    result = pin_bundle(bundle, tier=TIER, cfg=cfg, platform="linux/amd64",
                        cache_dir=tmp_path, revision="r1")
    assert (result.requests, result.pins[0].pinned) == (0, good)


def test_check_off_rewrites_without_asking_any_registry() -> None:
    cfg = ImagesConfig(registry_override="127.0.0.1:9", check=False)
    bundle = bundle_of(deployment("a", "registry.example.com/team/app:1"))
    result = pin_bundle(bundle, tier=TIER, cfg=cfg, platform="linux/amd64", cache_dir=None,
                        revision=None)
    assert result.requests == 0
    assert result.pins[0].pinned == "127.0.0.1:9/team/app:1"
    assert result.pins[0].digest is None
