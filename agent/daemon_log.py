"""Structured log lines for the daemon: JSON lines or journald-friendly `key=value`.

One event per line on stderr (journald stores it as-is); the first field is
the event name. Values are never secrets: URLs pass through `redact`.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from agent.source.gitenv import redact


def _kv_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if text == "" or any(c in text for c in ' "=\n\t'):
        return json.dumps(text)
    return text


class EventLog:
    def __init__(self, fmt: Literal["json", "kv"] = "kv", stream: TextIO | None = None):
        self.fmt = fmt
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()

    def __call__(self, event: str, level: str = "info", **fields: Any) -> None:
        record: dict[str, Any] = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                                  "level": level, "event": event}
        record.update({k: v for k, v in fields.items() if v is not None})
        if self.fmt == "json":
            line = json.dumps(record, default=str)
        else:
            line = " ".join(f"{k}={_kv_value(v)}" for k, v in record.items())
        line = redact(line)
        with self._lock:
            self.stream.write(line + "\n")
            self.stream.flush()
