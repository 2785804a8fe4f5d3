"""Manifest documents: the four media types the agent understands, parsed strictly.

Anything else (Docker schema 1, artifacts whose config is not an image
config, JSON that is not an object) is a `ManifestInvalidError` naming what was
received, never a half-parsed value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent.errors import ImageError
from agent.images._errors import ManifestInvalidError
from agent.images._platform import Platform, normalize
from agent.images._reference import check_digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
IMAGE_CONFIG_TYPES = ("application/vnd.oci.image.config.v1+json",
                      "application/vnd.docker.container.image.v1+json")
ACCEPT = ", ".join((*INDEX_TYPES, *MANIFEST_TYPES))


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None


@dataclass(frozen=True)
class Index:
    media_type: str
    manifests: tuple[Descriptor, ...]


@dataclass(frozen=True)
class Manifest:
    media_type: str
    config: Descriptor


def media_type_of(content_type: str | None) -> str:
    """The bare media type of a Content-Type header (parameters dropped)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _load_json(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestInvalidError(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ManifestInvalidError(f"{what} is not a JSON object (got {type(data).__name__})")
    return data


def _descriptor(raw: Any, what: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise ManifestInvalidError(f"{what} is not an object")
    digest = raw.get("digest")
    size = raw.get("size")
    media_type = raw.get("mediaType", "")
    if not isinstance(digest, str):
        raise ManifestInvalidError(f"{what} has no digest")
    try:
        check_digest(digest)
    except ImageError as exc:
        raise ManifestInvalidError(f"{what} has a bad digest: {exc.message}") from None
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestInvalidError(f"{what} has no valid size")
    if not isinstance(media_type, str):
        raise ManifestInvalidError(f"{what} has a non-string mediaType")
    platform = None
    raw_platform = raw.get("platform")
    if isinstance(raw_platform, dict):
        os_name, arch = raw_platform.get("os"), raw_platform.get("architecture")
        variant = raw_platform.get("variant") or ""
        if isinstance(os_name, str) and isinstance(arch, str) and isinstance(variant, str):
            platform = normalize(os_name, arch, variant)
    return Descriptor(media_type=media_type, digest=digest, size=size, platform=platform)


def parse_manifest(body: bytes, content_type: str | None) -> Index | Manifest:
    """Parse an index/list or an image manifest; the body's mediaType wins over the header."""
    data = _load_json(body, "manifest")
    declared = data.get("mediaType")
    media_type = declared if isinstance(declared, str) and declared else \
        media_type_of(content_type)
    if not media_type:
        media_type = OCI_INDEX if "manifests" in data else OCI_MANIFEST
    if data.get("schemaVersion") == 1 or "prettyjws" in media_type:
        raise ManifestInvalidError("Docker schema 1 manifests are not supported; push the image "
                                   "again with a current client")
    if media_type in INDEX_TYPES:
        entries = data.get("manifests")
        if not isinstance(entries, list):
            raise ManifestInvalidError("index has no manifests list")
        return Index(media_type=media_type,
                     manifests=tuple(_descriptor(e, f"index entry {i}")
                                     for i, e in enumerate(entries)))
    if media_type in MANIFEST_TYPES:
        return Manifest(media_type=media_type, config=_descriptor(data.get("config"),
                                                                  "manifest config"))
    raise ManifestInvalidError(f"unsupported manifest media type {media_type!r}")


def parse_config_platform(body: bytes) -> Platform:
    """The platform an image config declares (`os`, `architecture`, `variant`)."""
    data = _load_json(body, "image config")
    os_name, arch = data.get("os"), data.get("architecture")
    variant = data.get("variant") or ""
    if not isinstance(os_name, str) or not isinstance(arch, str) or not isinstance(variant, str):
        raise ManifestInvalidError("image config does not name its os and architecture")
    return normalize(os_name, arch, variant)
