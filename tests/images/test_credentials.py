"""Docker config.json lookup as the Docker CLI does it, and registry challenge parsing."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

from agent.errors import ConfigError
from agent.images import Credential, DockerConfig, RegistryError
from agent.images._auth import parse_challenge, scope_for_path
from agent.images._client import parse_retry_after
from agent.images._credentials import Credentials, find_docker_config


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_found_like_the_docker_cli(tmp_path: Path) -> None:
    assert find_docker_config(None, {"DOCKER_CONFIG": str(tmp_path)}) == tmp_path / "config.json"
    assert find_docker_config(None, {"HOME": "/home/x"}) == Path("/home/x/.docker/config.json")
    assert find_docker_config(str(tmp_path), {}) == tmp_path / "config.json"
    assert find_docker_config(str(tmp_path / "c.json"), {}) == tmp_path / "c.json"
    # No file where the CLI would look: no credentials, not an error.
    assert DockerConfig.load(None, {"DOCKER_CONFIG": str(tmp_path)}).get("x.io") is None


def test_auth_entries_in_every_spelling(tmp_path: Path) -> None:
    write(tmp_path, {"auths": {
        "https://index.docker.io/v1/": {"auth": b64("hub:hubpass")},
        "http://127.0.0.1:5000": {"auth": b64("local:pa:ss")},
        "harbor.local": {"username": "u", "password": "p"},
        "https://quay.io/v2/": {"auth": b64("q:r"), "identitytoken": "refresh"},
    }})
    cfg = DockerConfig.load(str(tmp_path))
    assert cfg.get("docker.io") == Credential("hub", "hubpass")
    assert cfg.get("127.0.0.1:5000") == Credential("local", "pa:ss")
    assert cfg.get("harbor.local") == Credential("u", "p")
    assert cfg.get("quay.io") == Credential("q", "r", "refresh")
    assert cfg.get("other.io") is None
    assert "hubpass" not in repr(cfg.get("docker.io"))


def _helper(tmp_path: Path, name: str, body: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / f"docker-credential-{name}"
    path.write_text(f"#!{sys.executable}\nimport json, sys\nserver = sys.stdin.read()\n{body}\n")
    path.chmod(0o755)
    return bin_dir


def test_helpers_and_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = _helper(tmp_path, "pass", "print(json.dumps({'ServerURL': server, "
                      "'Username': 'helper-' + server, 'Secret': 's'}))")
    _helper(tmp_path, "empty", "print('credentials not found in native keychain'); "
            "sys.exit(1)")
    _helper(tmp_path, "broken", "print('boom', file=sys.stderr); sys.exit(3)")
    _helper(tmp_path, "token", "print(json.dumps({'Username': '<token>', 'Secret': 'rt'}))")
    monkeypatch.setenv("PATH", str(bin_dir))
    write(tmp_path, {"credsStore": "empty", "credHelpers": {
        "a.io": "pass", "b.io": "broken", "c.io": "token", "d.io": "missing"},
        "auths": {"e.io": {"auth": b64("file:f")}}})
    cfg = DockerConfig.load(str(tmp_path))
    assert cfg.get("a.io") == Credential("helper-a.io", "s")
    assert cfg.get("c.io") == Credential("<token>", "", "rt")
    # The store has nothing for e.io, so the auths entry is used.
    assert cfg.get("e.io") == Credential("file", "f")
    with pytest.raises(RegistryError, match="boom"):
        cfg.get("b.io")
    with pytest.raises(RegistryError, match="docker-credential-missing is not installed"):
        cfg.get("d.io")


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ("[]", "must be a JSON object"),
    ({"auths": []}, "malformed"),
    ({"auths": {"x.io": {"auth": "%%%"}}}, "not base64"),
    ({"auths": {"x.io": {"auth": b64("nocolon")}}}, "user:password"),
    ({"auths": {"x.io": "string"}}, "must be an object"),
])
def test_bad_config_names_the_file(tmp_path: Path, content: object, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ConfigError, match=message) as info:
        DockerConfig.load(str(tmp_path)).get("x.io")
    assert str(path) in str(info.value)


def test_explicit_path_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read Docker config"):
        DockerConfig.load(str(tmp_path / "nope.json"))


def test_agent_config_credentials_win_for_their_host(tmp_path: Path) -> None:
    write(tmp_path, {"auths": {"h.io": {"auth": b64("docker:d")}, "o.io": {"auth": b64("o:o")}}})
    creds = Credentials(static={"h.io": Credential("agent", "a")},
                        docker=DockerConfig.load(str(tmp_path)))
    assert creds.get("h.io") == Credential("agent", "a")
    assert creds.get("o.io") == Credential("o", "o")


@pytest.mark.parametrize(("header", "scheme", "params"), [
    ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
     'scope="repository:library/busybox:pull"', "bearer",
     {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
      "scope": "repository:library/busybox:pull"}),
    ('Bearer realm="https://h/t",scope="repository:a:pull,push",error="invalid_token"',
     "bearer", {"realm": "https://h/t", "scope": "repository:a:pull,push",
                "error": "invalid_token"}),
    ('Basic realm="edgesync \\"registry\\""', "basic", {"realm": 'edgesync "registry"'}),
    ("Basic realm=plain", "basic", {"realm": "plain"}),
])
def test_parse_challenge(header: str, scheme: str, params: dict[str, str]) -> None:
    challenge = parse_challenge(header)
    assert challenge is not None
    assert (challenge.scheme, challenge.params) == (scheme, params)
    assert parse_challenge("") is None


def test_scope_for_path() -> None:
    assert scope_for_path("/v2/team/app/manifests/v1") == "repository:team/app:pull"
    assert scope_for_path("/v2/a/blobs/sha256:x") == "repository:a:pull"
    # A repository named like an endpoint still yields the full name.
    assert scope_for_path("/v2/x/manifests/y/manifests/z") == "repository:x:pull"
    assert scope_for_path("/v2/") is None


def test_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT")
    assert later is not None and later > 1e9
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_docker_hub_references_use_its_api_host() -> None:
    from agent.images import RegistryPool, parse_reference

    with RegistryPool() as pool:
        client = pool.client(parse_reference("busybox").domain)
        assert client.base_url == "https://registry-1.docker.io"
        assert pool.client("harbor.local:8443").base_url == "https://harbor.local:8443"
