"""Resolving one reference to the digest a node of a given platform will run.

HEAD comes before GET whenever the GET might be avoidable: for a digest
reference whose manifest is already stored, and for tags once the on-disk
manifest store holds anything (a new revision whose tags did not move then
costs one HEAD per image, which pull quotas do not count). With nothing stored
a HEAD could save nothing, so the manifest is fetched directly and its body
checked against the registry's `Docker-Content-Digest`. Manifests are
content-addressed, so an in-memory cache by digest also lets many tags that
share an index cost one download. For an index/list the node's entry is
picked; for a single-platform image the config blob says which platform it is
built for.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

from agent.images._client import Fetched, RegistryClient, RegistryPool
from agent.images._errors import DigestMismatchError, ManifestInvalidError, PlatformNotFoundError
from agent.images._manifest import (
    IMAGE_CONFIG_TYPES,
    INDEX_TYPES,
    Index,
    Manifest,
    parse_config_platform,
    parse_manifest,
)
from agent.images._platform import Platform, select
from agent.images._reference import ImageRef
from agent.images._store import ManifestStore

PinMode = Literal["platform", "index"]


@dataclass(frozen=True)
class Resolution:
    """What one reference resolved to for one platform."""

    ref: ImageRef
    pinned: ImageRef
    digest: str
    platform: str
    index_digest: str | None


class Resolver:
    """Resolves references through a `RegistryPool`; safe to share between threads."""

    def __init__(self, pool: RegistryPool, platform: Platform, pin: PinMode = "platform",
                 store: ManifestStore | None = None):
        self.pool = pool
        self.platform = platform
        self.pin = pin
        self.store = store
        self._manifests: dict[str, Index | Manifest] = {}
        self._lock = threading.Lock()

    def _known(self, digest: str) -> Index | Manifest | None:
        with self._lock:
            found = self._manifests.get(digest)
        if found is None and self.store is not None:
            body = self.store.get(digest)
            if body is not None:
                found = parse_manifest(body, None)
                with self._lock:
                    self._manifests[digest] = found
        return found

    def resolve(self, ref: ImageRef) -> Resolution:
        client = self.pool.client(ref.domain)
        stored = self.store is not None and self.store.has_content
        if (ref.digest and self._known(ref.digest) is not None) or (not ref.digest and stored):
            head = client.head_manifest(ref.repository, ref.manifest_reference)
            if ref.digest and head.digest and head.digest != ref.digest:
                raise DigestMismatchError(f"registry answered {head.digest} for a digest "
                                          "reference", where=str(ref))
            digest = head.digest or ref.digest
        else:
            digest = ref.digest
        manifest, digest = self._manifest(client, ref, digest)
        if isinstance(manifest, Index):
            return self._from_index(client, ref, manifest, digest)
        return self._from_manifest(client, ref, manifest, digest)

    def _manifest(self, client: RegistryClient, ref: ImageRef,
                  digest: str | None) -> tuple[Index | Manifest, str]:
        if digest is not None:
            cached = self._known(digest)
            if cached is not None:
                return cached, digest
            fetched = client.get_manifest(ref.repository, digest, expected_digest=digest)
        else:
            # By tag: the body is hashed and must match the registry's digest header.
            fetched = client.get_manifest(ref.repository, ref.manifest_reference)
        parsed = _parse(fetched, ref)
        with self._lock:
            self._manifests[fetched.digest] = parsed
        if self.store is not None:
            self.store.put(fetched.digest, fetched.body)
        return parsed, fetched.digest

    def _from_index(self, client: RegistryClient, ref: ImageRef, index: Index,
                    digest: str) -> Resolution:
        entries = [e for e in index.manifests if e.platform is not None
                   and e.media_type not in INDEX_TYPES]
        platforms = [e.platform for e in entries if e.platform is not None]
        chosen = select(self.platform, platforms)
        if chosen is None:
            offered = sorted({str(p) for p in platforms
                              if p.os != "unknown" and p.architecture != "unknown"})
            raise PlatformNotFoundError(f"no manifest for {self.platform} in the index "
                                        f"(offers {', '.join(offered) or 'nothing usable'})",
                                        where=str(ref))
        entry = entries[chosen]
        pinned_digest = digest if self.pin == "index" else entry.digest
        return Resolution(ref=ref, pinned=ref.with_digest(pinned_digest), digest=entry.digest,
                          platform=str(platforms[chosen]), index_digest=digest)

    def _from_manifest(self, client: RegistryClient, ref: ImageRef, manifest: Manifest,
                       digest: str) -> Resolution:
        if manifest.config.media_type not in IMAGE_CONFIG_TYPES:
            raise ManifestInvalidError(f"not a container image (config media type "
                                       f"{manifest.config.media_type!r})", where=str(ref))
        config = client.get_blob(ref.repository, manifest.config.digest)
        built_for = parse_config_platform(config)
        if select(self.platform, [built_for]) is None:
            raise PlatformNotFoundError(f"single-platform image built for {built_for}, node is "
                                        f"{self.platform}", where=str(ref))
        return Resolution(ref=ref, pinned=ref.with_digest(digest), digest=digest,
                          platform=str(built_for), index_digest=None)


def _parse(fetched: Fetched, ref: ImageRef) -> Index | Manifest:
    try:
        return parse_manifest(fetched.body, fetched.media_type)
    except ManifestInvalidError as exc:
        raise ManifestInvalidError(exc.message, where=str(ref)) from None
