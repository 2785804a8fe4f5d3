"""Immutable revision directories on the node, switched atomically.

Layout under `state_dir/revisions/`:

    <commit>/          one read-only checkout per synced commit (never changed once written)
    <commit>.json      its metadata (ref, commit time, signer, bytes fetched)
    current -> <commit>    what the source stage last produced (a relative symlink)
    good -> <commit>       the last revision that applied and verified healthy

`current` and `good` are replaced by `rename(2)` of a fresh symlink, so a
reader sees either the old or the new target, never a half-written one. A
directory is complete before its name appears: it is written as `.tmp-*`
and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import asdict
from pathlib import Path

from agent.errors import SourceError
from agent.model import Revision

CURRENT = "current"
GOOD = "good"


def revisions_dir(state_dir: str | Path) -> Path:
    return Path(state_dir) / "revisions"


def checkout_dir(state_dir: str | Path, commit: str) -> Path:
    return revisions_dir(state_dir) / commit


def temp_dir(state_dir: str | Path, commit: str) -> Path:
    base = revisions_dir(state_dir)
    base.mkdir(parents=True, exist_ok=True)
    path = base / f".tmp-{commit}-{os.getpid()}"
    if path.exists():
        remove_tree(path)
    path.mkdir()
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def seal(tmp: Path, revision: Revision, state_dir: str | Path, *, scope: str = "") -> Revision:
    """Make `tmp` read-only, move it to `revisions/<commit>` and write its metadata.

    `scope` names what the sparse checkout was cut for (the tier); a checkout of
    the same commit for another scope replaces the directory (the node was
    reconfigured, so the old cut is of no use).
    """
    final = checkout_dir(state_dir, revision.id)
    for root, dirs, files in os.walk(tmp):
        for name in files:
            p = os.path.join(root, name)
            os.chmod(p, os.stat(p).st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o555)
    os.chmod(tmp, 0o555)
    if final.exists():
        retired = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.rename(final, retired)
        os.rename(tmp, final)
        remove_tree(retired)
    else:
        os.rename(tmp, final)
    sealed = Revision(id=revision.id, path=str(final), commit_time=revision.commit_time,
                      signer=revision.signer, ref=revision.ref,
                      bytes_fetched=revision.bytes_fetched)
    _write_json(revisions_dir(state_dir) / f"{revision.id}.json",
                {**asdict(sealed), "scope": scope})
    _fsync_dir(revisions_dir(state_dir))
    return sealed


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(state_dir: str | Path, commit: str, scope: str | None = None) -> Revision | None:
    """The stored revision `commit`, or None when absent, incomplete or cut for another scope."""
    base = revisions_dir(state_dir)
    if not (base / commit).is_dir():
        return None
    try:
        data = json.loads((base / f"{commit}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if scope is not None and data.get("scope", "") != scope:
        return None
    return Revision(id=commit, path=str(base / commit), commit_time=data.get("commit_time"),
                    signer=data.get("signer"), ref=data.get("ref"),
                    bytes_fetched=int(data.get("bytes_fetched") or 0))


def pointer(state_dir: str | Path, name: str) -> str | None:
    """The commit `current` or `good` points at, if any."""
    try:
        target = os.readlink(revisions_dir(state_dir) / name)
    except OSError:
        return None
    return os.path.basename(target.rstrip("/")) or None


def set_pointer(state_dir: str | Path, name: str, commit: str) -> None:
    base = revisions_dir(state_dir)
    if not (base / commit).is_dir():
        raise SourceError(f"revision {commit} is not on disk", where=str(base))
    tmp = base / f".{name}.{os.getpid()}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(commit, tmp)
    os.replace(tmp, base / name)
    _fsync_dir(base)


def remove_tree(path: Path) -> None:
    """Delete a checkout; its directories are read-only, so open them up first."""
    os.chmod(path, 0o755)
    for root, dirs, _ in os.walk(path):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
    shutil.rmtree(path)


def collect(state_dir: str | Path, keep: int, protect: set[str] | None = None) -> list[str]:
    """Delete all but the `keep` newest revisions; `current`, `good` and `protect` stay.

    Returns the removed commits. Stale `.tmp-*` directories of dead writers go too.
    """
    base = revisions_dir(state_dir)
    if not base.is_dir():
        return []
    keep_ids = set(protect or ())
    for name in (CURRENT, GOOD):
        commit = pointer(state_dir, name)
        if commit:
            keep_ids.add(commit)
    dirs = [p for p in base.iterdir()
            if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]
    dirs.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    keep_ids.update(p.name for p in dirs[:max(keep, 1)])
    removed: list[str] = []
    for p in dirs:
        if p.name in keep_ids:
            continue
        remove_tree(p)
        (base / f"{p.name}.json").unlink(missing_ok=True)
        removed.append(p.name)
    for p in [*base.glob(".tmp-*"), *base.glob(".old-*")]:
        pid = p.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or not Path(f"/proc/{pid}").exists():
            remove_tree(p)
    return removed
