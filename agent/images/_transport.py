"""An HTTP/1.1 transport for httpx on the standard library's `http.client`.

httpx's default transport (httpcore + h11) takes about 25 ms to import and
roughly twice the CPU per request of `http.client`, which httpx imports anyway.
A pre-flight is a burst of small manifest GETs over a few keep-alive
connections, often from a process that starts, resolves and exits on a CPU as
small as a vehicle's; there that difference is a fifth of the run.

It does what the registry client needs and no more: http and https (through a
verifying `ssl.SSLContext`, built only when the first https connection needs
it), keep-alive with a bounded idle pool, connect and read timeouts, streamed
bodies, and one transparent retry of an idempotent request whose reused
connection the server had closed while it sat idle. Proxies from the
environment stay with httpx, which mounts its own transport for them.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator

import httpx

_Key = tuple[str, str, int]
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_CHUNK = 64 * 1024


class StdlibTransport(httpx.BaseTransport):
    """A connection pool of `http.client` connections behind the `httpx.BaseTransport` API."""

    def __init__(self, *, ssl_context: Callable[[], ssl.SSLContext] | None = None,
                 max_idle: int = 16) -> None:
        self._ssl_context = ssl_context or ssl.create_default_context
        self._max_idle = max_idle
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.connections_opened = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}",
                                            request=request)
        key = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        body = request.read()
        target = url.raw_path.decode("ascii")
        while True:
            conn, reused = self._checkout(key, timeouts, request)
            try:
                conn.putrequest(request.method, target, skip_host=True,
                                skip_accept_encoding=True)
                for name, value in request.headers.raw:
                    conn.putheader(name, value)
                conn.endheaders(body or None)
                response = conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                # The server closed a kept-alive connection as it was reused (its idle
                # timeout raced us): an idempotent request may safely go again, once per
                # stale connection, then on a new one.
                if reused and request.method in _IDEMPOTENT:
                    continue
                raise httpx.RemoteProtocolError("server closed the connection without "
                                                "answering", request=request) from None
            except BaseException as exc:
                conn.close()
                raise _translate(exc, request, connecting=False) from None
            return httpx.Response(
                status_code=response.status, headers=response.getheaders(),
                stream=_ResponseStream(self, key, conn, response, request),
                extensions={"http_version": b"HTTP/1.1",
                            "reason_phrase": response.reason.encode("latin-1", "replace")})

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle = [c for conns in self._idle.values() for c in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()

    # -- the pool ----------------------------------------------------------------------

    def _checkout(self, key: _Key, timeouts: dict[str, float | None],
                  request: httpx.Request) -> tuple[http.client.HTTPConnection, bool]:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None:
                return self._connect(key, timeouts, request), False
            if _still_open(conn):
                _set_timeout(conn, timeouts.get("read"))
                return conn, True
            conn.close()

    def _connect(self, key: _Key, timeouts: dict[str, float | None],
                 request: httpx.Request) -> http.client.HTTPConnection:
        scheme, host, port = key
        conn: http.client.HTTPConnection
        try:
            if scheme == "https":
                conn = http.client.HTTPSConnection(host, port, timeout=timeouts.get("connect"),
                                                   context=self._ssl_context())
            else:
                conn = http.client.HTTPConnection(host, port, timeout=timeouts.get("connect"))
            conn.connect()
        except BaseException as exc:
            raise _translate(exc, request, connecting=True) from None
        with self._lock:
            self.connections_opened += 1
        _set_timeout(conn, timeouts.get("read"))
        return conn

    def _release(self, key: _Key, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if not self._closed and len(idle) < self._max_idle:
                idle.append(conn)
                return
        conn.close()


class _ResponseStream(httpx.SyncByteStream):
    """The body, read as it arrives; the connection goes back to the pool once it is drained."""

    def __init__(self, transport: StdlibTransport, key: _Key, conn: http.client.HTTPConnection,
                 response: http.client.HTTPResponse, request: httpx.Request) -> None:
        self._transport = transport
        self._key = key
        self._conn: http.client.HTTPConnection | None = conn
        self._response = response
        self._request = request
        self._broken = False

    def __iter__(self) -> Iterator[bytes]:
        while True:
            try:
                # `read(n)` (unlike `read1`) marks the response closed at the end of the
                # body, which is what tells `close` the connection can be reused.
                chunk = self._response.read(_CHUNK)
            except BaseException as exc:
                self._broken = True
                self.close()
                raise _translate(exc, self._request, connecting=False) from None
            if not chunk:
                remaining = self._response.length
                if remaining:
                    # http.client's read(n) ends quietly at EOF; a body cut short is an error.
                    self._broken = True
                    self.close()
                    raise httpx.RemoteProtocolError(f"connection closed {remaining} bytes "
                                                    "before the end of the body",
                                                    request=self._request)
                return
            yield chunk

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        response = self._response
        if not response.isclosed() and response.length == 0:
            response.read()  # a HEAD answer or an empty body: nothing to drain, just mark it
        if response.isclosed() and not response.will_close and not self._broken:
            self._transport._release(self._key, conn)
        else:
            # An unread rest of a body would be read as the next answer: never reuse that.
            self._response.close()
            conn.close()


def _still_open(conn: http.client.HTTPConnection) -> bool:
    """An idle connection is only usable if the server has sent nothing (not even EOF)."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _set_timeout(conn: http.client.HTTPConnection, timeout: float | None) -> None:
    if conn.sock is not None:
        conn.sock.settimeout(timeout)


def _translate(exc: BaseException, request: httpx.Request, *, connecting: bool) -> BaseException:
    """The httpx exception for a socket or http.client error (others pass through)."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return (httpx.ConnectTimeout if connecting else httpx.ReadTimeout)(message,
                                                                           request=request)
    if isinstance(exc, ssl.SSLError) or (connecting and isinstance(exc, OSError)):
        return httpx.ConnectError(message, request=request)
    if isinstance(exc, http.client.HTTPException):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, OSError):
        return httpx.ReadError(message, request=request)
    return exc
