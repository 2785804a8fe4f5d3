"""Push the spool to the fleet service: in order, in batches, with backoff.

A batch is acknowledged in the spool only after the service has stored it.
If the node dies between the two, the batch is sent again on the next flush;
the service keeps one copy per idempotency key, so a retry is harmless.
"""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx
import tenacity

from agent.errors import ReportError
from agent.report.spool import Spool, SpooledReport

BATCH_LIMIT = 100
BATCH_BYTES = 512 * 1024


class _RetryableError(Exception):
    """The service was unreachable, overloaded or failing: try again later."""


@dataclass(frozen=True)
class FlushResult:
    sent: int
    duplicates: int
    rejected: int
    pending: int
    error: str | None = None


def fleet_client(token: str, ca_file: str | None = None, *, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An HTTP client that speaks to the fleet service as this node (its bearer token)."""
    verify: Any = True
    if ca_file:
        try:
            verify = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ReportError(f"cannot load fleet CA file: {exc}", where=ca_file) from exc
    return httpx.Client(
        headers={"Authorization": f"Bearer {token}", "User-Agent": "edgesync-agent"},
        timeout=timeout, verify=verify, transport=transport)


class Sender:
    """HTTP client for `POST /v1/reports` with the node's bearer token."""

    def __init__(self, url: str, token: str, ca_file: str | None = None, *,
                 timeout: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        self.endpoint = url.rstrip("/") + "/v1/reports"
        self._client = fleet_client(token, ca_file, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def flush(self, spool: Spool, *, deadline: float | None = None,
              max_wait: float = 60.0) -> FlushResult:
        """Send everything spooled until empty, or until `deadline` (a `time.monotonic()`)."""
        sent = duplicates = rejected = 0
        limit = BATCH_LIMIT
        error: str | None = None
        while True:
            batch = spool.peek_batch(limit=limit, max_bytes=BATCH_BYTES)
            if not batch:
                break
            try:
                status, body = self._post_with_backoff(batch, deadline, max_wait)
            except _RetryableError as exc:
                error = str(exc)
                break
            if status == 200:
                spool.ack([item.seq for item in batch])
                sent += int(body.get("accepted", 0))
                duplicates += int(body.get("duplicates", 0))
                limit = BATCH_LIMIT
                continue
            if status == 413:
                if len(batch) > 1:
                    limit = max(1, len(batch) // 2)
                    continue
                spool.reject(batch[0], "413 report too large for the fleet service")
                rejected += 1
                continue
            if status == 422:
                bad = _bad_index(body, len(batch))
                spool.reject(batch[bad], f"422 {body.get('error', 'invalid report')}")
                rejected += 1
                continue
            # 401/403 and other refusals mean the node is misconfigured; keep everything.
            raise ReportError(f"fleet service refused reports: HTTP {status} "
                              f"{body.get('error', '')}".rstrip(), where=self.endpoint,
                              action="reports kept in the spool")
        return FlushResult(sent, duplicates, rejected, spool.stats().pending, error)

    def _post_with_backoff(self, batch: list[SpooledReport], deadline: float | None,
                           max_wait: float) -> tuple[int, dict[str, Any]]:
        payload = ('{"reports":[' + ",".join(item.body for item in batch) + "]}").encode()

        def stop(state: tenacity.RetryCallState) -> bool:
            if deadline is None:
                return False
            return time.monotonic() >= deadline

        backoff = tenacity.wait_random_exponential(multiplier=0.2, max=max_wait)

        def wait(state: tenacity.RetryCallState) -> float:
            # Never sleep past the deadline: `sync --once` must exit on time.
            pause = float(backoff(state))
            if deadline is not None:
                pause = min(pause, max(0.0, deadline - time.monotonic()))
            return pause

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_RetryableError),
            wait=wait, stop=stop, reraise=True)
        result: tuple[int, dict[str, Any]] = retrying(self._post, payload, deadline)
        return result

    def _post(self, payload: bytes, deadline: float | None) -> tuple[int, dict[str, Any]]:
        if deadline is not None and time.monotonic() >= deadline:
            raise _RetryableError("flush deadline reached")
        try:
            response = self._client.post(self.endpoint, content=payload,
                                         headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise _RetryableError(f"{self.endpoint}: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise _RetryableError(f"{self.endpoint}: HTTP {response.status_code}")
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = {}
        return response.status_code, body if isinstance(body, dict) else {}


def _bad_index(body: dict[str, Any], size: int) -> int:
    index = body.get("index")
    if isinstance(index, int) and 0 <= index < size:
        return index
    return 0
