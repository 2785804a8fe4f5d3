"""The systemd unit: `systemd-analyze verify` is silent and the security exposure is <= 2.0.

`verify` insists that ExecStart's binary exists, so it runs on a copy of the unit whose
ExecStart points at a real executable in a temp dir; every other line is the shipped one.
`verify` exits 0 even on unknown keys or bad values (it only warns), so any output counts
as a failure here.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.packaging.conftest import REPO, require_tool

UNIT = REPO / "packaging" / "systemd" / "edge-agent.service"
SHIPPED_EXEC = "/usr/bin/edge-agent"


def unit_text() -> str:
    return UNIT.read_text()


def verify_problems(text: str, tmp_path: Path) -> list[str]:
    """What `systemd-analyze verify` complains about in a unit with this text."""
    analyze = require_tool("systemd-analyze", "systemd")
    exe = tmp_path / "edge-agent"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    assert f"ExecStart={SHIPPED_EXEC} " in text
    unit = tmp_path / "edge-agent.service"
    unit.write_text(text.replace(f"ExecStart={SHIPPED_EXEC} ", f"ExecStart={exe} "))
    run = subprocess.run([analyze, "verify", "--man=no", str(unit)], check=False,
                         capture_output=True,
                         text=True, timeout=60)
    problems = [line for line in (run.stdout + run.stderr).splitlines() if line.strip()]
    if run.returncode != 0:
        problems.append(f"exit status {run.returncode}")
    return problems


def exposure(text: str, tmp_path: Path) -> float:
    analyze = require_tool("systemd-analyze", "systemd")
    unit = tmp_path / "edge-agent.service"
    unit.write_text(text)
    run = subprocess.run([analyze, "security", "--offline=true", "--no-pager", str(unit)],
                         check=False, capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for edge-agent\.service: (\d+\.\d+)", run.stdout)
    assert match, run.stdout + run.stderr
    return float(match.group(1))


def test_unit_verifies_without_a_single_warning(tmp_path: Path) -> None:
    assert verify_problems(unit_text(), tmp_path) == []


def test_verify_check_catches_a_bad_key(tmp_path: Path) -> None:
    broken = unit_text().replace("Type=notify\n", "Type=notify\nWatchDogSecs=5\n")
    assert any("Unknown key" in p for p in verify_problems(broken, tmp_path))


def test_security_exposure_is_ok_or_better(tmp_path: Path) -> None:
    score = exposure(unit_text(), tmp_path)
    assert score <= 2.0, f"exposure {score} > 2.0"


def test_exposure_check_notices_lost_hardening(tmp_path: Path) -> None:
    hardening = ("NoNewPrivileges", "CapabilityBoundingSet", "ProtectSystem", "SystemCallFilter",
                 "RestrictAddressFamilies", "PrivateDevices", "DynamicUser")
    weak = "\n".join(line for line in unit_text().splitlines()
                     if not line.startswith(hardening))
    assert exposure(weak, tmp_path) > 2.0


@pytest.mark.parametrize("line", [
    "Type=notify", "Restart=on-failure", "StateDirectory=edgesync",
    "ConfigurationDirectory=edgesync", "RuntimeDirectory=edgesync", "CapabilityBoundingSet=",
    "SystemCallFilter=@system-service", "NoNewPrivileges=yes", "ProtectSystem=strict",
    "ExecStart=/usr/bin/edge-agent run --config /etc/edgesync/agent.yaml",
])
def test_unit_has_the_promised_settings(line: str) -> None:
    assert line in unit_text().splitlines()


def test_unit_has_a_watchdog_and_a_start_rate_limit() -> None:
    settings = dict(line.split("=", 1) for line in unit_text().splitlines()
                    if "=" in line and not line.startswith("#"))
    assert settings["WatchdogSec"].rstrip("s").isdigit()
    assert int(settings["StartLimitBurst"]) >= 1
    assert settings["StartLimitIntervalSec"]
