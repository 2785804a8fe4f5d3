"""Registry authentication as an `httpx.Auth`: anonymous, Basic and Bearer-token challenges.

The flow is the one Docker Hub, Harbor and distribution's `token` auth use:
a request answered `401` with `WWW-Authenticate: Bearer realm=...,service=...,
scope=...` is repeated with a token fetched from the realm (with Basic
credentials when the node has some). Once a host's scheme is known, later
requests carry credentials up front: Basic directly, Bearer with the token
cached for that repository scope until shortly before it expires. A cached
token the registry rejects anyway (revoked, clock skew, expired mid-run) is
dropped and fetched again once.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass

import httpx

from agent.images._credentials import Credential
from agent.images._errors import ForbiddenError, RegistryError, UnauthorizedError

_PARAM_RE = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')
_REPOSITORY_PATH_RE = re.compile(r"^/v2/(.+?)/(?:manifests|blobs|tags|referrers)/")
# Token lifetime the distribution spec says to assume when the realm names none.
_DEFAULT_EXPIRES_IN = 60
_EXPIRY_MARGIN = 5.0
_MAX_TOKEN_RESPONSE = 1024 * 1024


@dataclass(frozen=True)
class Challenge:
    scheme: str
    params: dict[str, str]


def parse_challenge(header: str) -> Challenge | None:
    """The first challenge of a `WWW-Authenticate` header (scheme lowercased)."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              .replace('\\"', '"') for m in _PARAM_RE.finditer(rest)}
    return Challenge(scheme=scheme.lower(), params=params)


def scope_for_path(path: str, actions: str = "pull") -> str | None:
    """`repository:<name>:pull` for a `/v2/<name>/...` path; None for `/v2/` itself."""
    match = _REPOSITORY_PATH_RE.match(path)
    return f"repository:{match.group(1)}:{actions}" if match else None


@dataclass
class _Token:
    value: str
    expires_at: float

    def fresh(self) -> bool:
        return time.monotonic() < self.expires_at


class RegistryAuth(httpx.Auth):
    """Authentication state for one registry host, shared by every thread using its client."""

    def __init__(self, host: str, credential: Credential | None) -> None:
        self.host = host
        self.credential = credential
        self._lock = threading.Lock()
        self._scheme: str | None = None
        self._bearer: dict[str, str] | None = None
        self._tokens: dict[tuple[str, str, str], _Token] = {}
        self.tokens_fetched = 0

    @property
    def knows_bearer_realm(self) -> bool:
        return self._bearer is not None

    # -- state shared between threads -------------------------------------------------

    def _token_key(self, params: dict[str, str], scope: str) -> tuple[str, str, str]:
        return (params.get("realm", ""), params.get("service", ""), scope)

    def _cached(self, scope: str | None) -> str | None:
        with self._lock:
            if self._bearer is None or scope is None:
                return None
            token = self._tokens.get(self._token_key(self._bearer, scope))
            return token.value if token is not None and token.fresh() else None

    def _store(self, params: dict[str, str], scope: str, token: _Token) -> None:
        with self._lock:
            self._scheme = "bearer"
            self._bearer = {k: v for k, v in params.items() if k in ("realm", "service")}
            self._tokens[self._token_key(params, scope)] = token
            self.tokens_fetched += 1

    def _drop(self, params: dict[str, str], scope: str) -> None:
        with self._lock:
            self._tokens.pop(self._token_key(params, scope), None)

    # -- the flow ----------------------------------------------------------------------

    def _basic_header(self) -> str:
        assert self.credential is not None
        pair = f"{self.credential.username}:{self.credential.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        scope = scope_for_path(request.url.path)
        sent_token = False
        if self._scheme == "basic" and self.credential is not None:
            request.headers["Authorization"] = self._basic_header()
        elif self._scheme == "bearer" and scope is not None:
            token = self._cached(scope)
            if token is None and self._bearer is not None:
                # The realm is known: fetch this scope's token before the first try
                # instead of paying a 401 round trip for every new repository.
                token = yield from self._fetch_token(dict(self._bearer), scope)
            if token is not None:
                request.headers["Authorization"] = f"Bearer {token}"
                sent_token = True
        response = yield request
        if response.status_code != 401:
            return
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge is None:
            return
        if challenge.scheme == "basic":
            if self.credential is None or "Authorization" in request.headers:
                return
            with self._lock:
                self._scheme = "basic"
            request.headers["Authorization"] = self._basic_header()
            yield request
            return
        if challenge.scheme != "bearer" or "realm" not in challenge.params:
            return
        if scope is None:
            # The `/v2/` ping: remember the realm; tokens are fetched per repository scope.
            with self._lock:
                self._scheme = "bearer"
                self._bearer = {k: v for k, v in challenge.params.items()
                                if k in ("realm", "service")}
            return
        token_scope = challenge.params.get("scope") or scope or ""
        if sent_token:
            self._drop(challenge.params, token_scope)
        token = yield from self._fetch_token(challenge.params, token_scope)
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def _fetch_token(self, params: dict[str, str], scope: str
                     ) -> Generator[httpx.Request, httpx.Response, str]:
        query = {"service": params["service"]} if params.get("service") else {}
        if scope:
            query["scope"] = scope
        realm = params["realm"]
        headers = {}
        if self.credential is not None and self.credential.identity_token is None:
            headers["Authorization"] = self._basic_header()
        if self.credential is not None and self.credential.identity_token is not None:
            # An identity token is an OAuth2 refresh token: exchange it by POST.
            form = {"grant_type": "refresh_token", "client_id": "edgesync",
                    "refresh_token": self.credential.identity_token, **query}
            token_request = httpx.Request("POST", realm, data=form)
        else:
            token_request = httpx.Request("GET", realm, params=query, headers=headers)
        response = yield token_request
        body = _read_limited(response)
        where = f"token realm {realm}"
        if response.status_code == 401:
            raise UnauthorizedError("token service rejected the credentials" if self.credential
                                    else "token service requires credentials (none configured)",
                                    where=where)
        if response.status_code == 403:
            raise ForbiddenError("token service denied access", where=where)
        if response.status_code != 200:
            raise RegistryError(f"token service answered HTTP {response.status_code}",
                                where=where)
        try:
            data = json.loads(body)
            value = data.get("token") or data.get("access_token")
            expires_in = int(data.get("expires_in") or _DEFAULT_EXPIRES_IN)
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, TypeError, ValueError):
            raise RegistryError("token service answered something that is not a token JSON",
                                where=where) from None
        if not isinstance(value, str) or not value:
            raise RegistryError("token service answered without a token", where=where)
        lifetime = max(expires_in, 1)
        # Renew a little early so a token never expires between the check and the request.
        margin = min(_EXPIRY_MARGIN, lifetime * 0.1)
        self._store(params, scope, _Token(value, time.monotonic() + lifetime - margin))
        return value


def _read_limited(response: httpx.Response) -> bytes:
    # httpx reads every response of an auth flow itself afterwards, so the body is read
    # with `read()` (not streamed away); the announced length is checked first.
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > _MAX_TOKEN_RESPONSE:
        response.close()
        raise RegistryError("token service answer is larger than 1 MiB",
                            where=str(response.request.url))
    return response.read()
