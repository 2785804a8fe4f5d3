"""A real `fleet serve` process on 127.0.0.1 for the tests, with enrolment helpers."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

FLEET = [sys.executable, "-m", "fleet"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fleet_cli(*args: str, db: str, cwd: Path | None = None) -> dict[str, object]:
    """Run a `fleet` subcommand with `--output json` and return its JSON."""
    out = subprocess.run([*FLEET, *args, "--db", db, "--output", "json"], cwd=cwd,
                         capture_output=True, text=True, timeout=60, check=False)
    if out.returncode != 0:
        raise AssertionError(f"fleet {' '.join(args)} failed: {out.stdout}{out.stderr}")
    data: dict[str, object] = json.loads(out.stdout)
    return data


class FleetServer:
    def __init__(self, db: str, workdir: Path, *extra: str) -> None:
        self.db = db
        self.workdir = workdir
        self.extra = extra
        self.port = free_port()
        self.verify: bool | str = True
        if "--tls-cert" in extra:
            self.verify = extra[extra.index("--tls-cert") + 1]
        scheme = "https" if "--tls-cert" in extra else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"fleet-{self.port}.log"

    def start(self) -> FleetServer:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [*FLEET, "serve", "--db", self.db, "--listen", f"127.0.0.1:{self.port}",
                 *self.extra], cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"fleet serve exited: {self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1,
                             verify=_context(self.verify)).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"fleet serve did not answer: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


def _context(verify: bool | str) -> bool | ssl.SSLContext:
    return ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
