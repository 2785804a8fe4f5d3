"""Fixtures: a fresh fleet repo (real git) and an agent config pointing at it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig
from agent.dataload import load_dataclass
from tests.source.fleetrepo import FleetRepo


@pytest.fixture
def fleet(tmp_path: Path) -> FleetRepo:
    return FleetRepo(tmp_path / "remote")


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., AgentConfig]:
    def make(url: str, *, tier: str = "cloud", **source: Any) -> AgentConfig:
        data = {"node": "n1", "tier": tier, "state_dir": str(tmp_path / "state"),
                "source": {"url": url, **source},
                "daemon": {"lock_file": str(tmp_path / "update.lock"),
                           "socket": str(tmp_path / "agent.sock"), "metrics_listen": None}}
        return load_dataclass(AgentConfig, data)
    return make
