"""The example fleet repo (`overlays/`) renders for every tier, as kubectl renders it,
and each tier's output obeys its tiers.yaml entry."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.render import render_tier
from agent.render.yamlio import load_all
from agent.tiers import load_tiers
from tests.reference_kubectl import reference_kubectl

REPO = Path(__file__).resolve().parents[2] / "overlays"
TIERS = sorted(load_tiers(REPO).tiers)


@pytest.mark.parametrize("tier", TIERS)
def test_tier_matches_kubectl(tier: str) -> None:
    ours = list(render_tier(REPO, tier))
    kubectl = reference_kubectl()
    if kubectl is None:
        pytest.skip("no kubectl with Kustomize v5.5.0 (the reference); policy checks still run")
    out = subprocess.run([kubectl, "kustomize", str(REPO / tier)], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    assert ours == load_all(out, "kubectl")


@pytest.mark.parametrize("tier", TIERS)
def test_tier_follows_policy(tier: str) -> None:
    policy = load_tiers(REPO).get(tier)
    objs = list(render_tier(REPO, tier))
    kinds = [o["kind"] for o in objs]
    assert kinds[0] == "Namespace"
    namespace = objs[0]["metadata"]["name"]
    assert namespace == f"edgesync-{tier}"
    assert all(o["metadata"].get("namespace") == namespace for o in objs[1:])
    assert "NetworkPolicy" in kinds
    deploy = next(o for o in objs if o["kind"] == "Deployment")
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"{policy.registry}/edgesync/busybox:multi"
    limits = container["resources"]["limits"]
    assert _mebibytes(limits["memory"]) <= _mebibytes(policy.caps.memory or "1Ti")
    if policy.caps.cpu:
        assert _millicores(limits["cpu"]) <= _millicores(policy.caps.cpu)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert deploy["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    # Generated names carry the hash suffix and the Deployment points at them.
    cm = next(o for o in objs if o["kind"] == "ConfigMap")["metadata"]["name"]
    volumes = deploy["spec"]["template"]["spec"]["volumes"]
    assert volumes[0]["configMap"]["name"] == cm != "hello-content"


def _mebibytes(q: str) -> float:
    units = {"Mi": 1.0, "Gi": 1024.0, "Ti": 1024.0 * 1024}
    return float(q[:-2]) * units[q[-2:]]


def _millicores(q: str) -> float:
    return float(q[:-1]) if q.endswith("m") else float(q) * 1000
