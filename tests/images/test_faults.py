"""Registry faults the real registry cannot produce on demand.

These use a small in-process HTTP server speaking just enough of the distribution API,
because distribution never serves garbage JSON, a body that does not match its own
digest header, an oversized manifest, or 429/503 with Retry-After. Everything else is
tested against the real registry (test_registry.py).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent.images import (
    ClientOptions,
    DigestMismatchError,
    ManifestInvalidError,
    ManifestTooLargeError,
    PlatformNotFoundError,
    RateLimitedError,
    RegistryError,
    RegistryPool,
    Resolver,
    RetryPolicy,
    parse_platform,
    parse_reference,
)
from agent.images._store import ManifestStore

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def sha(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Send this many bytes of filler after the body without a Content-Length (chunked-ish).
    stream_extra: int = 0


@dataclass
class FakeRegistry:
    routes: dict[str, list[Reply]] = field(default_factory=dict)
    hits: list[tuple[str, str, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def on(self, method: str, path: str, *replies: Reply) -> None:
        self.routes[f"{method} {path}"] = list(replies)

    def next_reply(self, method: str, path: str) -> Reply:
        with self.lock:
            self.hits.append((method, path, time.monotonic()))
            replies = self.routes.get(f"{method} {path}")
            if not replies:
                return Reply(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"nope"}]}')
            return replies.pop(0) if len(replies) > 1 else replies[0]


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    registry = FakeRegistry()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, head: bool) -> None:
            reply = registry.next_reply(self.command, self.path)
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            if reply.stream_extra:
                self.send_header("Connection", "close")
                self.end_headers()
                if not head:
                    self.wfile.write(reply.body)
                    chunk = b" " * 65536
                    sent = 0
                    try:
                        while sent < reply.stream_extra:
                            self.wfile.write(chunk)
                            sent += len(chunk)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if not head:
                self.wfile.write(reply.body)

        def do_GET(self) -> None:
            self._serve(head=False)

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    registry.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield registry
    server.shutdown()


FAST = RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.05, max_retry_after=2.0)


def resolver(fake: FakeRegistry, platform: str = "linux/arm64",
             max_bytes: int = 4 * 1024 * 1024, store: ManifestStore | None = None) -> Resolver:
    pool = RegistryPool(options=ClientOptions(insecure_http=True, retry=FAST,
                                              max_manifest_bytes=max_bytes, timeout=5))
    return Resolver(pool, parse_platform(platform), store=store)


def warm_store(directory: Path, *bodies: bytes) -> ManifestStore:
    """A manifest store that already holds something, so the resolver HEADs first."""
    seed = ManifestStore(directory)
    for body in bodies or (b"{}",):
        seed.put(sha(body), body)
    return ManifestStore(directory)


def ref(fake: FakeRegistry, tag: str = "v1") -> str:
    return f"127.0.0.1:{fake.port}/team/app:{tag}"


def index_body(*platforms: tuple[str, str], child: str = "sha256:" + "c" * 64) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": child, "size": 100,
         "platform": {"os": os_name, "architecture": arch}} for os_name, arch in platforms
    ]}).encode()


def serve_manifest(fake: FakeRegistry, body: bytes, *, header_digest: str | None = None,
                   content_type: str = OCI_INDEX, get: Reply | None = None) -> str:
    digest = header_digest or sha(body)
    headers = {"Docker-Content-Digest": digest, "Content-Type": content_type}
    fake.on("HEAD", "/v2/team/app/manifests/v1", Reply(200, b"", headers))
    fake.on("GET", f"/v2/team/app/manifests/{digest}", get or Reply(200, body, headers))
    fake.on("GET", "/v2/team/app/manifests/v1", get or Reply(200, body, headers))
    return digest


def test_a_good_index_resolves(fake: FakeRegistry, tmp_path: Path) -> None:
    child = "sha256:" + "d" * 64
    body = index_body(("linux", "amd64"), ("linux", "arm64"), child=child)
    digest = serve_manifest(fake, body)
    # Nothing stored: one GET by tag, checked against the digest header.
    r = resolver(fake, store=ManifestStore(tmp_path)).resolve(parse_reference(ref(fake)))
    assert (r.digest, r.index_digest) == (child, digest)
    assert [(m, p) for m, p, _ in fake.hits] == [("GET", "/v2/team/app/manifests/v1")]
    # Now stored: a new resolver (a later revision) HEADs the tag and downloads nothing.
    fake.hits.clear()
    r = resolver(fake, store=ManifestStore(tmp_path)).resolve(parse_reference(ref(fake)))
    assert (r.digest, r.index_digest) == (child, digest)
    assert [(m, p) for m, p, _ in fake.hits] == [("HEAD", "/v2/team/app/manifests/v1")]
    # A damaged stored copy is noticed, dropped and fetched again by digest.
    (tmp_path / digest.replace(":", "-")).write_bytes(body + b" ")
    fake.hits.clear()
    r = resolver(fake, store=ManifestStore(tmp_path)).resolve(parse_reference(ref(fake)))
    assert r.digest == child
    assert [m for m, _, _ in fake.hits] == ["HEAD", "GET"]
    assert (tmp_path / digest.replace(":", "-")).read_bytes() == body


@pytest.mark.parametrize("garbage", [b"<html>oops</html>", b"[1, 2]", b'{"mediaType": 7}',
                                     b"\xff\xfe", b'{"schemaVersion": 2, "manifests": "no"}'])
def test_garbage_json_is_an_invalid_manifest(fake: FakeRegistry, garbage: bytes) -> None:
    serve_manifest(fake, garbage)
    with pytest.raises(ManifestInvalidError) as info:
        resolver(fake).resolve(parse_reference(ref(fake)))
    assert ref(fake) in str(info.value)


def test_schema1_is_refused_with_a_hint(fake: FakeRegistry) -> None:
    serve_manifest(fake, json.dumps({"schemaVersion": 1, "name": "team/app"}).encode(),
                   content_type="application/vnd.docker.distribution.manifest.v1+prettyjws")
    with pytest.raises(ManifestInvalidError, match="schema 1"):
        resolver(fake).resolve(parse_reference(ref(fake)))


def test_header_digest_that_does_not_match_the_body(fake: FakeRegistry) -> None:
    body = index_body(("linux", "arm64"))
    lie = "sha256:" + "e" * 64
    # HEAD and GET both claim `lie`, but the bytes hash to something else.
    serve_manifest(fake, body, header_digest=lie)
    with pytest.raises(DigestMismatchError, match="hashes to " + sha(body)):
        resolver(fake).resolve(parse_reference(ref(fake)))


def test_body_that_does_not_match_the_requested_digest(fake: FakeRegistry,
                                                       tmp_path: Path) -> None:
    body = index_body(("linux", "arm64"))
    other = index_body(("linux", "amd64"))
    # A consistent header, but for other bytes than the digest HEAD promised.
    serve_manifest(fake, body, get=Reply(200, other, {"Docker-Content-Digest": sha(other),
                                                       "Content-Type": OCI_INDEX}))
    with pytest.raises(DigestMismatchError, match="asked for " + sha(body)):
        resolver(fake, store=warm_store(tmp_path)).resolve(parse_reference(ref(fake)))


def test_oversized_manifest_announced(fake: FakeRegistry) -> None:
    body = index_body(("linux", "arm64")) + b" " * 5000
    serve_manifest(fake, body)
    with pytest.raises(ManifestTooLargeError, match="announced"):
        resolver(fake, max_bytes=4096).resolve(parse_reference(ref(fake)))


def test_oversized_manifest_streamed_is_cut_off(fake: FakeRegistry) -> None:
    body = index_body(("linux", "arm64"))
    # No Content-Length and 64 MiB of padding: the client must stop at its limit.
    serve_manifest(fake, body, get=Reply(200, body, {"Content-Type": OCI_INDEX},
                                         stream_extra=64 * 1024 * 1024))
    start = time.monotonic()
    with pytest.raises(ManifestTooLargeError, match="stopped reading"):
        resolver(fake, max_bytes=1024 * 1024).resolve(parse_reference(ref(fake)))
    assert time.monotonic() - start < 5


def test_index_without_the_node_platform(fake: FakeRegistry) -> None:
    serve_manifest(fake, index_body(("linux", "amd64"), ("windows", "arm64"),
                                    ("unknown", "unknown")))
    with pytest.raises(PlatformNotFoundError) as info:
        resolver(fake, "linux/arm64").resolve(parse_reference(ref(fake)))
    assert "offers linux/amd64, windows/arm64" in str(info.value)


def test_429_with_retry_after_is_honoured(fake: FakeRegistry, tmp_path: Path) -> None:
    body = index_body(("linux", "arm64"))
    digest = sha(body)
    headers = {"Docker-Content-Digest": digest, "Content-Type": OCI_INDEX}
    fake.on("HEAD", "/v2/team/app/manifests/v1", Reply(429, b"", {"Retry-After": "1"}),
            Reply(200, b"", headers))
    fake.on("GET", f"/v2/team/app/manifests/{digest}", Reply(503, b""), Reply(200, body, headers))
    resolution = resolver(fake, store=warm_store(tmp_path)).resolve(parse_reference(ref(fake)))
    assert resolution.index_digest == digest
    heads = [t for m, _, t in fake.hits if m == "HEAD"]
    assert len(heads) == 2
    assert heads[1] - heads[0] >= 0.95, "Retry-After: 1 must be waited out"
    assert [m for m, _, _ in fake.hits].count("GET") == 2


def test_429_forever_and_too_long_retry_after(fake: FakeRegistry) -> None:
    fake.on("GET", "/v2/team/app/manifests/v1", Reply(429, b"", {"Retry-After": "0"}))
    with pytest.raises(RateLimitedError, match="429"):
        resolver(fake).resolve(parse_reference(ref(fake)))
    assert len(fake.hits) == FAST.attempts
    fake.hits.clear()
    fake.on("GET", "/v2/team/app/manifests/v1", Reply(429, b"", {"Retry-After": "3600"}))
    start = time.monotonic()
    with pytest.raises(RateLimitedError, match="retry after 3600s"):
        resolver(fake).resolve(parse_reference(ref(fake)))
    assert time.monotonic() - start < 1
    assert len(fake.hits) == 1


def test_server_errors_exhaust_retries(fake: FakeRegistry) -> None:
    fake.on("GET", "/v2/team/app/manifests/v1", Reply(502, b""))
    with pytest.raises(RegistryError, match="HTTP 502"):
        resolver(fake).resolve(parse_reference(ref(fake)))
    assert len(fake.hits) == FAST.attempts


def test_single_manifest_config_is_verified(fake: FakeRegistry) -> None:
    config = json.dumps({"os": "linux", "architecture": "arm64"}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config),
        "size": len(config)}, "layers": []}).encode()
    serve_manifest(fake, manifest, content_type=OCI_MANIFEST)
    fake.on("GET", f"/v2/team/app/blobs/{sha(config)}", Reply(200, config))
    r = resolver(fake, "linux/arm64/v8").resolve(parse_reference(ref(fake)))
    assert (r.digest, r.platform, r.index_digest) == (sha(manifest), "linux/arm64", None)
    # A config blob whose bytes are not what the manifest names is refused.
    fake.on("GET", f"/v2/team/app/blobs/{sha(config)}", Reply(200, config + b" "))
    with pytest.raises(DigestMismatchError):
        resolver(fake, "linux/arm64").resolve(parse_reference(ref(fake)))


def test_artifact_that_is_not_an_image(fake: FakeRegistry) -> None:
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {
        "mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": "sha256:" + "1" * 64,
        "size": 10}, "layers": []}).encode()
    serve_manifest(fake, manifest, content_type=OCI_MANIFEST)
    with pytest.raises(ManifestInvalidError, match="not a container image"):
        resolver(fake).resolve(parse_reference(ref(fake)))


def test_many_tags_sharing_an_index_download_it_once(fake: FakeRegistry,
                                                     tmp_path: Path) -> None:
    body = index_body(("linux", "arm64"))
    digest = sha(body)
    headers = {"Docker-Content-Digest": digest, "Content-Type": OCI_INDEX}
    for tag in ("a", "b", "c"):
        fake.on("HEAD", f"/v2/team/app/manifests/{tag}", Reply(200, b"", headers))
    fake.on("GET", f"/v2/team/app/manifests/{digest}", Reply(200, body, headers))
    res = resolver(fake, store=warm_store(tmp_path))
    for tag in ("a", "b", "c"):
        res.resolve(parse_reference(ref(fake, tag)))
    methods: Callable[[str], int] = lambda m: sum(1 for h in fake.hits if h[0] == m)  # noqa: E731
    assert (methods("HEAD"), methods("GET")) == (3, 1)
