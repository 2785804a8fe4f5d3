"""The example fleet repo (overlays/) rendered per tier, then rewritten and pinned against the
local registry through `images.registry_override`, unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import ImagesConfig
from agent.images import image_uses, pin_bundle, resolve_rendered_tier
from agent.render import render_tier
from agent.tiers import load_tiers
from tests.testenv.env import Env

pytestmark = pytest.mark.registry
OVERLAYS = Path(__file__).resolve().parents[2] / "overlays"


@pytest.mark.parametrize(("tier", "platform"), [("cloud", "linux/amd64"),
                                                ("edge-site-a", "linux/amd64"),
                                                ("vehicle", "linux/arm64")])
def test_every_tier_pins_to_the_local_registry(registry_env: Env, tmp_path: Path, tier: str,
                                               platform: str) -> None:
    password = tmp_path / "password"
    password.write_text(registry_env.registry_password)
    cfg = ImagesConfig(registry_override=registry_env.registry, insecure_http=True,
                       username=registry_env.registry_user, password_file=str(password))
    rendered = render_tier(OVERLAYS, tier)
    assert image_uses(rendered), "the example overlays run at least one container"
    result = pin_bundle(rendered, tier=load_tiers(OVERLAYS).get(tier), cfg=cfg,
                        platform=platform, cache_dir=tmp_path / "cache", revision="example")
    arch = platform.rsplit("/", 1)[1]
    for use in image_uses(result.bundle):
        assert use.image == (f"{registry_env.registry}/edgesync/busybox@"
                             f"{registry_env.registry_images['multi/' + arch]}"), use.where
    assert {p.rewritten for p in result.pins} == {
        f"{registry_env.registry}/edgesync/busybox:multi"}


def test_render_resolve_images_helper(registry_env: Env, tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text(registry_env.registry_password)
    config = tmp_path / "agent.yaml"
    config.write_text(
        "node: n1\ntier: vehicle\nplatform: linux/arm64\n"
        f"source: {{path: {OVERLAYS}}}\n"
        f"images: {{registry_override: '{registry_env.registry}', insecure_http: true, "
        f"username: {registry_env.registry_user}, password_file: {password}}}\n")
    pinned = resolve_rendered_tier(render_tier(OVERLAYS, "vehicle"), repo=OVERLAYS,
                                   tier="vehicle", config=str(config))
    images = {u.image for u in image_uses(pinned)}
    assert images == {f"{registry_env.registry}/edgesync/busybox@"
                      f"{registry_env.registry_images['multi/arm64']}"}


def test_render_command_with_resolve_images(registry_env: Env, tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text(registry_env.registry_password)
    config = tmp_path / "agent.yaml"
    config.write_text(
        "node: n1\ntier: vehicle\nplatform: linux/arm64\n"
        f"source: {{path: {OVERLAYS}}}\n"
        f"images: {{registry_override: '{registry_env.registry}', insecure_http: true, "
        f"username: {registry_env.registry_user}, password_file: {password}}}\n")
    edge_agent = Path(sys.executable).parent / "edge-agent"
    done = subprocess.run([str(edge_agent), "render", "--tier", "vehicle", "--repo",
                           str(OVERLAYS), "--resolve-images", "--config", str(config),
                           "-o", "json"], capture_output=True, text=True, check=False,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    images = {c["image"] for obj in json.loads(done.stdout)
              if obj.get("kind") == "Deployment"
              for c in obj["spec"]["template"]["spec"]["containers"]}
    assert images == {f"{registry_env.registry}/edgesync/busybox@"
                      f"{registry_env.registry_images['multi/arm64']}"}
