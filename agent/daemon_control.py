"""How the outside reaches a running daemon: a local Unix socket and an optional webhook.

Unix socket (`daemon.socket`, mode 0660, group `daemon.socket_group`): one
JSON object per line in, one per line out.
    {"op": "status"}                  -> {"ok": true, "status": {...}}
    {"op": "trigger"}                 -> {"ok": true, "accepted": true, "id": N}
    {"op": "trigger", "wait": true}   -> {"ok": true, "accepted": true, "id": N,
                                          "result": {...SyncResult...}}
Webhook (`daemon.webhook.listen`, localhost): `POST /trigger` with the body's
HMAC-SHA256 under the secret in `daemon.webhook.secret_file`, hex, in
`X-Hub-Signature-256: sha256=<hex>` (the header GitHub/Gitea send) or
`X-Edgesync-Signature`. A good signature queues a trigger (202); anything
else is 401 and changes nothing.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import hmac
import json
import os
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from agent.errors import ConfigError, EdgesyncError, StateError

MAX_REQUEST = 64 * 1024


@dataclass
class Trigger:
    """A request to sync now; `done` is set with `result` once the cycle ran."""

    id: int
    source: str
    done: threading.Event = field(default_factory=threading.Event)
    result: dict[str, Any] | None = None


class Controller:
    """What the servers need from the daemon (kept narrow so they can be tested alone)."""

    def __init__(self, enqueue: Callable[[str], Trigger], status: Callable[[], dict[str, Any]]):
        self.enqueue = enqueue
        self.status = status


class _UnixHandler(socketserver.StreamRequestHandler):
    server: _UnixServer

    def handle(self) -> None:
        line = self.rfile.readline(MAX_REQUEST)
        try:
            request = json.loads(line or b"{}")
            if not isinstance(request, dict):
                raise ValueError("request must be a JSON object")
            reply = self._answer(request)
        except (ValueError, UnicodeDecodeError) as exc:
            reply = {"ok": False, "error": f"bad request: {exc}"}
        self._send(reply)

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        ctl = self.server.controller
        op = request.get("op")
        if op == "status":
            return {"ok": True, "status": ctl.status()}
        if op == "trigger":
            trig = ctl.enqueue("socket")
            if not request.get("wait"):
                return {"ok": True, "accepted": True, "id": trig.id}
            timeout = float(request.get("timeout") or 3600)
            if not trig.done.wait(timeout):
                return {"ok": False, "accepted": True, "id": trig.id,
                        "error": f"no result within {timeout:g}s"}
            return {"ok": True, "accepted": True, "id": trig.id, "result": trig.result}
        return {"ok": False, "error": f"unknown op {op!r} (use status or trigger)"}

    def _send(self, reply: dict[str, Any]) -> None:
        # A client that hung up misses the reply; the trigger still runs.
        with contextlib.suppress(OSError):
            self.wfile.write(json.dumps(reply, default=str).encode() + b"\n")


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, controller: Controller):
        self.controller = controller
        super().__init__(path, _UnixHandler)


def serve_socket(path: str, group: str | None, controller: Controller) -> _UnixServer:
    """Bind the control socket (replacing a stale one) with mode 0660 and the given group."""
    sock_path = Path(path)
    sock_path.parent.mkdir(parents=True, exist_ok=True)
    if sock_path.is_socket() or sock_path.is_symlink():
        if _answers(path):
            raise StateError("another edge-agent daemon is serving this socket", where=path)
        sock_path.unlink()  # left over from a daemon that died
    gid = -1
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise ConfigError(f"daemon.socket_group {group!r} does not exist") from None
    old = os.umask(0o117)  # Never a moment with a wider mode than 0660.
    try:
        server = _UnixServer(path, controller)
    finally:
        os.umask(old)
    os.chown(path, -1, gid)
    os.chmod(path, 0o660)
    threading.Thread(target=server.serve_forever, name="control-socket", daemon=True).start()
    return server


def _answers(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(path)
    except OSError:
        return False
    return True


def request(path: str, message: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
    """Client side: send one request to the daemon's socket and read the one reply."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(json.dumps(message).encode() + b"\n")
            with sock.makefile("rb") as f:
                line = f.readline()
    except FileNotFoundError:
        raise EdgesyncError("no daemon socket (is `edge-agent run` running?)",
                            where=path) from None
    except OSError as exc:
        raise EdgesyncError(f"cannot talk to the daemon: {exc.strerror or exc}",
                            where=path) from exc
    if not line:
        raise EdgesyncError("the daemon closed the connection without answering", where=path)
    reply = json.loads(line)
    if not isinstance(reply, dict):
        raise EdgesyncError("the daemon sent a malformed reply", where=path)
    return reply


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    if not header:
        return False
    given = header.strip().removeprefix("sha256=")
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given, expected)


def serve_webhook(listen: str, secret_file: str | None, controller: Controller,
                  log: Callable[..., None]) -> ThreadingHTTPServer:
    if not secret_file:
        raise ConfigError("daemon.webhook.listen needs daemon.webhook.secret_file")
    try:
        secret = Path(secret_file).read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read webhook secret: {exc.strerror}",
                          where=secret_file) from exc
    if not secret:
        raise ConfigError("webhook secret is empty", where=secret_file)
    host, _, port = listen.rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST:
                self._reply(413, {"error": "body too large"})
                return
            body = self.rfile.read(length)
            header = (self.headers.get("X-Hub-Signature-256")
                      or self.headers.get("X-Edgesync-Signature"))
            if self.path.rstrip("/") not in ("/trigger", ""):
                self._reply(404, {"error": "POST /trigger"})
            elif not signature_ok(secret, body, header):
                log("webhook_rejected", level="warning", peer=self.client_address[0])
                self._reply(401, {"error": "bad or missing signature"})
            else:
                trig = controller.enqueue("webhook")
                self._reply(202, {"accepted": True, "id": trig.id})

        def _reply(self, code: int, data: dict[str, Any]) -> None:
            body = json.dumps(data).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # Our own structured log covers what matters.

    server = ThreadingHTTPServer((host.strip("[]") or "127.0.0.1", int(port)), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="webhook", daemon=True).start()
    return server
