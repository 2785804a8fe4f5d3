"""TLS with a custom CA, against a real `docker-registry` serving HTTPS with a certificate
signed by a CA made for the test."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.config import ImagesConfig
from agent.errors import ConfigError
from agent.images import PreflightError, pin_bundle
from tests.images.conftest import TIER, bundle_of, deployment
from tests.testenv.env import Env

pytestmark = [pytest.mark.registry, pytest.mark.slow]


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls_registry(registry_env: Env, tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[tuple[str, Path]]:
    base = tmp_path_factory.mktemp("tls-registry")
    ca_key, ca, key, csr, cert = (base / n for n in ("ca.key", "ca.pem", "tls.key", "tls.csr",
                                                    "tls.pem"))
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
             "/CN=edgesync test CA", "-keyout", str(ca_key), "-out", str(ca))
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
             "-keyout", str(key), "-out", str(csr))
    ext = base / "ext.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-days", "1", "-extfile", str(ext), "-out", str(cert))
    seeded = registry_env.root / "registry" / "data"
    assert seeded.is_dir(), f"seeded registry storage not found at {seeded}"
    shutil.copytree(seeded, base / "data")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = base / "config.yml"
    config.write_text(json.dumps({
        "version": 0.1,
        "log": {"level": "info", "formatter": "text"},
        "storage": {"filesystem": {"rootdirectory": str(base / "data")},
                    "maintenance": {"readonly": {"enabled": True},
                                    "uploadpurging": {"enabled": False}}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": uuid.uuid4().hex,
                 "tls": {"certificate": str(cert), "key": str(key)}},
    }))
    log = base / "registry.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        context = ssl.create_default_context(cafile=str(ca))
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as raw, \
                        context.wrap_socket(raw, server_hostname="127.0.0.1"):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"TLS registry did not start:\n{log.read_text()}") \
                        from None
                time.sleep(0.1)
        yield f"127.0.0.1:{port}", ca
    finally:
        proc.terminate()
        proc.wait(10)


BUNDLE = bundle_of(deployment("a", "registry.example.com/edgesync/busybox:multi"))


def test_untrusted_certificate_is_a_clear_error(tls_registry: tuple[str, Path]) -> None:
    host, _ = tls_registry
    with pytest.raises(PreflightError) as info:
        pin_bundle(BUNDLE, tier=TIER, cfg=ImagesConfig(registry_override=host),
                   platform="linux/amd64", cache_dir=None, revision=None)
    (failure,) = info.value.failures
    assert failure.reason == "registry unreachable"
    assert "TLS" in failure.detail and "images.ca_file" in failure.detail


def test_custom_ca_is_trusted(tls_registry: tuple[str, Path], registry_env: Env) -> None:
    host, ca = tls_registry
    result = pin_bundle(BUNDLE, tier=TIER, cfg=ImagesConfig(registry_override=host,
                                                            ca_file=str(ca)),
                        platform="linux/arm64", cache_dir=None, revision=None)
    assert result.pins[0].digest == registry_env.registry_images["multi/arm64"]
    assert result.pins[0].pinned.startswith(f"{host}/edgesync/busybox@sha256:")


def test_unreadable_ca_file_names_the_setting(tls_registry: tuple[str, Path],
                                              tmp_path: Path) -> None:
    host, _ = tls_registry
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate")
    for ca_file in (str(tmp_path / "missing.pem"), str(garbage)):
        with pytest.raises(ConfigError, match=r"images\.ca_file"):
            pin_bundle(BUNDLE, tier=TIER, cfg=ImagesConfig(registry_override=host,
                                                           ca_file=ca_file),
                       platform="linux/amd64", cache_dir=None, revision=None)
