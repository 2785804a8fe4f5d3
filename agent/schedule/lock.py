"""The update lock: while held, the agent fetches and renders but does not apply.

Protocol on `daemon.lock_file` (and `<lock_file>.held` beside it):

* An application that must not be disturbed (a vehicle's drive controller)
  opens the lock file and holds `flock(LOCK_SH)` for as long as it needs;
  several applications may hold it at once. Taking it blocks at most until
  an apply already in progress has finished.
* A script that cannot keep a process alive runs `edge-agent lock`: it
  writes the marker `<lock_file>.held` (who and when), then takes and drops
  `LOCK_SH` once, so that when it returns no apply is running and none will
  start. `edge-agent unlock` removes the marker.
* The agent, right before applying, takes `flock(LOCK_EX | LOCK_NB)` and
  checks the marker; it keeps the exclusive lock until the apply is over, so
  an application that asks for the lock meanwhile waits for a consistent
  cluster. If either says "held", the cycle is deferred.

The marker is a separate file because the lock file's inode must stay the
same while applications hold locks on it (replacing it would free them).
"""

from __future__ import annotations

import fcntl
import getpass
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from agent.errors import StateError


def marker_path(lock_file: str | Path) -> Path:
    return Path(f"{lock_file}.held")


def _open(lock_file: str | Path) -> IO[str]:
    path = Path(lock_file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "a", encoding="utf-8")
    except OSError as exc:
        raise StateError(f"cannot open update lock: {exc.strerror}", where=str(path)) from exc


def marker(lock_file: str | Path) -> str | None:
    """Who holds the script lock (the marker's text), or None."""
    try:
        text = marker_path(lock_file).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read update lock marker: {exc.strerror}",
                         where=str(marker_path(lock_file))) from exc
    return text or "held"


class ApplyGate:
    """The agent's side: hold the lock exclusively for one apply, or say why not."""

    def __init__(self, lock_file: str | Path):
        self.lock_file = str(lock_file)
        self._fh: IO[str] | None = None

    def try_hold(self) -> str | None:
        """None and the lock is ours until `release()`; else the reason it is held."""
        if self._fh is not None:
            return None
        fh = _open(self.lock_file)
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return f"update lock {self.lock_file} is held by an application"
        who = marker(self.lock_file)
        if who is not None:
            fh.close()
            return f"update lock {self.lock_file} is held ({who})"
        self._fh = fh
        return None

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing drops the flock
            self._fh = None

    def __enter__(self) -> ApplyGate:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def probe(lock_file: str | Path) -> str | None:
    """Whether an apply could start now, without keeping the lock."""
    with ApplyGate(lock_file) as gate:
        return gate.try_hold()


def hold(lock_file: str | Path, reason: str | None = None) -> str:
    """`edge-agent lock`: set the marker and wait until no apply is running."""
    user = getpass.getuser()
    when = datetime.now(UTC).isoformat(timespec="seconds")
    text = f"by {user}@{socket.gethostname()} pid {os.getppid()} since {when}"
    if reason:
        text += f": {reason}"
    path = marker_path(lock_file)
    fh = _open(lock_file)
    try:
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(text + "\n", encoding="utf-8")
        os.replace(tmp, path)
        fcntl.flock(fh, fcntl.LOCK_SH)  # returns once an apply in progress has finished
    except OSError as exc:
        raise StateError(f"cannot take update lock: {exc.strerror}", where=str(path)) from exc
    finally:
        fh.close()
    return text


def free(lock_file: str | Path) -> bool:
    """`edge-agent unlock`: remove the marker; True if it was there."""
    try:
        marker_path(lock_file).unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StateError(f"cannot release update lock: {exc.strerror}",
                         where=str(marker_path(lock_file))) from exc
    return True
