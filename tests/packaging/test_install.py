"""`edge-agent install` into a scratch root, and the config template it ships."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.config import AgentConfig, load_config
from agent.install import install
from tests.packaging.conftest import REPO, require_tool

TEMPLATE = REPO / "packaging" / "agent.yaml.example"


def run_install(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["install", *args])
    return result.exit_code, result.output


def test_install_writes_unit_config_and_dirs_and_starts_nothing(tmp_path: Path) -> None:
    code, out = run_install("--root", str(tmp_path), "--binary", "/opt/edgesync/edge-agent")
    assert code == 0, out
    unit = (tmp_path / "etc/systemd/system/edge-agent.service").read_text()
    assert "ExecStart=/opt/edgesync/edge-agent run --config /etc/edgesync/agent.yaml" in unit
    assert "User=edgesync" in unit
    config = tmp_path / "etc/edgesync/agent.yaml"
    assert config.read_text() == TEMPLATE.read_text()
    assert load_config(config).tier == "edge-site-a"
    assert (tmp_path / "etc/edgesync/agent.yaml.example").is_file()
    assert (tmp_path / "var/lib/edgesync").stat().st_mode & 0o777 == 0o700
    assert "Nothing was started" in out
    assert "systemctl enable --now edge-agent.service" in out


def test_reinstall_keeps_the_operators_config(tmp_path: Path) -> None:
    install(tmp_path, binary="/usr/bin/edge-agent")
    config = tmp_path / "etc/edgesync/agent.yaml"
    config.write_text(config.read_text().replace("node: gw-001", "node: truck-17"))
    code, out = run_install("--root", str(tmp_path), "--output", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["kept"] == [str(config)]
    assert str(config) not in data["written"]
    assert load_config(config).node == "truck-17"
    assert data["started"] is False


def test_install_never_runs_a_command_without_now(tmp_path: Path) -> None:
    # A recording runner, because this machine has no systemd as PID 1 to start units on.
    calls: list[list[str]] = []
    install(tmp_path, runner=lambda args: calls.append(list(args)) or 0)
    assert calls == []


def test_now_with_a_scratch_root_is_refused_before_writing(tmp_path: Path) -> None:
    code, out = run_install("--root", str(tmp_path), "--now")
    assert code == 1
    assert "--now starts the service on this machine" in out
    assert list(tmp_path.iterdir()) == []


def test_the_service_user_is_created_by_systemd_sysusers(tmp_path: Path) -> None:
    sysusers = require_tool("systemd-sysusers", "systemd")
    install(tmp_path, binary="/usr/bin/edge-agent")
    subprocess.run([sysusers, "--root", str(tmp_path)], check=True, capture_output=True,
                   timeout=60)
    passwd = (tmp_path / "etc/passwd").read_text()
    assert re.search(r"^edgesync:x:\d+:\d+:edgesync GitOps agent:/var/lib/edgesync:", passwd,
                     re.MULTILINE), passwd


def _uncomment(text: str) -> str:
    """Turn every commented-out `key: value` line of the template into a live one."""
    lines = []
    for line in text.splitlines():
        match = re.match(r"^(\s*)# (\s*[a-z_]+:(?: |$).*)$", line)
        if match is None:
            lines.append(line)
        elif not match.group(2).strip().startswith("path:"):  # path and url are exclusive
            lines.append(match.group(1) + match.group(2))
    return "\n".join(lines) + "\n"


def _fields(value: Any, prefix: str = "") -> set[str]:
    names = set()
    for f in dataclasses.fields(value):
        names.add(prefix + f.name)
        child = getattr(value, f.name)
        if dataclasses.is_dataclass(child):
            names |= _fields(child, f"{prefix}{f.name}.")
    return names


def test_template_documents_every_config_key(tmp_path: Path) -> None:
    import yaml

    full = tmp_path / "agent.yaml"
    full.write_text(_uncomment(TEMPLATE.read_text()))
    cfg = load_config(full)  # every commented default is valid when switched on
    data = yaml.safe_load(full.read_text())

    def keys(d: dict[str, Any], prefix: str = "") -> set[str]:
        out = set()
        for k, v in d.items():
            out.add(prefix + k)
            if isinstance(v, dict):
                out |= keys(v, f"{prefix}{k}.")
        return out

    missing = _fields(cfg) - keys(data) - {"source.path"}
    assert missing == set(), f"template lacks {sorted(missing)}"
    assert isinstance(cfg, AgentConfig)


@pytest.mark.parametrize("line", ["node: gw-001", "tier: edge-site-a"])
def test_template_sets_the_required_keys(line: str) -> None:
    assert line in TEMPLATE.read_text().splitlines()


def test_a_relative_binary_is_refused(tmp_path: Path) -> None:
    code, out = run_install("--root", str(tmp_path), "--binary", "bin/edge-agent")
    assert code == 1
    assert "--binary: ExecStart needs an absolute path" in out
    assert list(tmp_path.iterdir()) == []
