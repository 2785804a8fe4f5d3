"""The http.client transport: keep-alive, stale connections, timeouts, broken bodies.

Reuse is checked against the real registry. The faults (a server dropping a kept-alive
connection as it is reused, a body shorter than its Content-Length, a server that never
answers) are ones the registry does not produce on demand, so a small stdlib HTTP server
in this file produces them.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from agent.images._transport import StdlibTransport
from tests.testenv.env import Env


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, body: bytes, *, chunked: bool = False, length: int | None = None) -> None:
        self.send_response(200)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (body[:3], body[3:]):
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(length if length is not None else len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        self.server.requests.append((self.command, self.path))
        length = int(self.headers.get("Content-Length") or 0)
        sent = self.rfile.read(length) if length else b""
        served_here = getattr(self, "served", 0)
        self.served = served_here + 1
        if self.path == "/drop-second" and served_here >= 1:
            self.close_connection = True  # read the request, answer nothing, hang up
            return
        if self.path == "/slow":
            time.sleep(1.0)
        if self.path == "/short":
            self._reply(b"0123456789", length=100)
            self.close_connection = True
            return
        if self.path == "/chunked":
            self._reply(b"chunked body", chunked=True)
            return
        if self.path == "/big":
            self._reply(b"x" * 300_000)
            return
        self._reply(b"echo:" + sent if sent else b"hello")

    do_GET = do_HEAD = do_POST = _handle  # noqa: N815  (http.server's names)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def transport() -> Iterator[StdlibTransport]:
    t = StdlibTransport()
    yield t
    t.close()


def test_connections_are_kept_alive_against_the_registry(registry_env: Env,
                                                         transport: StdlibTransport) -> None:
    auth = (registry_env.registry_user, registry_env.registry_password)
    url = f"http://{registry_env.registry}/v2/edgesync/busybox/manifests/multi"
    accept = {"Accept": "application/vnd.oci.image.index.v1+json"}
    with httpx.Client(transport=transport, auth=auth) as client:
        for _ in range(5):
            got = client.get(url, headers=accept)
            assert got.status_code == 200 and got.json()["manifests"]
            head = client.head(url, headers=accept)
            assert head.status_code == 200 and head.headers["Docker-Content-Digest"]
    assert transport.connections_opened == 1


def test_chunked_and_large_bodies_arrive_whole(server: Server,
                                               transport: StdlibTransport) -> None:
    with httpx.Client(transport=transport) as client:
        assert client.get(f"{server.url}/chunked").content == b"chunked body"
        assert client.get(f"{server.url}/big").content == b"x" * 300_000
        assert client.post(f"{server.url}/echo", content=b"form").content == b"echo:form"
    assert transport.connections_opened == 1


def test_a_half_read_body_never_reaches_the_next_request(server: Server,
                                                         transport: StdlibTransport) -> None:
    with httpx.Client(transport=transport) as client:
        with client.stream("GET", f"{server.url}/big") as response:
            first = next(response.iter_raw())
            assert 0 < len(first) < 300_000
        assert client.get(f"{server.url}/hello").content == b"hello"
    assert transport.connections_opened == 2


def test_a_dropped_keepalive_connection_is_retried_for_get_only(
        server: Server, transport: StdlibTransport) -> None:
    with httpx.Client(transport=transport) as client:
        assert client.get(f"{server.url}/drop-second").content == b"hello"
        # Same connection, the server hangs up on the second request: GET goes again.
        assert client.get(f"{server.url}/drop-second").content == b"hello"
        assert transport.connections_opened == 2
        client.get(f"{server.url}/drop-second")  # a fresh connection's first answer
        with pytest.raises(httpx.RemoteProtocolError, match="closed the connection"):
            client.post(f"{server.url}/drop-second", content=b"once")
    assert [m for m, _ in server.requests].count("POST") == 1


def test_a_body_shorter_than_announced_is_an_error(server: Server,
                                                    transport: StdlibTransport) -> None:
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.RemoteProtocolError):
        client.get(f"{server.url}/short")


def test_read_and_connect_failures_are_httpx_errors(server: Server,
                                                    transport: StdlibTransport) -> None:
    with httpx.Client(transport=transport, timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get(f"{server.url}/slow")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        with pytest.raises(httpx.ConnectError):
            client.get(f"http://127.0.0.1:{closed_port}/")


def test_idle_pool_is_bounded(server: Server) -> None:
    transport = StdlibTransport(max_idle=2)

    def four_at_once(client: httpx.Client) -> None:
        streams = [client.stream("GET", f"{server.url}/hello") for _ in range(4)]
        responses = [s.__enter__() for s in streams]  # four connections busy at once
        assert [r.read() for r in responses] == [b"hello"] * 4
        for s in streams:
            s.__exit__(None, None, None)

    with httpx.Client(transport=transport) as client:
        four_at_once(client)
        assert transport.connections_opened == 4
        four_at_once(client)
    assert transport.connections_opened == 6  # two were kept idle, two opened again
