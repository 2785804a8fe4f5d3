"""Bearer-token auth against a real distribution registry configured with `auth: token`.

The test runs a second `docker-registry` process that trusts a certificate made here, and
a small token server (the realm) that signs JWTs with that certificate's key, as Docker
Hub's or Harbor's token service would. The registry verifies every token itself, so a
resolution that succeeds proves the tokens were really accepted.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from agent.config import ImagesConfig
from agent.images import PreflightError, pin_bundle
from tests.images.conftest import TIER, bundle_of, deployment
from tests.testenv.env import Env

pytestmark = [pytest.mark.registry, pytest.mark.slow]

ISSUER = "edgesync-test-issuer"
SERVICE = "edgesync-token-registry"
USER, PASSWORD = "fleet-reader", "s3cret-token-pass"
REFRESH_TOKEN = "identity-token-for-fleet-reader"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TokenServer:
    """The realm: checks Basic credentials, signs RS256 JWTs with an x5c header."""

    key: Path
    cert_der: bytes
    lifetime: int = 300
    issuer: str = ISSUER
    issued: list[str] = field(default_factory=list)
    refused: int = 0
    posts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sign(self, scope: str) -> str:
        now = int(time.time())
        access = []
        if scope.startswith("repository:"):
            _, name, actions = scope.split(":", 2)
            access = [{"type": "repository", "name": name, "actions": actions.split(",")}]
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {"iss": self.issuer, "sub": USER, "aud": SERVICE, "exp": now + self.lifetime,
                  "nbf": now - 5, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = (_b64url(json.dumps(header).encode()) + "." +
                         _b64url(json.dumps(claims).encode()))
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                                   input=signing_input.encode(), capture_output=True,
                                   check=True).stdout
        return signing_input + "." + _b64url(signature)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _issue(self, scope: str) -> None:
                with server.lock:
                    server.issued.append(scope)
                token = server.sign(scope)
                body = json.dumps({"token": token, "access_token": token,
                                   "expires_in": server.lifetime}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _refuse(self) -> None:
                with server.lock:
                    server.refused += 1
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                query = parse_qs(urlparse(self.path).query)
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self._refuse()
                    return
                assert query.get("service") == [SERVICE]
                self._issue(query.get("scope", [""])[0])

            def do_POST(self) -> None:
                # The OAuth2 form: an identity (refresh) token instead of a password.
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                if form.get("grant_type") != ["refresh_token"] or \
                        form.get("refresh_token") != [REFRESH_TOKEN]:
                    self._refuse()
                    return
                assert form.get("service") == [SERVICE]
                with server.lock:
                    server.posts += 1
                self._issue(form.get("scope", [""])[0])

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@dataclass
class TokenRealm:
    """The token server and a registry process trusting it (restartable with a new issuer)."""

    base: Path
    port: int
    realm: str
    cert: Path
    tokens: TokenServer
    proc: subprocess.Popen[bytes] | None = None

    @property
    def registry(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, issuer: str = ISSUER) -> None:
        config = self.base / "config.yml"
        config.write_text(json.dumps({
            "version": 0.1,
            "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
            "storage": {"filesystem": {"rootdirectory": str(self.base / "data")},
                        "maintenance": {"readonly": {"enabled": True},
                                        "uploadpurging": {"enabled": False}}},
            "http": {"addr": self.registry, "secret": uuid.uuid4().hex},
            "auth": {"token": {"realm": self.realm, "service": SERVICE, "issuer": issuer,
                               "rootcertbundle": str(self.cert)}},
        }))
        log = self.base / "registry.log"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=out,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://{self.registry}/v2/").status_code == 401:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"token registry did not start:\n{log.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture(scope="module")
def token_realm(registry_env: Env, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[TokenRealm]:
    base = tmp_path_factory.mktemp("token-registry")
    key, cert = base / "key.pem", base / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=edgesync test token issuer", "-keyout", str(key),
                    "-out", str(cert), "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,digitalSignature,keyCertSign"],
                   check=True, capture_output=True)
    der = subprocess.run(["openssl", "x509", "-in", str(cert), "-outform", "DER"],
                         check=True, capture_output=True).stdout
    tokens = TokenServer(key=key, cert_der=der)
    http = ThreadingHTTPServer(("127.0.0.1", 0), tokens.handler())
    threading.Thread(target=http.serve_forever, daemon=True).start()
    realm = f"http://127.0.0.1:{http.server_address[1]}/token"

    # The seeded images, copied so this registry never shares files with the main one.
    seeded = registry_env.root / "registry" / "data"
    assert seeded.is_dir(), f"seeded registry storage not found at {seeded}"
    shutil.copytree(seeded, base / "data")
    realm_env = TokenRealm(base=base, port=_free_port(), realm=realm, cert=cert, tokens=tokens)
    try:
        realm_env.start()
        yield realm_env
    finally:
        realm_env.stop()
        http.shutdown()


def _cfg(realm: TokenRealm, tmp_path: Path, password: str = PASSWORD) -> ImagesConfig:
    secret = tmp_path / "password"
    secret.write_text(password)
    return ImagesConfig(registry_override=realm.registry, insecure_http=True, username=USER,
                        password_file=str(secret))


BUNDLE = bundle_of(
    deployment("a", "registry.example.com/edgesync/busybox:multi",
               "registry.example.com/edgesync/busybox:list"),
    deployment("b", "registry.example.com/edgesync/busybox:amd64-only"),
)


def test_bearer_tokens_are_fetched_once_per_scope_and_accepted(
        token_realm: TokenRealm, registry_env: Env, tmp_path: Path) -> None:
    challenge = httpx.get(f"http://{token_realm.registry}/v2/edgesync/busybox/manifests/multi")
    assert challenge.status_code == 401
    assert challenge.headers["WWW-Authenticate"].startswith("Bearer realm=")

    before = len(token_realm.tokens.issued)
    result = pin_bundle(BUNDLE, tier=TIER, cfg=_cfg(token_realm, tmp_path),
                        platform="linux/amd64", cache_dir=None, revision=None, workers=1)
    digests = {p.rewritten.rsplit(":", 1)[1]: p.digest for p in result.pins}
    assert digests == {"multi": registry_env.registry_images["multi/amd64"],
                       "list": registry_env.registry_images["list/amd64"],
                       "amd64-only": registry_env.registry_images["amd64-only"]}
    # Three images of one repository: one token for its pull scope, reused.
    assert token_realm.tokens.issued[before:] == ["repository:edgesync/busybox:pull"]


def test_token_rejected_mid_run_is_fetched_again(token_realm: TokenRealm,
                                                 tmp_path: Path) -> None:
    from agent.images import (
        RegistryPool,
        Resolver,
        client_options,
        credentials_for,
        parse_platform,
        parse_reference,
    )

    tokens = token_realm.tokens
    cfg = _cfg(token_realm, tmp_path)
    ref = parse_reference(f"{token_realm.registry}/edgesync/busybox:multi")
    with RegistryPool(credentials_for(cfg, hosts=[token_realm.registry]),
                      client_options(cfg)) as pool:
        resolver = Resolver(pool, parse_platform("linux/arm64"))
        before = len(tokens.issued)
        resolver.resolve(ref)
        # The registry rotates its trusted issuer mid-run: the token the client holds
        # (fresh for minutes by its own clock) is now refused with a 401.
        token_realm.stop()
        tokens.issuer = "rotated-issuer"
        try:
            token_realm.start(issuer="rotated-issuer")
            resolution = resolver.resolve(parse_reference(f"{ref}".replace("multi", "list")))
        finally:
            token_realm.stop()
            tokens.issuer = ISSUER
            token_realm.start()
    assert resolution.platform == "linux/arm64"
    # One token before the rotation, one after the 401; never more.
    assert tokens.issued[before:] == ["repository:edgesync/busybox:pull"] * 2


def test_expired_token_is_renewed_before_use(token_realm: TokenRealm, tmp_path: Path) -> None:
    from agent.images import (
        RegistryPool,
        Resolver,
        client_options,
        credentials_for,
        parse_platform,
        parse_reference,
    )

    tokens = token_realm.tokens
    cfg = _cfg(token_realm, tmp_path)
    tokens.lifetime = 2
    try:
        ref = parse_reference(f"{token_realm.registry}/edgesync/busybox:multi")
        with RegistryPool(credentials_for(cfg, hosts=[token_realm.registry]),
                          client_options(cfg)) as pool:
            resolver = Resolver(pool, parse_platform("linux/amd64"))
            before = len(tokens.issued)
            resolver.resolve(ref)
            resolver.resolve(ref)
            assert len(tokens.issued) - before == 1
            time.sleep(2.2)
            resolver.resolve(ref)
            assert len(tokens.issued) - before == 2
    finally:
        tokens.lifetime = 300


def test_token_realm_refuses_bad_credentials(token_realm: TokenRealm, tmp_path: Path) -> None:
    refused = token_realm.tokens.refused
    with pytest.raises(PreflightError) as info:
        pin_bundle(BUNDLE, tier=TIER, cfg=_cfg(token_realm, tmp_path, password="wrong"),
                   platform="linux/amd64", cache_dir=None, revision=None)
    assert {f.reason for f in info.value.failures} == {"unauthorized (401)"}
    assert "token service rejected the credentials" in str(info.value)
    assert token_realm.tokens.refused > refused

    anonymous = ImagesConfig(registry_override=token_realm.registry, insecure_http=True)
    with pytest.raises(PreflightError, match="requires credentials"):
        pin_bundle(BUNDLE, tier=TIER, cfg=anonymous, platform="linux/amd64", cache_dir=None,
                   revision=None)


def test_identity_token_from_docker_config(token_realm: TokenRealm, registry_env: Env,
                                           tmp_path: Path) -> None:
    # `docker login` against an OAuth2 realm stores an identity token, not a password.
    (tmp_path / "config.json").write_text(json.dumps(
        {"auths": {token_realm.registry: {"identitytoken": REFRESH_TOKEN}}}))
    cfg = ImagesConfig(registry_override=token_realm.registry, insecure_http=True,
                       docker_config=str(tmp_path))
    posts = token_realm.tokens.posts
    bundle = bundle_of(deployment("a", "registry.example.com/edgesync/busybox:list"))
    result = pin_bundle(bundle, tier=TIER, cfg=cfg, platform="linux/arm64", cache_dir=None,
                        revision=None)
    assert result.pins[0].digest == registry_env.registry_images["list/arm64"]
    assert token_realm.tokens.posts == posts + 1
