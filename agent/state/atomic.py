"""Atomic file writes: a reader sees the old file or the new one, never a torn one.

Write to a temp file in the same folder, fsync it, rename it over the target,
then fsync the folder so the rename itself survives a power cut.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from agent.errors import StateError


def write_bytes(path: Path, data: bytes) -> None:
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(folder)
    except OSError as exc:
        raise StateError(f"cannot write state file: {exc.strerror}", where=str(path)) from exc


def write_json(path: Path, data: Any) -> None:
    write_bytes(path, json.dumps(data, indent=1, sort_keys=True).encode())


def read_json(path: Path) -> Any | None:
    """The parsed file, or None when it does not exist."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read state file: {exc.strerror}", where=str(path)) from exc
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise StateError(f"state file is not valid JSON: {exc}", where=str(path),
                         action="move it away to start from the cluster inventory") from exc


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
