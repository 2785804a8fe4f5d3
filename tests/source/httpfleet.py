"""A fleet repo served by the test environment's Git HTTP server, with request accounting."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

from tests.source.fleetrepo import FleetRepo
from tests.testenv.env import Env
from tests.testenv.servers.git import create_bare_repo

LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d+) (?P<size>\d+|-)')


class HttpFleet(FleetRepo):
    def __init__(self, env: Env, root: Path, files: dict[str, str] | None = None):
        self.name = f"src-{uuid.uuid4().hex[:10]}.git"
        self.env = env
        bare = create_bare_repo(self.name)
        authed = env.git_url.replace("http://", f"http://{env.git_user}:{env.git_password}@", 1)
        super().__init__(root, bare=bare, push_url=f"{authed}/{self.name}", files=files)

    @property
    def http_url(self) -> str:
        return f"{self.env.git_url}/{self.name}"

    def requests(self) -> list[tuple[str, str, int, int]]:
        """(method, path, status, bytes) of every request to this repo so far."""
        out = []
        for line in self.env.log_path("git").read_text().splitlines():
            m = LINE.search(line)
            if m and f"/{self.name}/" in m["path"]:
                size = 0 if m["size"] == "-" else int(m["size"])
                out.append((m["method"], m["path"], int(m["status"]), size))
        return out

    def settled_requests(self) -> list[tuple[str, str, int, int]]:
        """The request list once the log stopped growing (lighttpd buffers it for seconds)."""
        last, stable_since = -1, time.monotonic()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            reqs = self.requests()
            if len(reqs) != last:
                last, stable_since = len(reqs), time.monotonic()
            elif time.monotonic() - stable_since > 6.0:
                return reqs
            time.sleep(0.2)
        return self.requests()
