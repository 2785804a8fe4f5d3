"""The images stage against the local distribution registry (real multi-arch images)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from agent.config import ImagesConfig
from agent.images import (
    PinResult,
    PreflightError,
    RegistryPool,
    client_options,
    credentials_for,
    parse_platform,
    parse_reference,
    pin_bundle,
    resolve_all,
)
from tests.images.conftest import (
    TIER,
    bundle_of,
    deployment,
    registry_requests,
    write_docker_config,
)
from tests.testenv.env import Env

pytestmark = pytest.mark.registry
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfg(registry_env: Env, tmp_path: Path) -> ImagesConfig:
    password = tmp_path / "registry-password"
    password.write_text(registry_env.registry_password + "\n")
    return ImagesConfig(registry_override=registry_env.registry, insecure_http=True,
                        username=registry_env.registry_user, password_file=str(password))


def skopeo_raw(env: Env, tag: str) -> bytes:
    done = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false",
         "--creds", f"{env.registry_user}:{env.registry_password}",
         f"docker://{env.registry}/edgesync/busybox:{tag}"],
        capture_output=True, check=True, timeout=60)
    return done.stdout


@pytest.mark.parametrize("tag", ["multi", "list"])
@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_index_and_list_resolve_like_skopeo_sees_them(registry_env: Env, cfg: ImagesConfig,
                                                       tag: str, arch: str) -> None:
    source = f"registry.example.com/edgesync/busybox:{tag}"
    result = pin_bundle(bundle_of(deployment("app", source)), tier=TIER, cfg=cfg,
                        platform=f"linux/{arch}", cache_dir=None, revision=None)
    (pin,) = result.pins
    raw = skopeo_raw(registry_env, tag)
    index = json.loads(raw)
    expected = next(m["digest"] for m in index["manifests"]
                    if m["platform"]["architecture"] == arch and m["platform"]["os"] == "linux")
    assert pin.index_digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert pin.digest == expected == registry_env.registry_images[f"{tag}/{arch}"]
    assert pin.pinned == f"{registry_env.registry}/edgesync/busybox@{expected}"
    assert pin.rewritten == f"{registry_env.registry}/edgesync/busybox:{tag}"
    assert pin.platform == f"linux/{arch}"
    image = result.bundle.objects[0]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == pin.pinned


def test_pin_index_mode_pins_the_index_digest(registry_env: Env, cfg: ImagesConfig) -> None:
    result = pin_bundle(bundle_of(deployment("app", "registry.example.com/edgesync/busybox:multi")),
                        tier=TIER, cfg=replace(cfg, pin="index"), platform="linux/arm64",
                        cache_dir=None, revision=None)
    (pin,) = result.pins
    assert pin.pinned.endswith("@" + registry_env.registry_images["multi"])
    assert pin.digest == registry_env.registry_images["multi/arm64"]


def test_single_arch_image_only_on_its_platform(registry_env: Env, cfg: ImagesConfig) -> None:
    bundle = bundle_of(deployment("app", "registry.example.com/edgesync/busybox:amd64-only"))
    ok = pin_bundle(bundle, tier=TIER, cfg=cfg, platform="linux/amd64", cache_dir=None,
                    revision=None)
    assert ok.pins[0].digest == registry_env.registry_images["amd64-only"]
    assert ok.pins[0].index_digest is None
    with pytest.raises(PreflightError) as info:
        pin_bundle(bundle, tier=TIER, cfg=cfg, platform="linux/arm64", cache_dir=None,
                   revision=None)
    (failure,) = info.value.failures
    assert failure.reason == "no manifest for platform"
    assert "built for linux/amd64" in failure.detail
    assert "Deployment.apps/demo/app" in str(info.value)


def test_missing_tag_rejects_the_whole_revision_listing_each_failure(
        registry_env: Env, cfg: ImagesConfig, tmp_path: Path) -> None:
    bundle = bundle_of(
        deployment("good", "registry.example.com/edgesync/busybox:multi"),
        deployment("bad", "registry.example.com/edgesync/busybox:missing",
                   init=("registry.example.com/edgesync/busybox:amd64-only",)),
        deployment("worse", "registry.example.com/edgesync/nothere:1",
                   "registry.example.com/UPPER/case"),
    )
    with pytest.raises(PreflightError) as info:
        pin_bundle(bundle, tier=TIER, cfg=cfg, platform="linux/arm64",
                   cache_dir=tmp_path / "cache", revision="rev1")
    failures = {f.image: f for f in info.value.failures}
    host = registry_env.registry
    assert set(failures) == {f"{host}/edgesync/busybox:missing",
                             f"{host}/edgesync/busybox:amd64-only",
                             f"{host}/edgesync/nothere:1", "registry.example.com/UPPER/case"}
    assert failures[f"{host}/edgesync/busybox:missing"].reason == "no such tag"
    assert failures[f"{host}/edgesync/nothere:1"].reason == "no such tag"
    assert failures["registry.example.com/UPPER/case"].reason == "malformed reference"
    assert "4 of 5 image(s)" in str(info.value)
    assert "nothing applied" in str(info.value)
    # Manifests may be kept (content-addressed), but no resolution of a rejected revision.
    assert not list((tmp_path / "cache").glob("*.json")), "a rejected revision was cached"


def test_401_without_credentials_then_success_with_docker_config(
        registry_env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = ImagesConfig(registry_override=registry_env.registry, insecure_http=True)
    bundle = bundle_of(deployment("app", "registry.example.com/edgesync/busybox:multi"))
    with pytest.raises(PreflightError) as info:
        pin_bundle(bundle, tier=TIER, cfg=cfg, platform="linux/amd64", cache_dir=None,
                   revision=None)
    (failure,) = info.value.failures
    assert failure.reason == "unauthorized (401)"
    assert "no credentials configured" in failure.detail

    docker_dir = tmp_path / "docker"
    write_docker_config(docker_dir, registry_env.registry, registry_env.registry_user,
                        registry_env.registry_password)
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_dir))
    result = pin_bundle(bundle, tier=TIER, cfg=cfg, platform="linux/amd64", cache_dir=None,
                        revision=None)
    assert result.pins[0].digest == registry_env.registry_images["multi/amd64"]

    # Wrong password in config.json: a 401 that says the credentials were rejected.
    write_docker_config(docker_dir, registry_env.registry, registry_env.registry_user, "wrong")
    with pytest.raises(PreflightError, match="credentials were rejected"):
        pin_bundle(bundle, tier=TIER, cfg=cfg, platform="linux/amd64", cache_dir=None,
                   revision=None)


def test_credential_helper_from_docker_config(registry_env: Env, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # A real helper program speaking the docker-credential-helpers protocol.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    seen = tmp_path / "helper-stdin"
    helper = bin_dir / "docker-credential-edgesynctest"
    helper.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "assert sys.argv[1] == 'get'\n"
        f"server = sys.stdin.read().strip(); open({str(seen)!r}, 'w').write(server)\n"
        f"print(json.dumps({{'ServerURL': server, 'Username': {registry_env.registry_user!r},"
        f" 'Secret': {registry_env.registry_password!r}}}))\n")
    helper.chmod(0o755)
    docker_dir = tmp_path / "docker"
    docker_dir.mkdir()
    (docker_dir / "config.json").write_text(json.dumps(
        {"credHelpers": {registry_env.registry: "edgesynctest"}}))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    cfg = ImagesConfig(registry_override=registry_env.registry, insecure_http=True,
                       docker_config=str(docker_dir))
    result = pin_bundle(bundle_of(deployment("app", "registry.example.com/edgesync/busybox:list")),
                        tier=TIER, cfg=cfg, platform="linux/arm64", cache_dir=None,
                        revision=None)
    assert result.pins[0].digest == registry_env.registry_images["list/arm64"]
    assert seen.read_text() == registry_env.registry


def test_cached_revision_costs_no_registry_request(registry_env: Env, cfg: ImagesConfig,
                                                   tmp_path: Path) -> None:
    bundle = bundle_of(
        deployment("a", "registry.example.com/edgesync/busybox:multi"),
        deployment("b", "registry.example.com/edgesync/busybox:list",
                   init=("registry.example.com/edgesync/busybox:multi",)),
    )
    log = registry_env.log_path("registry")
    agent = f"edgesync-test-{uuid.uuid4().hex[:8]}"
    options = replace(client_options(cfg), user_agent=agent)

    def pin(platform: str) -> PinResult:
        return pin_bundle(bundle, tier=TIER, cfg=cfg, platform=platform, cache_dir=tmp_path,
                          revision="0123abc", options=options)

    first = pin("linux/arm64")
    # Ping (401 + 200), then one GET per distinct image: nothing was stored yet.
    assert first.requests == 2 + 2
    assert registry_requests(log, agent) == first.requests
    assert (tmp_path / "0123abc.json").exists()
    second = pin("linux/arm64")
    assert second.requests == 0
    assert registry_requests(log, agent) == first.requests, "a cached revision asked again"
    assert second.pins == first.pins
    assert second.bundle == first.bundle
    # Another platform is another resolution, even for the same revision; the manifests
    # stored by the first run leave one HEAD per image (plus the ping) and no download.
    third = pin("linux/amd64")
    assert third.requests == 2 + 2
    assert registry_requests(log, agent) == first.requests + third.requests
    assert {p.digest for p in third.pins} == {registry_env.registry_images["multi/amd64"],
                                              registry_env.registry_images["list/amd64"]}
    with log.open(encoding="utf-8", errors="replace") as f:
        ours = [line for line in f if line.rstrip().endswith(f'"{agent}"')]
    assert sum('"HEAD /v2/' in line for line in ours) == 2


def test_connections_and_auth_are_reused(registry_env: Env, cfg: ImagesConfig) -> None:
    refs = [parse_reference(f"{registry_env.registry}/edgesync/busybox:{t}")
            for t in ("multi", "list", "amd64-only")]
    with RegistryPool(credentials_for(cfg, hosts=[registry_env.registry]),
                      client_options(cfg)) as pool:
        resolved, failed = resolve_all(refs, pool=pool, platform=parse_platform("linux/amd64"),
                                       workers=1)
        assert not failed
        # One ping (401, then 200 with Basic, which every later request sends up front),
        # one GET per image (nothing stored, so no HEAD), one config blob for the
        # single-arch image.
        assert pool.requests == 2 + 3 + 1
    assert {str(r.pinned).rsplit("@", 1)[1] for r in resolved.values()} == {
        registry_env.registry_images["multi/amd64"], registry_env.registry_images["list/amd64"],
        registry_env.registry_images["amd64-only"]}


def test_registry_down_is_a_clear_error(registry_env: Env, cfg: ImagesConfig) -> None:
    bundle = bundle_of(deployment("app", "registry.example.com/edgesync/busybox:multi"))
    registry_env.cut("registry")
    try:
        with pytest.raises(PreflightError) as info:
            pin_bundle(bundle, tier=TIER, cfg=cfg, platform="linux/amd64", cache_dir=None,
                       revision=None)
    finally:
        registry_env.restore("registry")
    (failure,) = info.value.failures
    assert failure.reason == "registry unreachable"
    assert registry_env.registry in failure.detail or registry_env.registry in failure.image


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    edge_agent = Path(sys.executable).parent / "edge-agent"
    return subprocess.run([str(edge_agent), *args], capture_output=True, check=False,
                          text=True, timeout=60, cwd=REPO_ROOT,
                          env={**os.environ, **(env or {})})


def test_cli_resolve_json(registry_env: Env, tmp_path: Path) -> None:
    write_docker_config(tmp_path, registry_env.registry, registry_env.registry_user,
                        registry_env.registry_password)
    ref = f"{registry_env.registry}/edgesync/busybox:multi"
    done = run_cli("images", "resolve", ref, "--platform", "linux/arm64", "--insecure-http",
                   "--output", "json", env={"DOCKER_CONFIG": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    arm64 = registry_env.registry_images["multi/arm64"]
    assert data == {"ref": ref, "pinned": f"{registry_env.registry}/edgesync/busybox@{arm64}",
                    "digest": arm64, "platform": "linux/arm64",
                    "index_digest": registry_env.registry_images["multi"]}
    done = run_cli("images", "resolve", ref.replace("multi", "missing"), "--insecure-http",
                   "--output", "json", env={"DOCKER_CONFIG": str(tmp_path)})
    assert done.returncode == 1
    assert json.loads(done.stdout)["type"] == "ManifestUnknownError"
