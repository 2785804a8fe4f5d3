"""Byte-compile the project's modules before whole-process timings.

An installed agent never compiles its modules at start: pip writes bytecode at
install time and the zipapp compiles itself once at its first start. A source
checkout run with PYTHONDONTWRITEBYTECODE (as this machine's shell and the
systemd unit set) would otherwise compile every module on every start, which
measures the checkout, not the agent. Stale bytecode is never used: Python checks
each file's source timestamp and size.
"""

from __future__ import annotations

import compileall
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def compile_project() -> None:
    for package in ("agent", "fleet"):
        if not compileall.compile_dir(REPO / package, quiet=1):
            raise SystemExit(f"byte-compiling {package} failed")
