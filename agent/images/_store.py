"""A content-addressed store of manifests on disk (`<cache_dir>/manifests/sha256-<hex>`).

Manifests never change under a digest, so one fetched for an earlier revision
serves every later one: a new revision whose tags did not move costs one HEAD
per image (which registries such as Docker Hub do not count against pull
limits) and no manifest download. Every read is re-hashed; a damaged file is
deleted and fetched again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

log = logging.getLogger("edgesync.images")

KEEP_MANIFESTS = 4096


class ManifestStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # Decided once: the resolver only pays for HEAD-before-GET when the store can
        # answer the GET (see Resolver.resolve).
        self.has_content = directory.is_dir() and any(directory.iterdir())
        self._made = self.has_content

    def _path(self, digest: str) -> Path:
        algorithm, _, encoded = digest.partition(":")
        return self.directory / f"{algorithm}-{encoded}"

    def get(self, digest: str) -> bytes | None:
        path = self._path(digest)
        try:
            body = path.read_bytes()
        except OSError:
            return None
        algorithm = digest.partition(":")[0]
        if f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}" != digest:
            log.warning("discarding damaged stored manifest %s", path)
            path.unlink(missing_ok=True)
            return None
        return body

    def put(self, digest: str, body: bytes) -> None:
        target = self._path(digest)
        # Unique per thread and digest, so no random name (mkstemp) is needed: a
        # pre-flight stores a hundred manifests while the registry wants the CPU.
        tmp = target.with_name(f".tmp-{os.getpid()}-{threading.get_ident()}-{target.name}")
        try:
            if not self._made:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._made = True
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(body)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except OSError as exc:
            # The store only saves requests; failing to write it must not fail the cycle.
            log.warning("cannot store manifest %s: %s", digest, exc)

    def prune(self, keep: int = KEEP_MANIFESTS) -> None:
        try:
            files = [p for p in self.directory.iterdir() if not p.name.startswith(".")]
            if len(files) <= keep:
                return  # the common case: no need to stat every file
            files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        except OSError:
            return
        for old in files[keep:]:
            old.unlink(missing_ok=True)
