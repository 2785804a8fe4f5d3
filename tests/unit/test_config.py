"""Agent config and tier policy loading: valid files load, bad ones name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load_config
from agent.dataload import parse_duration
from agent.errors import ConfigError
from agent.tiers import load_tiers

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """\
node: gw-001
tier: edge-site-a
source:
  path: /srv/fleet        # a fleet repo checkout
kube:
  kubeconfig: /etc/rancher/k3s/k3s.yaml
state_dir: /var/lib/edgesync
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "agent.yaml"
    p.write_text(text)
    return p


def test_minimal_config_loads_as_written(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.node == "gw-001"
    assert cfg.tier == "edge-site-a"
    assert cfg.source.path == "/srv/fleet"
    assert cfg.kube.kubeconfig == "/etc/rancher/k3s/k3s.yaml"
    assert cfg.kube.field_manager == "edgesync"
    assert cfg.state_dir == "/var/lib/edgesync"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MINIMAL + "bogus: 1\n", "unknown key bogus"),
        (MINIMAL.replace("  path:", "  pathh:"), "unknown key source.pathh"),
        ("tier: cloud\nsource: {path: /x}\n", "missing required key node"),
        (MINIMAL + "images: {insecure_http: maybe}\n", "images.insecure_http must be bool"),
        (MINIMAL + "source_extra: [\n", "invalid YAML"),
        (MINIMAL.replace("  path: /srv/fleet", "  verify: {mode: sometimes}\n  path: /x"),
         "source.verify.mode must be one of"),
        ("node: a\ntier: b\nsource: {}\n", "source.path or source.url"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        load_config(write(tmp_path, text))


def test_missing_config_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_example_fleet_repo_tier_policy() -> None:
    policy = load_tiers(REPO / "overlays")
    assert set(policy.tiers) == {"cloud", "edge-site-a", "vehicle"}
    assert policy.get("cloud").sync.mode == "realtime"
    assert policy.get("edge-site-a").sync.interval_seconds == 3600
    assert policy.get("vehicle").sync.mode == "on-demand"
    with pytest.raises(ConfigError, match="tier 'mars' is not defined"):
        policy.get("mars")


def test_tier_overlay_outside_repo_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tiers.yaml").write_text("tiers:\n  x: {overlay: ../../etc, registry: r}\n")
    with pytest.raises(ConfigError, match="outside the repo"):
        load_tiers(tmp_path)


@pytest.mark.parametrize(("text", "seconds"),
                         [("30s", 30), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25), (7, 7)])
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "m", "1h-"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text)


def test_tier_entry_may_not_name_itself(tmp_path: Path) -> None:
    (tmp_path / "tiers.yaml").write_text("tiers:\n  x: {overlay: x, registry: r, name: y}\n")
    with pytest.raises(ConfigError, match=r"unknown key tiers\.x\.name"):
        load_tiers(tmp_path)
