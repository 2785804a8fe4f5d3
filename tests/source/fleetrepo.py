"""Build small fleet repos with the real git CLI for source and daemon tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

TIERS = """\
tiers:
  cloud:
    overlay: cloud
    registry: harbor-cloud.local
    sync: {mode: realtime, interval: 1s}
  edge-site-a:
    overlay: edge-site-a
    registry: harbor-edge-a.local
    sync: {mode: interval, interval: 1h, jitter: 10m}
  vehicle:
    overlay: vehicle
    registry: harbor-vehicle.local
    sync: {mode: on-demand}
"""

FILES = {
    "tiers.yaml": TIERS,
    "base/kustomization.yaml": "resources: [configmap.yaml]\n",
    "base/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {greeting: hello}\n"),
    "components/labels/kustomization.yaml": (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
        "commonLabels: {team: edge}\n"),
    "cloud/kustomization.yaml": (
        "namespace: cloud\nresources: [../base]\ncomponents: [../components/labels]\n"
        "patches: [{path: patch.yaml}]\n"
        "configMapGenerator: [{name: extra, files: [conf=files/app.conf]}]\n"),
    "cloud/patch.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {tier: cloud}\n"),
    "cloud/files/app.conf": "level=info\n",
    "vehicle/kustomization.yaml": "namespace: vehicle\nresources: [../base]\n",
    "edge-site-a/kustomization.yaml": "namespace: edge\nresources: [../base]\n",
}

GIT_ID = {"GIT_AUTHOR_NAME": "Fleet Ops", "GIT_AUTHOR_EMAIL": "ops@example.com",
          "GIT_COMMITTER_NAME": "Fleet Ops", "GIT_COMMITTER_EMAIL": "ops@example.com"}


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    full = {**os.environ, **GIT_ID, **(env or {})}
    proc = subprocess.run(["git", *args], cwd=cwd, env=full, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


class FleetRepo:
    """A work tree plus a bare repo it pushes to (the 'server' side for file:// tests)."""

    def __init__(self, root: Path, *, big_bytes: int = 200_000, bare: Path | None = None,
                 push_url: str | None = None, files: dict[str, str] | None = None):
        """`bare`/`push_url`: a repo served elsewhere (HTTP) instead of a local bare one."""
        root.mkdir(parents=True, exist_ok=True)
        self.work = root / "work"
        self.bare = bare or root / "fleet.git"
        if bare is None:
            git(root, "init", "-q", "--bare", "-b", "main", str(self.bare))
        # Blob-less fetches need the server side to allow filters.
        git(self.bare, "config", "uploadpack.allowFilter", "true")
        git(root, "init", "-q", "-b", "main", str(self.work))
        for rel, text in (files or FILES).items():
            self.write(rel, text)
        # Other tiers' payload the cloud tier never needs: a sparse checkout skips it.
        self.write("vehicle/firmware.bin", os.urandom(big_bytes).hex())
        self.write("docs/handbook.md", "# ops\n" * 2000)
        self.commit("initial fleet config")
        git(self.work, "remote", "add", "origin", push_url or str(self.bare))
        self.push()

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def write(self, rel: str, text: str) -> None:
        path = self.work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def commit(self, message: str, *, sign: list[str] | None = None,
               env: dict[str, str] | None = None) -> str:
        """Commit everything; `sign` = git `-c` settings that select a signing key."""
        git(self.work, "add", "-A")
        config = [arg for item in (sign or []) for arg in ("-c", item)]
        signing = ["-S"] if sign else []
        git(self.work, *config, "commit", "-q", *signing, "--allow-empty", "-m", message,
            env=env)
        return self.head()

    def head(self) -> str:
        return git(self.work, "rev-parse", "HEAD")

    def push(self, *, force: bool = False, ref: str = "main") -> None:
        git(self.work, "push", "-q", *(["--force"] if force else []), "origin", ref)

    def tag(self, name: str) -> None:
        git(self.work, "tag", "-a", "-m", name, name)
        git(self.work, "push", "-q", "origin", name)
