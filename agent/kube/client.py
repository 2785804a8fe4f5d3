"""A small Kubernetes API client on httpx: keep-alive, a bounded pool, counted requests."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from agent.errors import KubeError
from agent.kube.kubeconfig import Connection

T = TypeVar("T")
R = TypeVar("R")

_READ_VERBS = frozenset({"GET", "HEAD"})


class UnreachableError(KubeError):
    """The apiserver could not be reached; nothing can be said about what it did."""


class ApiError(KubeError):
    """The apiserver answered with an error status."""

    def __init__(self, status: int, reason: str, message: str, *, where: str | None = None,
                 causes: tuple[str, ...] = ()):
        self.status = status
        self.reason = reason
        self.causes = causes
        super().__init__(message, where=where)


@dataclass
class RequestCounter:
    """How many requests a client sent; `mutating` leaves out reads and dry runs."""

    total: int = 0
    mutating: int = 0
    by_verb: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, method: str, dry_run: bool) -> None:
        with self._lock:
            self.total += 1
            self.by_verb[method] += 1
            if method not in _READ_VERBS and not dry_run:
                self.mutating += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"total": self.total, "mutating": self.mutating, "by_verb": dict(self.by_verb)}


class KubeClient:
    def __init__(self, conn: Connection, *, concurrency: int = 16, timeout: float = 30.0,
                 retries: int = 2):
        self.retries = retries
        headers = {"Accept": "application/json", "User-Agent": "edgesync"}
        if conn.token:
            headers["Authorization"] = f"Bearer {conn.token}"
        auth = (conn.username, conn.password or "") if conn.username else None
        self.server = conn.server
        self.concurrency = concurrency
        self.counter = RequestCounter()
        self._http = httpx.Client(
            base_url=conn.server, headers=headers, auth=auth, verify=conn.ssl_context,
            timeout=timeout,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._http.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                body: Any = None, content_type: str = "application/json",
                accept: str | None = None, where: str | None = None) -> dict[str, Any]:
        dry_run = bool(params and params.get("dryRun"))
        self.counter.add(method, dry_run)
        headers = {"Content-Type": content_type} if body is not None else {}
        if accept:
            headers["Accept"] = accept
        content = json.dumps(body).encode() if body is not None else None
        # Every request the agent sends is idempotent (SSA patches, uid-guarded deletes, dry
        # runs, reads), so a dropped connection is tried again, briefly; a 429 is the
        # apiserver's flow control asking to come back later (Retry-After).
        for attempt in range(self.retries + 1):
            try:
                resp = self._http.request(method, path, params=params, content=content,
                                          headers=headers)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise UnreachableError(f"apiserver {self.server} unreachable: {exc}",
                                           where=where or path) from exc
                time.sleep(0.5 * (attempt + 1))
                continue
            if resp.status_code != 429 or attempt == self.retries:
                break
            time.sleep(_retry_after(resp, default=0.5 * (attempt + 1)))
        try:
            data = resp.json() if resp.content else {}
        except ValueError:
            data = {"message": resp.text[:500]}
        if resp.status_code >= 400:
            raise _api_error(resp.status_code, data, where or f"{method} {path}")
        if not isinstance(data, dict):
            raise KubeError("apiserver answered with a non-object body", where=where or path)
        data["__status__"] = resp.status_code
        return data

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R | BaseException]:
        """Run `fn` over items on the bounded pool; each result is a value or its exception."""
        items = list(items)
        if len(items) <= 1:
            return [_call(fn, i) for i in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.concurrency,
                                            thread_name_prefix="kube")
        return list(self._pool.map(lambda i: _call(fn, i), items))


def _retry_after(resp: httpx.Response, *, default: float) -> float:
    try:
        return min(float(resp.headers.get("Retry-After", default)), 5.0)
    except ValueError:
        return default


def _call(fn: Callable[[T], R], item: T) -> R | BaseException:
    try:
        return fn(item)
    except Exception as exc:
        return exc


def _api_error(status: int, data: Any, where: str) -> ApiError:
    if not isinstance(data, dict):
        data = {}
    message = str(data.get("message") or f"HTTP {status}")
    causes: tuple[str, ...] = ()
    details = data.get("details")
    if isinstance(details, dict):
        causes = tuple(f"{c.get('field', '')}: {c.get('message', '')}".strip(": ")
                       for c in details.get("causes") or () if isinstance(c, dict))
    return ApiError(status, str(data.get("reason") or ""), message, where=where, causes=causes)
