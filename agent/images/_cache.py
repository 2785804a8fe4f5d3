"""Per-revision cache of resolutions on disk (`<state_dir>/images/<revision>.json`).

A revision's images are resolved once; a later cycle on the same revision
(the common no-op case) reads this file and asks no registry anything. Tags
can move, but a revision is pinned to what its tags meant when it was first
resolved: that is what keeps every cycle, and every node, on the same bits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent.state.atomic import write_bytes

log = logging.getLogger("edgesync.images")

_SAFE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_VERSION = 1
KEEP_FILES = 8


def cache_file(cache_dir: Path, revision: str) -> Path:
    name = revision if _SAFE_NAME_RE.fullmatch(revision) else \
        hashlib.sha256(revision.encode()).hexdigest()
    return cache_dir / f"{name}.json"


def load(cache_dir: Path, revision: str) -> dict[str, dict[str, Any]]:
    """The cached entries of `revision`; empty (and a warning) if the file is unusable."""
    path = cache_file(cache_dir, revision)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("ignoring unreadable image cache %s: %s", path, exc)
        return {}
    if not isinstance(data, dict) or data.get("version") != _VERSION or \
            data.get("revision") != revision or not isinstance(data.get("entries"), dict):
        log.warning("ignoring image cache %s: not a version %d cache of revision %s",
                    path, _VERSION, revision)
        return {}
    return {k: v for k, v in data["entries"].items() if isinstance(v, dict)}


def store(cache_dir: Path, revision: str, entries: Mapping[str, Mapping[str, Any]]) -> Path:
    """Write the entries atomically, then drop all but the newest few revision files."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_file(cache_dir, revision)
    text = json.dumps({"version": _VERSION, "revision": revision, "entries": entries},
                      indent=1, sort_keys=True)
    write_bytes(path, text.encode())
    _prune(cache_dir, keep=path)
    return path


def _prune(cache_dir: Path, keep: Path) -> None:
    files = sorted((p for p in cache_dir.glob("*.json") if not p.name.startswith(".")),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    for old in files[KEEP_FILES:]:
        if old != keep:
            old.unlink(missing_ok=True)
