"""Kubernetes: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
playing two nodes (kwok-amd64, kwok-arm64) whose Pods really become Running/Ready.

Clients get `.testenv/kubeconfig` (through the cuttable forwarder); the control-plane
components use a kubeconfig of their own that talks to the apiserver directly, so a cut
port isolates the client without stalling the controllers.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time

from tests.testenv import certs, install, paths
from tests.testenv.procs import ProcSpec, TestenvError, free_port, run
from tests.testenv.stack import Launcher, log

SERVICE_CIDR = "10.0.0.0/16"  # room for benchmarks that create hundreds of Services
POD_CIDR = "10.244.0.0/16"
NODES = {"kwok-amd64": "amd64", "kwok-arm64": "arm64"}
KWOK_SELECTOR = "kwok.x-k8s.io/node=fake"


def node_manifest(name: str, arch: str) -> dict[str, object]:
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
            "labels": {
                "beta.kubernetes.io/arch": arch,
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": arch,
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {
            "allocatable": resources,
            "capacity": resources,
            "nodeInfo": {
                "architecture": arch,
                "operatingSystem": "linux",
                "kubeletVersion": "fake",
                "kubeProxyVersion": "fake",
                # Required by the schema; kwok has nothing real to put there.
                **dict.fromkeys(
                    ("bootID", "machineID", "systemUUID", "kernelVersion", "osImage",
                     "containerRuntimeVersion"),
                    "",
                ),
            },
            "phase": "Running",
        },
    }


def _binary(name: str) -> str:
    path = install.binary(name)
    if not path.exists():
        raise TestenvError(f"{path.name} is not built yet: run `make testenv-deps`")
    return str(path)


def _healthz(port: int) -> dict[str, object]:
    return {"http": f"https://127.0.0.1:{port}/healthz", "status": [200]}


def start(launcher: Launcher) -> None:
    base = paths.ROOT / "kube"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    cluster = certs.generate(base / "pki")
    kubectl = _binary("kubectl")

    etcd_port, etcd_peer = free_port(), free_port()
    etcd = [
        "etcd", "--name=testenv", f"--data-dir={base / 'etcd'}",
        f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
        f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
        f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
        f"--initial-cluster=testenv=http://127.0.0.1:{etcd_peer}",
        "--unsafe-no-fsync", "--quota-backend-bytes=4294967296",
    ]  # fmt: skip
    launcher.launch(
        ProcSpec("etcd", etcd, log("etcd")),
        {"http": f"http://127.0.0.1:{etcd_port}/health", "status": [200]},
        30,
    )

    api_port = free_port()
    apiserver = [
        _binary("kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{etcd_port}",
        "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
        f"--secure-port={api_port}",
        f"--tls-cert-file={cluster.serving}", f"--tls-private-key-file={cluster.serving_key}",
        f"--client-ca-file={cluster.ca}",
        "--service-account-issuer=https://kubernetes.default.svc",
        f"--service-account-key-file={cluster.sa_pub}",
        f"--service-account-signing-key-file={cluster.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        # A loopback address may not be a Service endpoint: don't keep `kubernetes`'s.
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        f"--cert-dir={base / 'apiserver-certs'}",
    ]  # fmt: skip
    launcher.launch(
        # Killed outright: a graceful stop keeps answering for many seconds.
        ProcSpec("kube-apiserver", apiserver, log("kube-apiserver"), stop_signal=signal.SIGKILL),
        {
            "http": f"https://127.0.0.1:{api_port}/readyz",
            "status": [200],
            "ca": str(cluster.ca),
            "cert": str(cluster.admin),
            "key": str(cluster.admin_key),
        },
        180,
    )
    internal = base / "internal.kubeconfig"
    internal.write_text(certs.kubeconfig(cluster, f"https://127.0.0.1:{api_port}"))

    cm_port, sched_port, kwok_port = free_port(), free_port(), free_port()
    controller_manager = [
        _binary("kube-controller-manager"),
        f"--kubeconfig={internal}",
        f"--authentication-kubeconfig={internal}", f"--authorization-kubeconfig={internal}",
        "--bind-address=127.0.0.1", f"--secure-port={cm_port}",
        f"--cert-dir={base / 'cm-certs'}",
        "--leader-elect=false",  # a stopped apiserver must not make it exit
        f"--service-account-private-key-file={cluster.sa_key}",
        f"--root-ca-file={cluster.ca}",
        "--use-service-account-credentials=false",
        f"--cluster-signing-cert-file={cluster.ca}", f"--cluster-signing-key-file={cluster.ca_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--controllers=*,-nodeipam,-cloud-node-lifecycle",
        # Tests stop the apiserver and load the 2 cores: don't let the fake nodes go
        # NotReady (and their Pods unavailable) over a late heartbeat.
        "--node-monitor-grace-period=2m",
        "--profiling=false",
    ]  # fmt: skip
    scheduler = [
        _binary("kube-scheduler"),
        f"--kubeconfig={internal}",
        f"--authentication-kubeconfig={internal}", f"--authorization-kubeconfig={internal}",
        "--bind-address=127.0.0.1", f"--secure-port={sched_port}",
        f"--cert-dir={base / 'scheduler-certs'}",
        "--leader-elect=false",
        "--profiling=false",
    ]  # fmt: skip
    kwok = [
        _binary("kwok"),
        f"--kubeconfig={internal}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={KWOK_SELECTOR}",
        "--manage-nodes-with-label-selector=",
        "--disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom",
        "--disregard-status-with-label-selector=",
        f"--cidr={POD_CIDR}",
        "--node-ip=10.244.0.1",
        f"--server-address=127.0.0.1:{kwok_port}",
        "--node-lease-duration-seconds=40",  # Lease heartbeats, as kubelets do
    ]  # fmt: skip
    cm_name, sched_name = "kube-controller-manager", "kube-scheduler"
    launcher.launch_together(
        [
            (ProcSpec(cm_name, controller_manager, log(cm_name)), _healthz(cm_port), 120),
            (ProcSpec(sched_name, scheduler, log(sched_name)), _healthz(sched_port), 120),
            (ProcSpec("kwok", kwok, log("kwok")), {"tcp": kwok_port}, 60),
        ]
    )

    items = [node_manifest(name, arch) for name, arch in NODES.items()]
    nodes = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    kubectl_internal = [kubectl, f"--kubeconfig={internal}"]
    run([*kubectl_internal, "apply", "-f", "-"], what="kubectl apply nodes", input=nodes)
    wait = ["wait", "--for=condition=Ready", "--timeout=90s", *(f"node/{n}" for n in NODES)]
    run([*kubectl_internal, *wait], what="waiting for the kwok nodes to be Ready")
    _wait_default_service_account(kubectl_internal, 60)

    public = free_port()
    launcher.forwarder("apiserver-proxy", [(public, api_port)])
    kubeconfig = paths.ROOT / "kubeconfig"
    kubeconfig.write_text(certs.kubeconfig(cluster, f"https://127.0.0.1:{public}"))
    paths.BIN_DIR.mkdir(parents=True, exist_ok=True)
    link = paths.BIN_DIR / "kubectl"
    link.unlink(missing_ok=True)
    link.symlink_to(kubectl)
    launcher.component.values.update(kubeconfig=str(kubeconfig), kubectl=str(link))


def _wait_default_service_account(kubectl: list[str], timeout: float) -> None:
    """Pods can only be created once the controller-manager made the `default` account."""
    deadline = time.monotonic() + timeout
    argv = [*kubectl, "get", "serviceaccount", "default", "-n", "default", "-o", "name"]
    while subprocess.run(argv, capture_output=True, check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise TestenvError("no default ServiceAccount: is kube-controller-manager working?")
        time.sleep(0.5)
