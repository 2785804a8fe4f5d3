"""A small OCI distribution client on httpx: manifests and blobs, verified and bounded.

One `RegistryClient` per registry host keeps one `httpx.Client` (so threads
share its connection pool and its tokens). Every download is streamed and
stops at the size limit, every body is hashed and compared with both the
`Docker-Content-Digest` header and the digest asked for, and 429/5xx answers
and dropped connections are retried with tenacity, honouring `Retry-After`.
Requests go through `StdlibTransport` (http.client, see _transport.py); the
transport is injectable (`httpx.BaseTransport`), which is the seam for unix
sockets or a recording transport.
"""

from __future__ import annotations

import email.utils
import functools
import hashlib
import json
import os
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from agent.errors import ConfigError
from agent.images._auth import RegistryAuth
from agent.images._credentials import Credential, Credentials
from agent.images._errors import (
    DigestMismatchError,
    ForbiddenError,
    ManifestTooLargeError,
    ManifestUnknownError,
    RateLimitedError,
    RegistryError,
    RegistryUnreachableError,
    UnauthorizedError,
)
from agent.images._manifest import ACCEPT, media_type_of
from agent.images._transport import StdlibTransport

if TYPE_CHECKING:
    from tenacity import RetryCallState

DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024
_ERROR_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `attempts` in total, exponential backoff unless `Retry-After` says."""

    attempts: int = 4
    backoff: float = 0.2
    max_backoff: float = 5.0
    # A registry asking for a longer pause than this fails now instead of stalling the cycle.
    max_retry_after: float = 30.0


@dataclass(frozen=True)
class Head:
    media_type: str
    digest: str | None
    size: int | None


@dataclass(frozen=True)
class Fetched:
    media_type: str
    digest: str
    body: bytes


class RequestCounter:
    """Counts HTTP requests (auth and token requests included) across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __call__(self, request: httpx.Request) -> None:
        with self._lock:
            self.count += 1


class _RetryableError(Exception):
    def __init__(self, final: RegistryError, retry_after: float | None = None):
        super().__init__(str(final))
        self.final = final
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def digest_of(body: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"


@dataclass
class ClientOptions:
    insecure_http: bool = False
    ca_file: str | None = None
    timeout: float = 10.0
    max_manifest_bytes: int = DEFAULT_MAX_MANIFEST_BYTES
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    pool_size: int = 16
    transport: Callable[[], httpx.BaseTransport] | None = None
    user_agent: str = "edgesync"


# References name Docker Hub `docker.io`, but its registry API is served elsewhere.
DOCKER_HUB_API_HOST = "registry-1.docker.io"


def api_host(domain: str) -> str:
    """The host serving the registry API for a reference's domain."""
    return DOCKER_HUB_API_HOST if domain in ("docker.io", "index.docker.io") else domain


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """The verifying TLS context for `ca_file` (None: httpx's defaults).

    Loading a CA store is the costly part of a client, so contexts are shared by every
    registry client of the process, and built again only when the CA file changes.
    """
    stamp: tuple[int, int] | None = None
    if ca_file is not None:
        try:
            st = os.stat(ca_file)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            pass  # loading it reports why
    return _tls_context(ca_file, stamp)


@functools.lru_cache(maxsize=8)
def _tls_context(ca_file: str | None, stamp: tuple[int, int] | None) -> ssl.SSLContext:
    if ca_file is None:
        return httpx.create_ssl_context()
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load CA certificates: {exc}",
                          where=f"images.ca_file {ca_file}") from None


