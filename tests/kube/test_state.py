"""Durable node state: atomic writes, round trips, the sync lock, corrupt files named."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.errors import StateError
from agent.model import Bundle
from agent.source.local import resolve_local
from agent.state import Inventory, InventoryEntry, NodeState, StateStore
from agent.state.atomic import write_bytes


def test_state_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    assert store.load() == NodeState()
    s = NodeState(node="n1", applied_revision="r1", last_good_revision="r1", applying="r2")
    store.save(s)
    assert store.load() == s


def test_inventory_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    inv = Inventory("r1", (InventoryEntry("apps/v1", "Deployment", "a", "web"),
                           InventoryEntry("v1", "Namespace", "", "a")),
                    {"Deployment.apps/a/web": ("d1", "42")})
    store.save_inventory(inv)
    back = store.load_inventory()
    assert back is not None
    assert set(back.entries) == set(inv.entries)
    assert back.fingerprints == inv.fingerprints
    assert {k.subject for k in back.object_keys()} == {"Deployment.apps/a/web", "Namespace/a"}


def test_bundles_kept_and_dropped(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    b = Bundle(({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},))
    store.save_bundle("sha256:aa", b)
    store.save_bundle("sha256:bb", b)
    store.keep_bundles("sha256:bb", None)
    assert store.load_bundle("sha256:aa") is None
    assert store.load_bundle("sha256:bb") == b


def test_atomic_write_leaves_no_temp_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    write_bytes(target, b"one")
    write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert os.listdir(tmp_path) == ["f.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    # A real write failure: a file-size limit makes the kernel refuse the bytes (EFBIG).
    target = tmp_path / "f.json"
    write_bytes(target, b"old")
    code = textwrap.dedent(f"""
        import resource, signal, sys
        from pathlib import Path
        from agent.errors import StateError
        from agent.state.atomic import write_bytes
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (16, 16))
        try:
            write_bytes(Path({str(target)!r}), b"n" * 4096)
        except StateError as exc:
            print(exc)
            sys.exit(3)
        """)
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                          text=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 3, proc.stderr
    assert str(target) in proc.stdout
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f.json"]


def test_corrupt_state_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(StateError, match=r"state\.json"):
        StateStore(tmp_path).load()


def test_second_sync_on_the_same_node_is_refused(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    with store.locked(), pytest.raises(StateError, match="another sync"), store.locked():
        pass


def test_local_revision_moves_with_content_not_with_git(tmp_path: Path) -> None:
    (tmp_path / "tiers.yaml").write_text("tiers: {}\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "k.yaml").write_text("x: 1\n")
    first = resolve_local(str(tmp_path)).id
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    assert resolve_local(str(tmp_path)).id == first
    (tmp_path / "a" / "k.yaml").write_text("x: 2\n")
    second = resolve_local(str(tmp_path)).id
    assert second != first and second.startswith("sha256:")
    (tmp_path / "a" / "k.yaml").rename(tmp_path / "a" / "j.yaml")
    assert resolve_local(str(tmp_path)).id != second
