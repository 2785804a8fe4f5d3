"""Readiness probes kept as plain data, so a server restarted later is probed the same way.

    {"tcp": 5432}                                      the port accepts connections
    {"http": URL, "status": [200], "ca": PATH}         an HTTP(S) answer with one of these codes
    {"cmd": [...]}                                     a command exits 0
"""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Callable
from typing import Any

import httpx

from tests.testenv.procs import port_open


def probe(desc: dict[str, Any]) -> Callable[[], bool]:
    if "tcp" in desc:
        port = int(desc["tcp"])
        return lambda: port_open(port)
    if "http" in desc:
        return lambda: _http_ok(desc)
    if "cmd" in desc:
        argv = [str(a) for a in desc["cmd"]]
        return lambda: _command_ok(argv)
    raise ValueError(f"unknown readiness probe {desc!r}")


def _http_ok(desc: dict[str, Any]) -> bool:
    verify: ssl.SSLContext | bool = False
    if "ca" in desc:
        verify = ssl.create_default_context(cafile=desc["ca"])
        if "cert" in desc:
            verify.load_cert_chain(desc["cert"], desc["key"])
    with httpx.Client(verify=verify, timeout=2.0) as client:
        status = client.get(desc["http"]).status_code
    return status in desc.get("status", [200])


def _command_ok(argv: list[str]) -> bool:
    return subprocess.run(argv, capture_output=True, timeout=20, check=False).returncode == 0