class RegistryClient:
    """Manifest and blob reads against one registry host."""

    def __init__(self, host: str, *, credential: Credential | None = None,
                 options: ClientOptions | None = None,
                 counter: RequestCounter | None = None) -> None:
        self.host = host
        self.options = options or ClientOptions()
        scheme = "http" if self.options.insecure_http else "https"
        self.base_url = f"{scheme}://{api_host(host)}"
        self.auth = RegistryAuth(host, credential)
        self.counter = counter or RequestCounter()
        transport: httpx.BaseTransport
        if self.options.transport is not None:
            transport = self.options.transport()
        elif self.options.insecure_http:
            # Loading a CA store costs 20-40 ms; a plain-HTTP registry needs one only if it
            # redirects to https (blob storage), so it is built when that happens.
            ca_file = self.options.ca_file
            transport = StdlibTransport(ssl_context=lambda: tls_context(ca_file),
                                        max_idle=self.options.pool_size)
        else:
            context = tls_context(self.options.ca_file)
            transport = StdlibTransport(ssl_context=lambda: context,
                                        max_idle=self.options.pool_size)
        self._http = httpx.Client(
            auth=self.auth, timeout=self.options.timeout, follow_redirects=True,
            event_hooks={"request": [self.counter]}, transport=transport,
            headers={"User-Agent": self.options.user_agent})

    def close(self) -> None:
        self._http.close()

    # -- public reads ------------------------------------------------------------------

    def ping(self) -> None:
        """`GET /v2/` once, so later requests carry the right credentials up front.

        Raises only what makes every request to this host fail: unreachable, or a 401
        that is not a token challenge (no or wrong credentials).
        """
        try:
            self._send("GET", "/v2/", {}, what=f"{self.host}/v2/", limit=_ERROR_BODY_LIMIT)
        except UnauthorizedError:
            if not self.auth.knows_bearer_realm:
                raise
        except (RegistryUnreachableError, ForbiddenError):
            raise
        except RegistryError:
            pass  # some proxies do not serve /v2/; the real requests will tell

    def head_manifest(self, repository: str, reference: str) -> Head:
        """Digest, media type and size of a manifest without downloading it."""
        what = _what(self.host, repository, reference)
        response, _ = self._send("HEAD", f"/v2/{repository}/manifests/{reference}",
                                 {"Accept": ACCEPT}, what=what)
        length = response.headers.get("Content-Length")
        return Head(media_type=media_type_of(response.headers.get("Content-Type")),
                    digest=response.headers.get("Docker-Content-Digest") or None,
                    size=int(length) if length and length.isdigit() else None)

    def get_manifest(self, repository: str, reference: str,
                     expected_digest: str | None = None) -> Fetched:
        """The manifest bytes, hashed and checked against the header and `expected_digest`."""
        what = _what(self.host, repository, reference)
        response, body = self._send("GET", f"/v2/{repository}/manifests/{reference}",
                                    {"Accept": ACCEPT}, what=what,
                                    limit=self.options.max_manifest_bytes)
        digest = self._verify(body, response.headers.get("Docker-Content-Digest"),
                              expected_digest, what)
        return Fetched(media_type=media_type_of(response.headers.get("Content-Type")),
                       digest=digest, body=body)

    def get_blob(self, repository: str, digest: str, limit: int | None = None) -> bytes:
        """A (small) blob such as an image config, checked against its digest."""
        what = f"blob {digest} in {self.host}/{repository}"
        _, body = self._send("GET", f"/v2/{repository}/blobs/{digest}", {}, what=what,
                             limit=limit or self.options.max_manifest_bytes)
        # Blob redirects (S3, CDN) carry the storage's headers: trust only the hash.
        self._verify(body, None, digest, what)
        return body

    # -- plumbing ----------------------------------------------------------------------

    def _verify(self, body: bytes, header: str | None, expected: str | None, what: str) -> str:
        algorithm = (expected or header or "sha256:").split(":", 1)[0]
        if algorithm not in ("sha256", "sha384", "sha512"):
            algorithm = "sha256"
        actual = digest_of(body, algorithm)
        if header and header.split(":", 1)[0] == algorithm and header != actual:
            raise DigestMismatchError(f"registry says {header} but the body hashes to {actual}",
                                      where=what, action="download discarded")
        if expected and expected != actual:
            raise DigestMismatchError(f"asked for {expected} but the body hashes to {actual}",
                                      where=what, action="download discarded")
        return actual

    def _send(self, method: str, path: str, headers: dict[str, str], *, what: str,
              limit: int = 0) -> tuple[httpx.Response, bytes]:
        # The first try runs bare: building a tenacity loop costs more CPU than the request
        # itself on a healthy registry, so tenacity takes over only once a try has failed.
        try:
            return self._send_once(method, path, headers, what=what, limit=limit)
        except _RetryableError as exc:
            first = exc
        policy = self.options.retry
        if policy.attempts <= 1:
            raise first.final from None
        from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

        retrying = Retrying(stop=stop_after_attempt(policy.attempts - 1),
                            wait=self._wait, retry=retry_if_exception_type(_RetryableError),
                            reraise=True)
        time.sleep(self._delay(first, 1))
        try:
            for attempt in retrying:
                with attempt:
                    return self._send_once(method, path, headers, what=what, limit=limit)
        except _RetryableError as exc:
            raise exc.final from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        # Attempt n of the tenacity loop is attempt n + 1 overall (the bare first try).
        return self._delay(exc, state.attempt_number + 1)

    def _delay(self, exc: BaseException | None, failed_attempt: int) -> float:
        policy = self.options.retry
        if isinstance(exc, _RetryableError) and exc.retry_after is not None:
            return exc.retry_after
        return float(min(policy.max_backoff, policy.backoff * 2 ** (failed_attempt - 1)))

    def _send_once(self, method: str, path: str, headers: dict[str, str], *, what: str,
                   limit: int) -> tuple[httpx.Response, bytes]:
        url = self.base_url + path
        try:
            with self._http.stream(method, url, headers=headers) as response:
                self._check_status(response, what)
                body = _read_limited(response, limit, what) if method == "GET" else b""
                return response, body
        except httpx.TransportError as exc:
            message = str(exc) or type(exc).__name__
            if "CERTIFICATE_VERIFY_FAILED" in message or "SSL" in message:
                raise RegistryUnreachableError(
                    f"TLS handshake failed ({message}); set images.ca_file to the registry's "
                    "CA, or images.insecure_http for a plain-HTTP lab registry",
                    where=self.host) from None
            raise _RetryableError(RegistryUnreachableError(f"{type(exc).__name__}: {message}",
                                                 where=self.base_url)) from None

    def _check_status(self, response: httpx.Response, what: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        policy = self.options.retry
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if status == 429:
                final: RegistryError = RateLimitedError(
                    "registry keeps answering 429 Too Many Requests"
                    + (f" (Retry-After {retry_after:.0f}s)" if retry_after else ""), where=what)
            else:
                final = RegistryError(f"registry answered HTTP {status}", where=what)
            if retry_after is not None and retry_after > policy.max_retry_after:
                raise RateLimitedError(f"registry asks to retry after {retry_after:.0f}s, longer "
                                       f"than the {policy.max_retry_after:.0f}s the agent waits",
                                       where=what)
            raise _RetryableError(final, retry_after)
        detail = _error_detail(response)
        if status == 401:
            hint = ("credentials were rejected" if self.auth.credential is not None
                    else f"no credentials configured for {self.host} (set images.username/"
                         "password_file or a Docker config.json)")
            raise UnauthorizedError(f"401 Unauthorized: {hint}{detail}", where=what)
        if status == 403:
            raise ForbiddenError(f"403 Forbidden: no pull access{detail}", where=what)
        if status == 404:
            path = response.request.url.path
            thing = ("blob" if "/blobs/" in path else
                     "manifest" if "/manifests/sha" in path else "tag or repository")
            raise ManifestUnknownError(f"{thing} not found (404){detail}", where=what)
        raise RegistryError(f"registry answered HTTP {status}{detail}", where=what)


def _what(host: str, repository: str, reference: str) -> str:
    sep = "@" if ":" in reference else ":"
    return f"{host}/{repository}{sep}{reference}"


def _error_detail(response: httpx.Response) -> str:
    # Registries explain errors as {"errors": [{"code", "message"}]}; HEAD answers have no body.
    if response.request.method == "HEAD":
        return ""
    try:
        body = _read_limited(response, _ERROR_BODY_LIMIT, "error body")
        errors = json.loads(body).get("errors") or []
        codes = [f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict)]
    except (RegistryError, ValueError, AttributeError, httpx.HTTPError):
        return ""
    return f" ({'; '.join(codes)})" if codes else ""


