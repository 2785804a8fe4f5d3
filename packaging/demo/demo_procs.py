"""Background processes the demo leaves running, and the file that lets `down` find them.

Every process is started in its own session (so it outlives the demo command and a
Ctrl-C in the terminal does not reach it) and recorded with its command line; `down`
stops only a PID whose command line still matches, so a recycled PID is never hit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Background:
    name: str
    pid: int
    argv: list[str]
    log: str


@dataclass
class DemoState:
    """What `.demo/demo.json` holds: the running processes and what the demo started."""

    procs: list[Background] = field(default_factory=list)
    testenv_started: list[str] = field(default_factory=list)
    fleet_url: str | None = None

    @classmethod
    def load(cls, path: Path) -> DemoState:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        return cls(procs=[Background(**p) for p in data.get("procs", [])],
                   testenv_started=list(data.get("testenv_started", [])),
                   fleet_url=data.get("fleet_url"))

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(name: str, argv: list[str], log: Path, *, cwd: Path,
          env: dict[str, str] | None = None) -> Background:
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, **(env or {})})
    return Background(name=name, pid=proc.pid, argv=argv, log=str(log))


def alive(bg: Background) -> bool:
    """True while the recorded PID still runs the recorded command."""
    try:
        cmdline = Path(f"/proc/{bg.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    try:
        with open(f"/proc/{bg.pid}/stat", encoding="utf-8") as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                _reap(bg.pid)
                return False
    except (OSError, IndexError):
        return False
    args = [c.decode(errors="replace") for c in cmdline if c]
    # A console script runs as `python <script> ...`: its interpreter comes first.
    return bg.argv in (args, args[1:])


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(bg: Background, timeout: float = 30.0) -> bool:
    """SIGTERM (the agents finish their cycle), then SIGKILL after `timeout`; True if it ran."""
    if not alive(bg):
        return False
    os.kill(bg.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(bg.pid)
        if not alive(bg):
            return True
        time.sleep(0.1)
    os.kill(bg.pid, signal.SIGKILL)
    _reap(bg.pid)
    return True
