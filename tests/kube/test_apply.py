"""Server-side apply, no-op detection, prune and validation against the real apiserver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from agent.errors import KubeError
from agent.kube import KubeClient, ResourceManager
from agent.kube.apply import apply_bundle
from agent.kube.changeset import Action
from agent.kube.delete import prune
from agent.kube.wait import wait_healthy
from agent.model import Bundle
from agent.state import InventoryEntry
from tests.kube.kubefixtures import exists, get, kubectl

pytestmark = pytest.mark.k8s


def ns_obj(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def cm(name: str, ns: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns},
            "data": dict(data)}


def deploy(name: str, ns: str, replicas: int = 1) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main",
                                                           "image": "busybox:1.36"}]}}}}


def apply(mgr: ResourceManager, objs: list[dict[str, Any]],
          fingerprints: dict[str, tuple[str, str]] | None = None) -> Any:
    return apply_bundle(mgr, mgr.prepare(Bundle(tuple(objs))), fingerprints=fingerprints)


def fingerprints_of(result: Any) -> dict[str, tuple[str, str]]:
    return {d.subject: (d.digest, result.live[d.key]["metadata"]["resourceVersion"])
            for d in result.desired}


def actions(result: Any) -> dict[str, Action]:
    return {e.subject: e.action for e in result.changeset.entries}


def test_apply_then_noop_moves_no_resource_version(
        mgr: ResourceManager, kube: KubeClient, namespaces: Callable[[], str],
        kubeconfig: str) -> None:
    ns = namespaces()
    objs = [ns_obj(ns), cm("settings", ns, mode="a"), deploy("web", ns)]
    first = apply(mgr, objs)
    assert set(actions(first).values()) == {Action.created}
    live = get(kubeconfig, "configmap", "settings", ns)
    assert live["metadata"]["labels"]["edgesync.io/owner"] == mgr.owner
    # Let the Deployment controller finish its status writes: they move the version too.
    assert wait_healthy(mgr, first.desired, timeout=90).ok
    rvs = {k: get(kubeconfig, k, n, ns)["metadata"]["resourceVersion"]
           for k, n in (("configmap", "settings"), ("deployment", "web"))}

    # Without the fingerprint cache: dry runs only, no write.
    before = kube.counter.snapshot()
    second = apply(mgr, objs)
    after = kube.counter.snapshot()
    assert set(actions(second).values()) == {Action.unchanged}
    assert after["mutating"] == before["mutating"]

    # With it: one LIST per kind, nothing else.
    before = kube.counter.snapshot()
    third = apply(mgr, objs, fingerprints_of(second))
    after = kube.counter.snapshot()
    assert set(actions(third).values()) == {Action.unchanged}
    assert after["mutating"] == before["mutating"]
    assert after["total"] - before["total"] == 3  # Namespace, ConfigMap, Deployment lists
    assert rvs == {k: get(kubeconfig, k, n, ns)["metadata"]["resourceVersion"]
                   for k, n in (("configmap", "settings"), ("deployment", "web"))}


def test_changed_object_is_configured_others_untouched(
        mgr: ResourceManager, namespaces: Callable[[], str], kubeconfig: str) -> None:
    ns = namespaces()
    first = apply(mgr, [ns_obj(ns), cm("a", ns, k="1"), cm("b", ns, k="1")])
    rv_b = get(kubeconfig, "configmap", "b", ns)["metadata"]["resourceVersion"]
    second = apply(mgr, [ns_obj(ns), cm("a", ns, k="2"), cm("b", ns, k="1")],
                   fingerprints_of(first))
    assert actions(second) == {f"Namespace/{ns}": Action.unchanged,
                               f"ConfigMap/{ns}/a": Action.configured,
                               f"ConfigMap/{ns}/b": Action.unchanged}
    assert not any(e.drift for e in second.changeset.entries)
    assert get(kubeconfig, "configmap", "a", ns)["data"] == {"k": "2"}
    assert get(kubeconfig, "configmap", "b", ns)["metadata"]["resourceVersion"] == rv_b


def test_prune_removes_only_own_unprotected_objects(
        mgr: ResourceManager, namespaces: Callable[[], str], kubeconfig: str) -> None:
    ns = namespaces()
    keep = cm("keep", ns)
    kept_by_user = cm("protected", ns)
    kept_by_user["metadata"]["annotations"] = {"edgesync.io/prune": "disabled"}
    apply(mgr, [ns_obj(ns), keep, cm("gone", ns), kept_by_user, deploy("web", ns)])
    # An object nobody told the agent about, with the same name pattern, in the same namespace.
    kubectl(kubeconfig, "create", "configmap", "foreign", "-n", ns)
    stale = [InventoryEntry("v1", "ConfigMap", ns, "gone"),
             InventoryEntry("v1", "ConfigMap", ns, "protected"),
             InventoryEntry("v1", "ConfigMap", ns, "foreign"),
             InventoryEntry("apps/v1", "Deployment", ns, "web")]
    result = prune(mgr, stale)
    got = {e.subject: e.action for e in result.entries}
    assert got == {f"ConfigMap/{ns}/gone": Action.pruned,
                   f"Deployment.apps/{ns}/web": Action.pruned,
                   f"ConfigMap/{ns}/protected": Action.skipped}
    assert not exists(kubeconfig, "configmap", "gone", ns)
    assert exists(kubeconfig, "configmap", "protected", ns)
    assert exists(kubeconfig, "configmap", "foreign", ns)
    assert exists(kubeconfig, "configmap", "keep", ns)


def test_crd_and_custom_resource_in_one_bundle(
        mgr: ResourceManager, namespaces: Callable[[], str], kubeconfig: str) -> None:
    ns = namespaces()
    group = f"{ns}.example.com"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"widgets.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                        "openAPIV3Schema": {"type": "object", "properties": {"spec": {
                            "type": "object", "properties": {"size": {"type": "integer"}}}}}}}]}}
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget",
              "metadata": {"name": "w1", "namespace": ns}, "spec": {"size": 3}}
    try:
        # Custom resource first: the order in the bundle must not matter.
        result = apply(mgr, [widget, ns_obj(ns), crd])
        assert set(actions(result).values()) == {Action.created}
        assert get(kubeconfig, f"widgets.{group}", "w1", ns)["spec"] == {"size": 3}
        again = apply(mgr, [widget, ns_obj(ns), crd])
        assert set(actions(again).values()) == {Action.unchanged}
    finally:
        kubectl(kubeconfig, "delete", "crd", f"widgets.{group}", "--ignore-not-found",
                "--wait=false")


def test_invalid_object_means_nothing_is_written(
        mgr: ResourceManager, namespaces: Callable[[], str], kubeconfig: str) -> None:
    ns = namespaces()
    bad = deploy("bad", ns)
    bad["spec"]["replicas"] = -1
    with pytest.raises(KubeError) as err:
        apply(mgr, [ns_obj(ns), cm("fine", ns), bad])
    assert f"Deployment.apps/{ns}/bad" in str(err.value)
    assert "replicas" in str(err.value)
    assert "nothing was written" in str(err.value)
    assert not exists(kubeconfig, "namespace", ns)


def test_unknown_kind_is_a_clear_error(mgr: ResourceManager,
                                       namespaces: Callable[[], str], kubeconfig: str) -> None:
    ns = namespaces()
    odd = {"apiVersion": "example.com/v1", "kind": "Gizmo",
           "metadata": {"name": "g", "namespace": ns}}
    with pytest.raises(KubeError, match=r"unknown kind Gizmo in example\.com/v1") as err:
        apply(mgr, [ns_obj(ns), odd])
    assert "nothing was written" in str(err.value)
    assert not exists(kubeconfig, "namespace", ns)


def test_missing_namespace_is_named(mgr: ResourceManager, namespaces: Callable[[], str],
                                    kubeconfig: str) -> None:
    ns, absent = namespaces(), namespaces()
    with pytest.raises(KubeError) as err:
        apply(mgr, [ns_obj(ns), cm("c", ns), cm("d", absent)])
    assert f"ConfigMap/{absent}/d" in str(err.value)
    assert f'namespaces "{absent}" not found' in str(err.value)
    assert not exists(kubeconfig, "namespace", ns)


def test_conflict_with_another_field_manager_names_it(
        mgr: ResourceManager, kube: KubeClient, namespaces: Callable[[], str],
        kubeconfig: str) -> None:
    ns = namespaces()
    apply(mgr, [ns_obj(ns)])
    kubectl(kubeconfig, "apply", "--server-side", "--field-manager=ops-team", "-f", "-",
            stdin=f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: shared, namespace: {ns}}}"
                  "\ndata: {mode: manual}\n")
    with pytest.raises(KubeError) as err:
        apply(mgr, [ns_obj(ns), cm("shared", ns, mode="auto")])
    text = str(err.value)
    assert "conflict with another field manager" in text
    assert "ops-team" in text and ".data.mode" in text
    assert get(kubeconfig, "configmap", "shared", ns)["data"] == {"mode": "manual"}


def test_hand_edits_and_deletes_are_drift(
        mgr: ResourceManager, namespaces: Callable[[], str], kubeconfig: str) -> None:
    ns = namespaces()
    objs = [ns_obj(ns), cm("settings", ns, mode="a"), deploy("web", ns, replicas=2)]
    first = apply(mgr, objs)
    fps = fingerprints_of(first)
    kubectl(kubeconfig, "scale", "deployment/web", "-n", ns, "--replicas=5")
    kubectl(kubeconfig, "patch", "configmap", "settings", "-n", ns, "--type=merge",
            "-p", '{"data":{"mode":"hacked"}}')
    second = apply(mgr, objs, fps)
    drift = {e.subject for e in second.changeset.entries if e.drift}
    assert drift == {f"Deployment.apps/{ns}/web", f"ConfigMap/{ns}/settings"}
    assert get(kubeconfig, "deployment", "web", ns)["spec"]["replicas"] == 2
    assert get(kubeconfig, "configmap", "settings", ns)["data"] == {"mode": "a"}

    kubectl(kubeconfig, "delete", "configmap", "settings", "-n", ns)
    third = apply(mgr, objs, fingerprints_of(second))
    entry = next(e for e in third.changeset.entries if e.subject == f"ConfigMap/{ns}/settings")
    assert entry.action is Action.created and entry.drift
    assert second.changeset.counts()["drift_corrected"] == 2