def _read_limited(response: httpx.Response, limit: int, what: str) -> bytes:
    declared = response.headers.get("Content-Length")
    if limit and declared and declared.isdigit() and int(declared) > limit:
        raise ManifestTooLargeError(f"{declared} bytes announced, limit is {limit}", where=what,
                                    action="not downloaded")
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if limit and total > limit:
            raise ManifestTooLargeError(f"more than {limit} bytes, stopped reading", where=what,
                                        action="download discarded")
        chunks.append(chunk)
    return b"".join(chunks)


class RegistryPool:
    """One client per registry host, created on first use, with one shared request counter."""

    def __init__(self, credentials: Credentials | None = None,
                 options: ClientOptions | None = None) -> None:
        self.credentials = credentials or Credentials()
        self.options = options or ClientOptions()
        self.counter = RequestCounter()
        self._clients: dict[str, RegistryClient] = {}
        self._lock = threading.Lock()

    @property
    def requests(self) -> int:
        return self.counter.count

    def client(self, host: str) -> RegistryClient:
        with self._lock:
            found = self._clients.get(host)
            if found is None:
                found = RegistryClient(host, credential=self.credentials.get(host),
                                       options=self.options, counter=self.counter)
                self._clients[host] = found
            return found

    def close(self) -> None:
        with self._lock:
            for c in self._clients.values():
                c.close()
            self._clients.clear()

    def __enter__(self) -> RegistryPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
