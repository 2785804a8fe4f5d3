"""A TCP forwarder in front of a server, so tests can cut its port without a firewall.

Run as `python -m tests.testenv.proxy [--parent=PID] LISTEN:TARGET [LISTEN:TARGET ...]`;
with --parent it exits when that process is gone (a test session's private forwarder).
SIGUSR1 cuts: the listeners close (new connections are refused) and every open
connection is aborted, as when a link goes down. SIGUSR2 restores the listeners.
The server behind stays up the whole time; stopping it is a separate hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any

CHUNK = 256 * 1024


class Forwarder:
    def __init__(self, routes: list[tuple[int, int]]) -> None:
        self.routes = routes
        self.servers: list[asyncio.Server] = []
        self.open: set[asyncio.StreamWriter] = set()

    async def listen(self) -> None:
        if self.servers:
            return  # already listening: a second restore is a no-op
        for listen_port, target_port in self.routes:
            server = await asyncio.start_server(
                lambda r, w, t=target_port: self.handle(r, w, t),
                host="127.0.0.1",
                port=listen_port,
                reuse_address=True,
            )
            self.servers.append(server)

    async def cut(self) -> None:
        servers, self.servers = self.servers, []
        for server in servers:
            server.close()
        for writer in list(self.open):
            writer.transport.abort()
        self.open.clear()
        for server in servers:
            await server.wait_closed()

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: int
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            writer.transport.abort()  # the server is stopped: the client sees a reset
            return
        self.open.update((writer, up_writer))
        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self.open.discard(w)
                w.transport.abort()


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()


async def watch_parent(pid: int, done: asyncio.Event) -> None:
    while os.path.exists(f"/proc/{pid}"):
        await asyncio.sleep(1)
    done.set()


async def main(routes: list[tuple[int, int]], parent: int | None = None) -> None:
    forwarder = Forwarder(routes)
    await forwarder.listen()
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    pending: set[asyncio.Task[None]] = set()

    def spawn(coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        pending.add(task)
        task.add_done_callback(pending.discard)

    loop.add_signal_handler(signal.SIGUSR1, lambda: spawn(forwarder.cut()))
    loop.add_signal_handler(signal.SIGUSR2, lambda: spawn(forwarder.listen()))
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_signal_handler(signal.SIGINT, done.set)
    if parent is not None:
        spawn(watch_parent(parent, done))
    print(f"forwarding {routes}", flush=True)
    await done.wait()
    await forwarder.cut()


def parse(args: list[str]) -> tuple[list[tuple[int, int]], int | None]:
    routes, parent = [], None
    for arg in args:
        if arg.startswith("--parent="):
            parent = int(arg.removeprefix("--parent="))
            continue
        listen, _, target = arg.partition(":")
        routes.append((int(listen), int(target)))
    return routes, parent


if __name__ == "__main__":
    asyncio.run(main(*parse(sys.argv[1:])))
