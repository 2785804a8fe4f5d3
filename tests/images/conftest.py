"""Helpers shared by the images tests."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from agent.model import Bundle
from agent.tiers import Tier

TIER = Tier(name="vehicle", overlay="vehicle", registry="harbor-vehicle.local",
            rewrite=("registry.example.com",))

_ACCESS_RE = re.compile(r'^\S+ - \S+ \[[^\]]+\] "(GET|HEAD|POST|PUT) /v2/')


@pytest.fixture(autouse=True)
def _no_home_docker_config(tmp_path_factory: pytest.TempPathFactory,
                           monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the developer's own ~/.docker/config.json out of every test."""
    empty = tmp_path_factory.mktemp("docker-config-empty")
    monkeypatch.setenv("DOCKER_CONFIG", str(empty))
    return empty


def deployment(name: str, *images: str, init: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "demo"},
        "spec": {"template": {"spec": {
            "initContainers": [{"name": f"init{i}", "image": im} for i, im in enumerate(init)],
            "containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)],
        }}},
    }


def bundle_of(*objects: dict[str, Any]) -> Bundle:
    return Bundle(tuple(objects))


def write_docker_config(directory: Path, host: str, user: str, password: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    path = directory / "config.json"
    path.write_text(json.dumps({"auths": {f"http://{host}": {"auth": auth}}}))
    return path


def registry_requests(log: Path, user_agent: str | None = None) -> int:
    """HTTP requests the registry logged (its access log lines), optionally only those of
    one User-Agent, so tests running beside ours on the shared registry do not count."""
    if not log.exists():
        return 0
    with log.open(encoding="utf-8", errors="replace") as f:
        return sum(1 for line in f if _ACCESS_RE.match(line)
                   and (user_agent is None or line.rstrip().endswith(f'"{user_agent}"')))
