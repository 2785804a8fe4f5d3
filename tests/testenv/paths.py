"""Where the test environment keeps things: runtime state in the repo, builds in the user cache."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# Runtime state of one environment (ports, PIDs, data dirs, logs); wiped by `down`.
ROOT = Path(os.environ.get("EDGESYNC_TESTENV_DIR", REPO / ".testenv"))

# Built binaries and downloaded packages outlive any one checkout, keyed by version.
CACHE = Path(os.environ.get("EDGESYNC_CACHE_DIR", Path.home() / ".cache" / "edgesync"))
BIN_CACHE = CACHE / "bin"
DEB_CACHE = CACHE / "debs"

STATE_FILE = ROOT / "state.json"
ENV_FILE = ROOT / "env.sh"
LOCK_FILE = ROOT / "lock"
LOG_DIR = ROOT / "logs"
BIN_DIR = ROOT / "bin"  # symlinks to the cached binaries of this environment (kubectl, ...)
