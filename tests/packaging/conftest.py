"""Shared helpers for the packaging tests: the repo root and required host tools."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def require_tool(name: str, package: str) -> str:
    """The tool's path; a missing tool fails in CI (never a silent skip) and skips locally."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is missing (Debian package {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path
