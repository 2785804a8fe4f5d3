"""The Kubernetes control plane with kwok nodes behaves as a real cluster does for us:
nodes Ready, Deployments Available or failing their progress deadline, server-side apply
with field-manager conflicts."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.testenv.env import Env

pytestmark = pytest.mark.k8s


def kubectl(env: Env, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [env.kubectl, f"--kubeconfig={env.kubeconfig}", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def get(env: Env, namespace: str, what: str) -> Any:
    return json.loads(ok(kubectl(env, "get", "-n", namespace, what, "-o", "json")))


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def namespace(kube_env: Env) -> Iterator[str]:
    name = f"testenv-{uuid.uuid4().hex[:8]}"
    ok(kubectl(kube_env, "create", "namespace", name))
    yield name
    kubectl(kube_env, "delete", "namespace", name, "--wait=false")


def deployment(name: str, replicas: int, deadline: int = 600, **spec: Any) -> str:
    pod_spec = {"containers": [{"name": "app", "image": "registry.example.com/app:1"}], **spec}
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "progressDeadlineSeconds": deadline,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
            },
        }
    )


def test_kwok_nodes_are_ready_with_their_architectures(kube_env: Env) -> None:
    nodes = json.loads(ok(kubectl(kube_env, "get", "nodes", "-o", "json")))["items"]
    by_name = {n["metadata"]["name"]: n for n in nodes}
    assert {"kwok-amd64", "kwok-arm64"} <= set(by_name)
    for name, arch in (("kwok-amd64", "amd64"), ("kwok-arm64", "arm64")):
        node = by_name[name]
        assert node["metadata"]["labels"]["kubernetes.io/arch"] == arch
        assert node["metadata"]["labels"]["kubernetes.io/os"] == "linux"
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True"


def test_two_replica_deployment_becomes_available(kube_env: Env, namespace: str) -> None:
    ok(kubectl(kube_env, "apply", "-n", namespace, "-f", "-", stdin=deployment("web", 2)))
    ok(kubectl(kube_env, "rollout", "status", "-n", namespace, "deployment/web", "--timeout=90s"))
    status = get(kube_env, namespace, "deployment/web")
    assert status["status"]["availableReplicas"] == 2
    pods = json.loads(ok(kubectl(kube_env, "get", "pods", "-n", namespace, "-o", "json")))["items"]
    assert len(pods) == 2
    assert all(p["status"]["phase"] == "Running" for p in pods)
    assert all(p["spec"]["nodeName"] in ("kwok-amd64", "kwok-arm64") for p in pods)


def test_arch_node_selector_places_pods_on_that_node(kube_env: Env, namespace: str) -> None:
    arm = deployment("arm", 1, nodeSelector={"kubernetes.io/arch": "arm64"})
    ok(kubectl(kube_env, "apply", "-n", namespace, "-f", "-", stdin=arm))
    ok(kubectl(kube_env, "rollout", "status", "-n", namespace, "deployment/arm", "--timeout=90s"))
    pods = json.loads(ok(kubectl(kube_env, "get", "pods", "-n", namespace, "-o", "json")))["items"]
    assert [p["spec"]["nodeName"] for p in pods] == ["kwok-arm64"]


def test_unschedulable_deployment_exceeds_its_progress_deadline(
    kube_env: Env, namespace: str
) -> None:
    stuck = deployment("stuck", 1, deadline=10, nodeSelector={"edgesync.test/no-such-node": "x"})
    ok(kubectl(kube_env, "apply", "-n", namespace, "-f", "-", stdin=stuck))
    deadline = time.monotonic() + 90
    reason = None
    while time.monotonic() < deadline:
        got = get(kube_env, namespace, "deployment/stuck")
        progressing = [
            c for c in got["status"].get("conditions", []) if c["type"] == "Progressing"
        ]
        reason = progressing[0]["reason"] if progressing else None
        if reason == "ProgressDeadlineExceeded":
            break
        time.sleep(1)
    assert reason == "ProgressDeadlineExceeded"


CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {{name: shared}}
data: {{owner: {value}}}
"""


@pytest.fixture
def api(kube_env: Env, tmp_path: Path) -> Iterator[httpx.Client]:
    """A raw HTTPS client with the admin credentials of the kubeconfig."""
    config = json.loads(Path(kube_env.kubeconfig).read_text())
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    files = {}
    for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
        files[key] = tmp_path / key
        files[key].write_bytes(base64.b64decode(cluster.get(key) or user[key]))
    context = ssl.create_default_context(cafile=files["certificate-authority-data"])
    context.load_cert_chain(files["client-certificate-data"], files["client-key-data"])
    with httpx.Client(base_url=cluster["server"], verify=context, timeout=30) as client:
        yield client


def test_server_side_apply_and_field_manager_conflict(
    kube_env: Env, namespace: str, api: httpx.Client
) -> None:
    first = CONFIGMAP.format(value="alpha")
    applied = kubectl(
        kube_env, "apply", "--server-side", "--field-manager=alpha", "-n", namespace, "-f", "-",
        stdin=first,
    )  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert "serverside-applied" in applied.stdout

    second = CONFIGMAP.format(value="beta")
    conflict = kubectl(
        kube_env, "apply", "--server-side", "--field-manager=beta", "-n", namespace, "-f", "-",
        stdin=second,
    )  # fmt: skip
    assert conflict.returncode != 0
    assert "conflict" in conflict.stderr.lower()

    response = api.patch(
        f"/api/v1/namespaces/{namespace}/configmaps/shared",
        params={"fieldManager": "beta"},
        content=second,
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert response.status_code == 409
    assert response.json()["reason"] == "Conflict"
    owner = json.loads(ok(kubectl(kube_env, "get", "-n", namespace, "cm/shared", "-o", "json")))
    assert owner["data"]["owner"] == "alpha"


def test_apiserver_cut_and_stop(kube_env: Env) -> None:
    kube_env.cut("apiserver")
    try:
        assert kubectl(kube_env, "get", "namespaces", "--request-timeout=5s").returncode != 0
    finally:
        kube_env.restore("apiserver")
    ok(kubectl(kube_env, "get", "namespaces"))

    kube_env.stop("apiserver")
    try:
        assert kubectl(kube_env, "get", "namespaces", "--request-timeout=5s").returncode != 0
    finally:
        kube_env.start("apiserver")
    ok(kubectl(kube_env, "get", "namespaces"))
    ok(kubectl(kube_env, "wait", "--for=condition=Ready", "--timeout=60s", "node/kwok-amd64"))
