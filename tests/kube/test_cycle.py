"""The one-cycle pipeline through `edge-agent sync --once` on the real apiserver + kwok:
apply, no-op, prune, drift, rollback, offline, reinstall, diff and status."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.kube.kubefixtures import exists, get, kubectl

pytestmark = pytest.mark.k8s

AGENT = str(Path(sys.executable).parent / "edge-agent")


def agent(*args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=timeout,
                          check=False)


def sync(config: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    proc = agent("sync", "--once", "--config", str(config), "--output", "json", *extra)
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr)  # shown by pytest when the test fails
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError:
        raise AssertionError(f"no JSON from sync: {proc.stdout}\n{proc.stderr}") from None


def ns_obj(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def cm(name: str, ns: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns},
            "data": dict(data)}


def deploy(name: str, ns: str, deadline: int = 90, **pod: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": 1, "progressDeadlineSeconds": deadline,
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main",
                                                           "image": "busybox:1.36"}], **pod}}}}


def rv(kubeconfig: str, kind: str, name: str, ns: str) -> str:
    return str(get(kubeconfig, kind, name, ns)["metadata"]["resourceVersion"])


def test_apply_noop_prune(setup: Callable[..., Path], namespaces: Callable[[], str],
                          kubeconfig: str) -> None:
    ns = namespaces()
    objs = [ns_obj(ns), cm("a", ns, k="1"), cm("b", ns, k="1"), deploy("web", ns)]
    config = setup(objs)
    code, first = sync(config)
    assert code == 0, first
    assert first["result"] == "applied"
    assert first["changes"]["created"] == 4
    assert first["health"]["status"] == "Healthy"
    assert first["objects"] == 4
    before = {n: rv(kubeconfig, k, n, ns) for k, n in (("cm", "a"), ("cm", "b"),
                                                        ("deployment", "web"))}

    code, second = sync(config)
    assert code == 0, second
    assert second["result"] == "unchanged"
    assert second["revision"] == first["revision"]
    assert second["changes"] == {"created": 0, "configured": 0, "unchanged": 4, "pruned": 0,
                                 "drift_corrected": 0}
    assert second["requests"]["mutating"] == 0
    # discovery (2) + inventory ConfigMap (1) + one LIST per kind (3) + health LIST (1)
    assert second["requests"]["total"] <= 8, second["requests"]
    assert before == {n: rv(kubeconfig, k, n, ns) for k, n in (("cm", "a"), ("cm", "b"),
                                                                ("deployment", "web"))}

    config = setup([ns_obj(ns), cm("a", ns, k="2"), deploy("web", ns)])
    code, third = sync(config)
    assert code == 0, third
    assert third["revision"] != first["revision"]
    assert third["changes"]["pruned"] == 1 and third["changes"]["configured"] == 1
    assert not exists(kubeconfig, "cm", "b", ns)
    assert get(kubeconfig, "cm", "a", ns)["data"] == {"k": "2"}
    assert rv(kubeconfig, "deployment", "web", ns) == before["web"]

    proc = agent("status", "--config", str(config), "--output", "json")
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    status = json.loads(proc.stdout)
    assert status["revision"] == third["revision"]
    assert status["last_good_revision"] == third["revision"]
    assert status["result"] == "applied"
    assert status["last_sync"].endswith("Z")


def test_unschedulable_deployment_rolls_back(setup: Callable[..., Path],
                                             namespaces: Callable[[], str],
                                             kubeconfig: str) -> None:
    ns = namespaces()
    good = [ns_obj(ns), cm("settings", ns, mode="good"), deploy("web", ns)]
    code, first = sync(setup(good))
    assert code == 0 and first["result"] == "applied", (first["error"], first["health"])

    broken = deploy("edge-cam", ns, deadline=6,
                    nodeSelector={"edgesync.io/no-such-node": "true"})
    config = setup([ns_obj(ns), cm("settings", ns, mode="new"), deploy("web", ns), broken])
    code, second = sync(config)
    assert code != 0
    assert second["result"] == "rolled-back", second
    assert second["rolled_back_to"] == first["revision"]
    assert second["revision"] == first["revision"]
    assert second["failed_revision"] not in (None, first["revision"])
    reasons = {o["subject"]: o for o in second["health"]["objects"]}
    assert reasons[f"Deployment.apps/{ns}/edge-cam"]["status"] == "Degraded"
    assert "progress deadline" in reasons[f"Deployment.apps/{ns}/edge-cam"]["message"]
    assert "edge-cam" in second["error"]
    # The last good revision is back: its ConfigMap content, and the new Deployment gone.
    assert get(kubeconfig, "cm", "settings", ns)["data"] == {"mode": "good"}
    assert not exists(kubeconfig, "deployment", "edge-cam", ns)

    # Not retried while the source stays on the failed revision.
    code, third = sync(config)
    assert code != 0
    assert third["revision"] == first["revision"]
    assert third["failed_revision"] == second["failed_revision"]
    assert "until the source moves past it" in third["error"]
    assert third["requests"]["mutating"] == 0
    assert not exists(kubeconfig, "deployment", "edge-cam", ns)

    # A fixed revision moves the node forward again.
    fixed = deploy("edge-cam", ns)
    code, fourth = sync(setup([ns_obj(ns), cm("settings", ns, mode="new"),
                               deploy("web", ns), fixed]))
    assert code == 0 and fourth["result"] == "applied", (fourth["health"], fourth["error"])
    assert fourth["failed_revision"] is None


def test_hand_edit_and_delete_are_restored(setup: Callable[..., Path],
                                           namespaces: Callable[[], str],
                                           kubeconfig: str) -> None:
    ns = namespaces()
    config = setup([ns_obj(ns), cm("settings", ns, mode="a"), cm("other", ns, k="v")])
    assert sync(config)[0] == 0
    kubectl(kubeconfig, "patch", "cm", "settings", "-n", ns, "--type=merge",
            "-p", '{"data":{"mode":"edited-by-hand"}}')
    kubectl(kubeconfig, "delete", "cm", "other", "-n", ns)
    code, out = sync(config)
    assert code == 0, out
    assert out["result"] == "applied"
    assert out["changes"]["drift_corrected"] == 2
    assert out["changes"]["created"] == 0 and out["changes"]["configured"] == 0
    assert get(kubeconfig, "cm", "settings", ns)["data"] == {"mode": "a"}
    assert exists(kubeconfig, "cm", "other", ns)


def test_offline_reapplies_last_good_without_the_source(
        setup: Callable[..., Path], namespaces: Callable[[], str], kubeconfig: str,
        tmp_path: Path) -> None:
    ns = namespaces()
    config = setup([ns_obj(ns), cm("settings", ns, mode="a")])
    code, first = sync(config)
    assert code == 0
    (tmp_path / "repo").rename(tmp_path / "repo-away")
    kubectl(kubeconfig, "delete", "cm", "settings", "-n", ns)
    code, out = sync(config, "--offline")
    assert code == 0, out
    assert out["revision"] == first["revision"]
    assert out["changes"]["drift_corrected"] == 1
    assert exists(kubeconfig, "cm", "settings", ns)
    code, out = sync(config)
    assert code != 0 and out["result"] == "failed"
    assert "source.path" in out["error"]


def test_reinstalled_agent_prunes_from_the_cluster_inventory(
        setup: Callable[..., Path], namespaces: Callable[[], str], kubeconfig: str,
        tmp_path: Path, node: str) -> None:
    ns = namespaces()
    assert sync(setup([ns_obj(ns), cm("a", ns), cm("b", ns)]))[0] == 0
    inventory = get(kubeconfig, "cm", f"edgesync-inventory-{node}", "edgesync-system")
    assert f'"{ns}", "b"' in inventory["data"]["inventory"]
    subprocess.run(["rm", "-rf", str(tmp_path / "state")], check=True)
    code, out = sync(setup([ns_obj(ns), cm("a", ns)]))
    assert code == 0, out
    assert out["changes"]["pruned"] == 1
    assert not exists(kubeconfig, "cm", "b", ns)


def test_diff_shows_what_would_change(setup: Callable[..., Path],
                                      namespaces: Callable[[], str], kubeconfig: str) -> None:
    ns = namespaces()
    assert sync(setup([ns_obj(ns), cm("settings", ns, mode="a")]))[0] == 0
    config = setup([ns_obj(ns), cm("settings", ns, mode="b"), cm("extra", ns, k="v")])
    proc = agent("diff", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert f"--- live/ConfigMap/{ns}/settings" in proc.stdout
    assert "-  mode: a" in proc.stdout and "+  mode: b" in proc.stdout
    assert f"+++ desired/ConfigMap/{ns}/extra" in proc.stdout
    assert "2 of 3 objects would change" in proc.stdout
    assert get(kubeconfig, "cm", "settings", ns)["data"] == {"mode": "a"}
    assert not exists(kubeconfig, "cm", "extra", ns)

    # Objects of a namespace the bundle creates are shown as they will be created.
    other = namespaces()
    proc = agent("diff", "--config", str(setup([ns_obj(ns), ns_obj(other),
                                                 cm("fresh", other, k="v")])))
    assert proc.returncode == 0, proc.stderr
    assert f"+++ desired/ConfigMap/{other}/fresh" in proc.stdout
    assert "+  name: fresh" in proc.stdout and "dry run failed" not in proc.stdout
    assert not exists(kubeconfig, "namespace", other)


def test_rejected_revision_writes_nothing_and_is_tried_again(
        setup: Callable[..., Path], namespaces: Callable[[], str], kubeconfig: str) -> None:
    ns = namespaces()
    code, first = sync(setup([ns_obj(ns), cm("a", ns, k="1")]))
    assert code == 0, first
    kubectl(kubeconfig, "apply", "--server-side", "--field-manager=ops-team", "-f", "-",
            stdin=f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: shared, namespace: {ns}}}"
                  "\ndata: {mode: manual}\n")
    config = setup([ns_obj(ns), cm("a", ns, k="2"), cm("shared", ns, mode="auto")])
    code, second = sync(config)
    assert code != 0 and second["result"] == "failed"
    assert "ops-team" in second["error"] and ".data.mode" in second["error"]
    assert second["revision"] == first["revision"]  # the node stays where it was
    assert second["failed_revision"] not in (None, first["revision"])
    assert get(kubeconfig, "cm", "a", ns)["data"] == {"k": "1"}  # nothing was written
    # The operator settles the conflict in the cluster; the same revision now applies.
    kubectl(kubeconfig, "delete", "cm", "shared", "-n", ns)
    code, third = sync(config)
    assert code == 0, third
    assert third["revision"] == second["failed_revision"]
    assert get(kubeconfig, "cm", "shared", ns)["data"] == {"mode": "auto"}
