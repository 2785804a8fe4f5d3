"""The demo's fleet repo: `overlays/` pushed to the local Git server, then changed.

Pushes go over smart HTTP with the test server's basic-auth credentials, handed to git
by an askpass script that reads the password file, so no password is ever in a URL,
an argv or the clone's config.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

REPO_NAME = "demo-fleet.git"
IDENTITY = {
    "GIT_AUTHOR_NAME": "edgesync demo", "GIT_AUTHOR_EMAIL": "demo@edgesync.invalid",
    "GIT_COMMITTER_NAME": "edgesync demo", "GIT_COMMITTER_EMAIL": "demo@edgesync.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
}
# The example repo polls edge sites hourly; the demo cannot wait that long.
EDGE_SYNC_LINE = "sync: {mode: interval, interval: 1h, jitter: 10m}"
GREETING = "<p>hello from edgesync</p>"
PARAGRAPH = re.compile(r"<p>[^<]*</p>")


class DemoError(Exception):
    """A demo step failed; the message says which and why."""


class FleetRepo:
    def __init__(self, work: Path, url: str, user: str, password_file: Path):
        self.work = work
        self.url = url
        askpass = work.parent / "git-askpass"
        askpass.write_text("#!/bin/sh\ncase \"$1\" in\n"
                           f"  Username*) echo '{user}' ;;\n"
                           f"  *) cat '{password_file}' ;;\nesac\n", encoding="utf-8")
        askpass.chmod(0o700)
        self.env = {**os.environ, **IDENTITY, "GIT_ASKPASS": str(askpass)}

    def git(self, *args: str) -> str:
        proc = subprocess.run(["git", "-C", str(self.work), *args], env=self.env,
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise DemoError(f"git {' '.join(args)} in {self.work}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def seed(self, overlays: Path, edge_interval: str, run_id: str) -> str:
        """Commit `overlays/` as the repo's root, shorten the edge interval, push main.

        The page names the run, so each run's pods are new ones even on a cluster that
        kept an earlier run's objects (their pods' state is whatever that run left).
        """
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.copytree(overlays, self.work, ignore=shutil.ignore_patterns("__pycache__"))
        self.git("init", "-q", "-b", "main")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", "Fleet repo from the edgesync example overlays")
        tiers = self.work / "tiers.yaml"
        text = tiers.read_text(encoding="utf-8")
        if text.count(EDGE_SYNC_LINE) != 1:
            raise DemoError(f"cannot find the edge-site-a line {EDGE_SYNC_LINE!r} in {tiers}")
        tiers.write_text(text.replace(
            EDGE_SYNC_LINE, f"sync: {{mode: interval, interval: {edge_interval}, jitter: 0s}}"),
            encoding="utf-8")
        self._set_greeting(f"hello from edgesync (demo {run_id})", expect=GREETING)
        self.git("commit", "-q", "-am", f"Demo {run_id}: edge-site-a polls every "
                                        f"{edge_interval}")
        self.git("remote", "add", "origin", self.url)
        self.git("push", "-q", "origin", "main")
        return self.git("rev-parse", "HEAD")

    def change_greeting(self, text: str) -> str:
        """A content change in base: every tier's ConfigMap (and so its pods) rolls."""
        self._set_greeting(text)
        self.git("commit", "-q", "-am", f"Greeting: {text}")
        self.git("push", "-q", "origin", "main")
        return self.git("rev-parse", "HEAD")

    def _set_greeting(self, text: str, expect: str | None = None) -> None:
        page = self.work / "base" / "index.html"
        html = page.read_text(encoding="utf-8")
        found = PARAGRAPH.findall(html)
        if len(found) != 1 or (expect is not None and found[0] != expect):
            raise DemoError(f"cannot find the one greeting paragraph {expect or '<p>'} in {page}")
        page.write_text(PARAGRAPH.sub(f"<p>{text}</p>", html), encoding="utf-8")


def create_served_repo(name: str = REPO_NAME) -> None:
    """An empty bare repo on the local Git server (which has no API to create one)."""
    from tests.testenv.servers.git import create_bare_repo, repos_dir

    shutil.rmtree(repos_dir() / name, ignore_errors=True)
    create_bare_repo(name)
