"""Fixtures for the apply tests: a client on the real apiserver, private namespaces, a
private node name (so each test's owner label, and so its objects, are its own), and
a fleet repo + agent config written to a temp dir."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.kube import KubeClient, ResourceManager, load_connection


@pytest.fixture(scope="session")
def kubeconfig(kube_env: Any) -> str:
    return str(kube_env.kubeconfig)


@pytest.fixture
def node() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def kube(kubeconfig: str) -> Iterator[KubeClient]:
    with KubeClient(load_connection(kubeconfig)) as client:
        yield client


@pytest.fixture
def mgr(kube: KubeClient, node: str) -> ResourceManager:
    return ResourceManager(kube, node=node)


@pytest.fixture
def namespaces(kubeconfig: str) -> Iterator[Callable[[], str]]:
    """Fresh namespace names; whatever got created under them is deleted afterwards."""
    made: list[str] = []

    def make() -> str:
        made.append(f"t-{uuid.uuid4().hex[:10]}")
        return made[-1]

    yield make
    if made:
        subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "delete", "namespace",
                        "--ignore-not-found", "--wait=false", *made],
                       check=False, capture_output=True)


def kubectl(kubeconfig: str, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], input=stdin,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def get(kubeconfig: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    args = ["get", kind, name, "-o", "json"]
    if namespace:
        args += ["-n", namespace]
    import json

    data: dict[str, Any] = json.loads(kubectl(kubeconfig, *args))
    return data


def exists(kubeconfig: str, kind: str, name: str, namespace: str | None = None) -> bool:
    args = ["get", kind, name, "--ignore-not-found", "-o", "name"]
    if namespace:
        args += ["-n", namespace]
    return bool(kubectl(kubeconfig, *args).strip())


def write_repo(root: Path, objects: list[dict[str, Any]], *, tier: str = "edge-site-a",
               health_timeout: str = "90s") -> Path:
    """A minimal fleet repo: tiers.yaml and one overlay listing the objects as a resource."""
    overlay = root / tier
    overlay.mkdir(parents=True, exist_ok=True)
    (root / "tiers.yaml").write_text(yaml.safe_dump({"tiers": {tier: {
        "overlay": tier, "registry": "harbor-edge-a.local", "health_timeout": health_timeout,
        "sync": {"mode": "on-demand"}}}}))
    (overlay / "objects.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources: [objects.yaml]\n")
    return root


def write_config(path: Path, *, node: str, repo: Path, kubeconfig: str, state_dir: Path,
                 tier: str = "edge-site-a") -> Path:
    path.write_text(yaml.safe_dump({
        "node": node, "tier": tier, "source": {"path": str(repo)},
        "kube": {"kubeconfig": kubeconfig, "namespace": "edgesync-system"},
        # These tests are about apply; image pre-flight and policy have suites of their
        # own and meet apply in the end-to-end tests.
        "images": {"check": False}, "policy": {"enforce": False},
        "state_dir": str(state_dir)}))
    return path


@pytest.fixture
def setup(tmp_path: Path, node: str, kubeconfig: str) -> Callable[..., Path]:
    """Write the repo with these objects (again, for a new revision); return the config."""
    def write(objects: list[dict[str, Any]], health_timeout: str = "90s") -> Path:
        write_repo(tmp_path / "repo", objects, health_timeout=health_timeout)
        return write_config(tmp_path / "agent.yaml", node=node, repo=tmp_path / "repo",
                            kubeconfig=kubeconfig, state_dir=tmp_path / "state")
    return write
