"""systemd's notify protocol (`Type=notify`), without libsystemd: one datagram per message.

`$NOTIFY_SOCKET` is a path or, starting with `@`, a Linux abstract socket name.
Outside systemd the variable is unset and every call is a no-op.
"""

from __future__ import annotations

import os
import socket


def _address(raw: str) -> str | bytes:
    return b"\0" + raw[1:].encode() if raw.startswith("@") else raw


def notify(*lines: str, env: dict[str, str] | None = None) -> bool:
    """Send `KEY=value` lines (e.g. `READY=1`, `STATUS=...`); True if a manager was told."""
    raw = (env if env is not None else os.environ).get("NOTIFY_SOCKET")
    if not raw:
        return False
    message = "\n".join(line.replace("\n", " ") for line in lines).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message, _address(raw))
    except OSError:
        return False  # The manager went away; the service keeps working without it.
    return True


def watchdog_interval(env: dict[str, str] | None = None) -> float | None:
    """Seconds between `WATCHDOG=1` pings (half of `$WATCHDOG_USEC`), or None when off."""
    e = env if env is not None else os.environ
    usec = e.get("WATCHDOG_USEC")
    pid = e.get("WATCHDOG_PID")
    if not usec or not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return int(usec) / 1_000_000 / 2
