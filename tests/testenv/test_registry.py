"""The registry: auth, the seeded multi-arch images by digest, 404 for the missing tag."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Iterator

import httpx
import pytest

from tests.testenv import images
from tests.testenv.env import Env

pytestmark = pytest.mark.registry

ACCEPT = ", ".join(
    [images.OCI_INDEX, images.OCI_MANIFEST, images.DOCKER_LIST, images.DOCKER_MANIFEST]
)
ELF_MACHINE = {"amd64": 62, "arm64": 183}  # e_machine of x86-64 and AArch64


@pytest.fixture
def client(registry_env: Env) -> Iterator[httpx.Client]:
    auth = (registry_env.registry_user, registry_env.registry_password)
    base = f"http://{registry_env.registry}/v2/edgesync/busybox"
    with httpx.Client(base_url=base, auth=auth, headers={"Accept": ACCEPT}, timeout=30) as c:
        yield c


def test_needs_credentials(registry_env: Env) -> None:
    url = f"http://{registry_env.registry}/v2/edgesync/busybox/manifests/multi"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, auth=(registry_env.registry_user, "wrong")).status_code == 401


def test_missing_tag_is_404(client: httpx.Client) -> None:
    assert client.get("/manifests/missing").status_code == 404


@pytest.mark.parametrize(
    ("tag", "index_type", "child_type"),
    [
        ("multi", images.OCI_INDEX, images.OCI_MANIFEST),
        ("list", images.DOCKER_LIST, images.DOCKER_MANIFEST),
    ],
)
def test_index_holds_both_arches_with_matching_binaries(
    client: httpx.Client, registry_env: Env, tag: str, index_type: str, child_type: str
) -> None:
    response = client.get(f"/manifests/{tag}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == index_type
    assert response.headers["Docker-Content-Digest"] == registry_env.registry_images[tag]
    entries = {m["platform"]["architecture"]: m for m in response.json()["manifests"]}
    assert set(entries) == {"amd64", "arm64"}
    for arch, entry in entries.items():
        assert entry["mediaType"] == child_type
        manifest = client.get(f"/manifests/{entry['digest']}")
        assert manifest.status_code == 200
        assert images.sha256(manifest.content) == entry["digest"]
        body = manifest.json()
        config = json.loads(client.get(f"/blobs/{body['config']['digest']}").content)
        assert (config["architecture"], config["os"]) == (arch, "linux")
        layer = client.get(f"/blobs/{body['layers'][0]['digest']}").content
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
            member = tar.extractfile("bin/busybox")
            assert member is not None
            elf = member.read(20)
        assert elf[:4] == b"\x7fELF"
        assert int.from_bytes(elf[18:20], "little") == ELF_MACHINE[arch]


def test_amd64_only_is_a_single_manifest(client: httpx.Client, registry_env: Env) -> None:
    response = client.get("/manifests/amd64-only")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == images.DOCKER_MANIFEST
    assert response.headers["Docker-Content-Digest"] == registry_env.registry_images["amd64-only"]
