"""Real multi-arch busybox images, assembled from Debian's busybox-static packages and pushed
through the registry's HTTP API.

Layers are byte-for-byte reproducible (fixed mtimes, owners and gzip header), so the same
packages always give the same digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

CREATED = "2024-01-01T00:00:00Z"
REPOSITORY = "edgesync/busybox"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass(frozen=True)
class ArchImage:
    """One platform's image: a single busybox layer and its config."""

    arch: str
    layer: bytes  # gzip-compressed tar
    config: bytes

    def platform(self) -> dict[str, str]:
        # Real arm64 images carry the v8 variant in their platform; clients must cope.
        extra = {"variant": "v8"} if self.arch == "arm64" else {}
        return {"architecture": self.arch, "os": "linux", **extra}

    def manifest(self, oci: bool) -> bytes:
        return canonical(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
                "config": {
                    "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
                    "digest": sha256(self.config),
                    "size": len(self.config),
                },
                "layers": [
                    {
                        "mediaType": OCI_LAYER if oci else DOCKER_LAYER,
                        "digest": sha256(self.layer),
                        "size": len(self.layer),
                    }
                ],
            }
        )


def busybox_binary(deb: Path) -> bytes:
    """The static busybox from a busybox-static .deb, without installing it."""
    fs_tar = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(fs_tar)) as tar:
        member = tar.extractfile("./bin/busybox")
        if member is None:
            raise FileNotFoundError(f"no ./bin/busybox in {deb}")
        return member.read()


def _tar_entry(name: str, kind: bytes, mode: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, link
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
    return info


def build_image(arch: str, busybox: bytes, source: str) -> ArchImage:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(_tar_entry("bin", tarfile.DIRTYPE, 0o755))
        binary = _tar_entry("bin/busybox", tarfile.REGTYPE, 0o755, len(busybox))
        tar.addfile(binary, io.BytesIO(busybox))
        tar.addfile(_tar_entry("bin/sh", tarfile.SYMTYPE, 0o777, link="busybox"))
    diff_id = sha256(raw.getvalue())
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = {
        "architecture": arch,
        "os": "linux",
        **({"variant": "v8"} if arch == "arm64" else {}),
        "created": CREATED,
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": CREATED, "created_by": f"edgesync testenv: {source}"}],
    }
    return ArchImage(arch, layer, canonical(config))


def index(images: list[tuple[ArchImage, bytes]], oci: bool) -> bytes:
    """An OCI image index or a Docker manifest list over (image, its manifest) pairs."""
    child_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
    entries = [
        {"mediaType": child_type, "digest": sha256(m), "size": len(m), "platform": img.platform()}
        for img, m in images
    ]
    return canonical(
        {"schemaVersion": 2, "mediaType": OCI_INDEX if oci else DOCKER_LIST, "manifests": entries}
    )


class Pusher:
    """Just enough of the distribution API to push blobs and manifests."""

    def __init__(self, registry: str, user: str, password: str) -> None:
        self.base = f"http://{registry}"
        self.client = httpx.Client(auth=(user, password), timeout=60)

    def __enter__(self) -> Pusher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def blob(self, repo: str, data: bytes) -> str:
        digest = sha256(data)
        if self.client.head(f"{self.base}/v2/{repo}/blobs/{digest}").status_code == 200:
            return digest
        start = self.client.post(f"{self.base}/v2/{repo}/blobs/uploads/")
        start.raise_for_status()
        location = httpx.URL(self.base).join(start.headers["Location"])
        done = self.client.put(
            location.copy_merge_params({"digest": digest}),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        done.raise_for_status()
        return digest

    def manifest(self, repo: str, ref: str, media_type: str, body: bytes) -> str:
        response = self.client.put(
            f"{self.base}/v2/{repo}/manifests/{ref}",
            content=body,
            headers={"Content-Type": media_type},
        )
        response.raise_for_status()
        return sha256(body)


def seed_busybox(
    registry: str, user: str, password: str, debs: dict[str, Path]
) -> dict[str, str]:
    """Push `:multi` (OCI index), `:list` (Docker list) and `:amd64-only`; returns digests
    by name: "multi", "multi/amd64", "multi/arm64", "list", "list/amd64", ..."""
    images = [build_image(arch, busybox_binary(deb), deb.name) for arch, deb in debs.items()]
    digests: dict[str, str] = {}
    with Pusher(registry, user, password) as push:
        for img in images:
            push.blob(REPOSITORY, img.layer)
            push.blob(REPOSITORY, img.config)
        for tag, oci in (("multi", True), ("list", False)):
            children = []
            for img in images:
                body = img.manifest(oci)
                media = OCI_MANIFEST if oci else DOCKER_MANIFEST
                digests[f"{tag}/{img.arch}"] = push.manifest(REPOSITORY, sha256(body), media, body)
                children.append((img, body))
            body = index(children, oci)
            digests[tag] = push.manifest(REPOSITORY, tag, OCI_INDEX if oci else DOCKER_LIST, body)
        amd64 = next(img for img in images if img.arch == "amd64")
        body = amd64.manifest(oci=False)
        digests["amd64-only"] = push.manifest(REPOSITORY, "amd64-only", DOCKER_MANIFEST, body)
    return digests
