"""Pure parts of agent/kube: kubeconfig parsing, apply order, change counts, ownership."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from agent.errors import KubeError
from agent.kube.changeset import Action, ChangeSet, ChangeSetEntry
from agent.kube.kubeconfig import load_connection
from agent.kube.manager import comparable, owner_value
from agent.kube.sort import rank


def _self_signed(tmp_path: Path) -> tuple[bytes, bytes]:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=edgesync-test", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(tmp_path / "c.pem")], check=True, capture_output=True)
    return (tmp_path / "c.pem").read_bytes(), (tmp_path / "k.pem").read_bytes()


def test_kubeconfig_with_embedded_certs_and_token_file(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    (tmp_path / "tok").write_text("s3cret\n")
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    (tmp_path / "kc").write_text(f"""
apiVersion: v1
kind: Config
current-context: c
contexts: [{{name: c, context: {{cluster: k, user: u}}}}]
clusters: [{{name: k, cluster: {{server: "https://127.0.0.1:6443/",
  certificate-authority-data: {b64(cert)}}}}}]
users: [{{name: u, user: {{client-certificate-data: {b64(cert)}, client-key-data: {b64(key)},
  tokenFile: tok}}}}]
""")
    conn = load_connection(str(tmp_path / "kc"))
    assert conn.server == "https://127.0.0.1:6443"
    assert conn.token == "s3cret"
    assert not isinstance(conn.ssl_context, bool)


def test_kubeconfig_errors_name_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "kc").write_text("current-context: nope\ncontexts: []\n")
    with pytest.raises(KubeError, match="context 'nope' is not defined"):
        load_connection(str(tmp_path / "kc"))
    with pytest.raises(KubeError, match="cannot read kubeconfig"):
        load_connection(str(tmp_path / "absent"))


def test_apply_order() -> None:
    objs = [({"kind": "Deployment"}, True), ({"kind": "Namespace"}, False),
            ({"kind": "Widget"}, True), ({"kind": "CustomResourceDefinition"}, False),
            ({"kind": "ClusterRole"}, False), ({"kind": "Gizmo"}, False),
            ({"kind": "ConfigMap"}, True), ({"kind": "Service"}, True)]
    order = [o["kind"] for o, ns in sorted(objs, key=lambda x: rank(x[0], x[1]))]
    assert order[:2] == ["CustomResourceDefinition", "Namespace"]
    assert order.index("Gizmo") < order.index("ConfigMap") < order.index("Deployment")
    assert order.index("Service") < order.index("Deployment")


def test_counts_keep_drift_apart() -> None:
    cs = ChangeSet.of([ChangeSetEntry("a", Action.created), ChangeSetEntry("b", Action.unchanged),
                       ChangeSetEntry("c", Action.configured, drift=True),
                       ChangeSetEntry("d", Action.pruned)])
    assert cs.counts() == {"created": 1, "configured": 0, "unchanged": 1, "pruned": 1,
                           "drift_corrected": 1}
    assert cs.changed
    assert not ChangeSet.of([ChangeSetEntry("b", Action.unchanged)]).changed


def test_owner_label_value() -> None:
    assert owner_value("gw-001") == "gw-001"
    odd = owner_value("gw 001/π")
    assert odd.startswith("h-") and len(odd) <= 63


def test_comparable_ignores_what_every_write_moves() -> None:
    a = {"kind": "X", "metadata": {"name": "n", "resourceVersion": "1", "generation": 1,
                                   "managedFields": [1]}, "__status__": 200}
    b = {"kind": "X", "metadata": {"name": "n", "resourceVersion": "9", "generation": 2}}
    assert comparable(a) == comparable(b)
    b["metadata"]["labels"] = {"x": "y"}
    assert comparable(a) != comparable(b)


def test_in_cluster_config_reads_the_service_account(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.kube import kubeconfig

    cert, _ = _self_signed(tmp_path)
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("pod-token\n")
    (sa / "ca.crt").write_bytes(cert)
    monkeypatch.setattr(kubeconfig, "IN_CLUSTER_DIR", sa)  # where a pod has it mounted
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    conn = load_connection(None)
    assert conn.server == "https://[fd00::1]:6443"
    assert conn.token == "pod-token"
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(KubeError, match="not a pod"):
        load_connection(None)


def test_credential_plugins_are_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "kc").write_text("""
current-context: c
contexts: [{name: c, context: {cluster: k, user: cloud}}]
clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: cloud, user: {exec: {command: aws, args: [eks, get-token]}}}]
""")
    with pytest.raises(KubeError, match="'cloud' authenticates with an exec plugin"):
        load_connection(str(tmp_path / "kc"))
