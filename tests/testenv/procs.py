"""Server processes: start detached with a log file, wait for readiness, stop by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


class TestenvError(RuntimeError):
    """A server of the test environment could not be installed, started or stopped."""


@dataclass(frozen=True)
class ProcSpec:
    """Everything needed to (re)start one server process the same way."""

    name: str
    argv: list[str]
    log: str
    cwd: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    stop_signal: int = signal.SIGTERM

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcSpec:
        return cls(**data)


@dataclass(frozen=True)
class Running:
    """A started process, identified by PID and kernel start time (PIDs get reused)."""

    pid: int
    start_time: int

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "start_time": self.start_time}


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ")".
    return raw[raw.rindex(")") + 2 :].split()


def start_time_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def _reap(pid: int) -> None:
    # Our own children become zombies until waited for; others are reaped by init.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(proc: Running) -> bool:
    _reap(proc.pid)
    fields = _stat_fields(proc.pid)
    if fields is None or int(fields[19]) != proc.start_time:
        return False
    if fields[0] not in ("Z", "X"):
        return True
    # A zombie leader may still have threads holding its sockets: dead once its fds are gone.
    try:
        return bool(os.listdir(f"/proc/{proc.pid}/fd"))
    except OSError:
        return False


def spawn(spec: ProcSpec) -> Running:
    """Start a server in its own session so it outlives the command that started it."""
    Path(spec.log).parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **spec.env}
    with open(spec.log, "ab") as log:
        log.write(f"\n==> {time.strftime('%H:%M:%S')} starting: {' '.join(spec.argv)}\n".encode())
        log.flush()
        try:
            popen = subprocess.Popen(
                spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=spec.cwd,
                env=env,
                user=spec.user,
                start_new_session=True,
            )
        except OSError as exc:
            raise TestenvError(f"{spec.name}: cannot start {spec.argv[0]}: {exc}") from exc
    started = start_time_of(popen.pid)
    if started is None:
        raise TestenvError(f"{spec.name}: exited at once\n{log_tail(spec.log)}")
    return Running(popen.pid, started)


def stop(proc: Running, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Stop the process, then anything left in its process group (CGI children, backends)."""
    if not is_alive(proc):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)
    deadline = time.monotonic() + timeout
    while is_alive(proc) and time.monotonic() < deadline:
        time.sleep(0.05)
    if is_alive(proc):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        while is_alive(proc):
            time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def log_tail(path: str | Path, lines: int = 40) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = "\n".join(text.splitlines()[-lines:])
    return f"--- last {lines} lines of {path} ---\n{tail}"


def wait_ready(
    spec: ProcSpec,
    proc: Running,
    check: Callable[[], bool],
    timeout: float,
) -> None:
    """Poll `check` until it holds; on timeout or early exit, fail with the server's log tail."""
    deadline = time.monotonic() + timeout
    while True:
        if not is_alive(proc):
            raise TestenvError(f"{spec.name} exited during start\n{log_tail(spec.log)}")
        try:
            if check():
                return
        except Exception:  # not ready yet, whatever the reason
            pass
        if time.monotonic() > deadline:
            stop(proc, spec.stop_signal)
            raise TestenvError(
                f"{spec.name} not ready after {timeout:.0f}s\n{log_tail(spec.log)}"
            )
        time.sleep(0.2)


_handed_out: set[int] = set()


def free_port() -> int:
    """A port free right now, never the same twice in this process (servers bind later)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def run(argv: list[str], *, what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a helper command; a failure names the command and shows its output."""
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise TestenvError(
            f"{what} failed ({' '.join(argv)}), exit {result.returncode}:\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return result
