"""Waiver annotations, the blocking error, and robustness against malformed objects."""

from __future__ import annotations

from typing import Any

import pytest

from agent.errors import PolicyError
from agent.model import Bundle
from agent.policy import RULES, Violation, blocking, check_bundle, enforce
from agent.tiers import Caps, Tier

TIER = Tier(name="edge", overlay="edge", registry="r.local", caps=Caps(cpu="1", memory="2Gi"))


def good_deployment(**annotations: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "apps", "annotations": dict(annotations)},
        "spec": {"template": {"spec": {
            "securityContext": {"runAsNonRoot": True},
            "containers": [{
                "name": "app",
                "image": "registry.example.com/web:2.0.1",
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                              "limits": {"cpu": "500m", "memory": "128Mi"}},
                "securityContext": {"readOnlyRootFilesystem": True,
                                    "allowPrivilegeEscalation": False},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
            }],
        }}},
    }


def test_a_well_made_deployment_passes_every_rule() -> None:
    assert check_bundle(Bundle((good_deployment(),)), TIER) == ()
    assert enforce(Bundle((good_deployment(),)), TIER) == ()


def test_a_waiver_with_a_reason_keeps_the_violation_but_does_not_block() -> None:
    obj = good_deployment(**{"edgesync.io/waive-image-tag": "vendor ships only :latest"})
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "vendor/box:latest"
    found = check_bundle(Bundle((obj,)), TIER)
    assert found == (Violation("image-tag", "Deployment.apps/apps/web",
                               "container 'app' image 'vendor/box:latest' uses the moving tag "
                               "latest; pin a version", "vendor ships only :latest"),)
    assert blocking(found) == ()
    assert enforce(Bundle((obj,)), TIER) == found


def test_a_waiver_without_a_reason_is_ignored_and_said_so() -> None:
    obj = good_deployment(**{"edgesync.io/waive-image-tag": "  "})
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "vendor/box"
    found = check_bundle(Bundle((obj,)), TIER)
    assert [v.rule for v in blocking(found)] == ["image-tag", "image-tag"]
    assert "needs a reason" in found[0].message


def test_a_waiver_covers_only_its_own_rule() -> None:
    obj = good_deployment(**{"edgesync.io/waive-readiness-probe": "batch worker, no port"})
    container = obj["spec"]["template"]["spec"]["containers"][0]
    del container["readinessProbe"]
    del container["securityContext"]
    found = check_bundle(Bundle((obj,)), TIER)
    assert {(v.rule, v.waived) for v in found} == {
        ("readiness-probe", True), ("read-only-root-filesystem", False),
        ("no-privilege-escalation", False)}


def test_enforce_raises_a_policy_error_naming_every_blocking_violation() -> None:
    bad = good_deployment()
    bad["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "3"
    bad["spec"]["template"]["spec"]["containers"][0]["image"] = "web"
    with pytest.raises(PolicyError) as info:
        enforce(Bundle((bad,)), TIER, where="rev abc123")
    text = str(info.value)
    assert text.startswith("rev abc123: 2 tier edge policy violations")
    assert "[image-tag]" in text and "[resources]" in text
    assert "limits.cpu 3 exceeds the edge tier cap of 1" in text
    assert "nothing was applied" in text


@pytest.mark.parametrize("obj", [
    {"kind": "Deployment", "spec": {"template": {"spec": {"containers": "not-a-list"}}}},
    {"kind": "Pod", "metadata": None, "spec": {"containers": [None, 7, {"name": 3}]}},
    {"kind": "ConfigMap", "metadata": {"annotations": ["x"]}, "data": {"k": 1},
     "binaryData": {"b": "!!notbase64"}},
    {"kind": "Pod", "spec": {"containers": [{"name": "a", "image": "a:1",
                                             "resources": {"limits": {"cpu": [1]}}}]}},
])
def test_malformed_objects_give_violations_not_exceptions(obj: dict[str, Any]) -> None:
    found = check_bundle(Bundle((obj,)), TIER)
    assert all(isinstance(v, Violation) for v in found)


def test_a_bad_tier_cap_is_reported_not_raised() -> None:
    tier = Tier(name="odd", overlay="o", registry="r", caps=Caps(memory="lots"))
    found = check_bundle(Bundle((good_deployment(),)), tier)
    assert [v.message for v in found] == [
        "tier odd caps.memory: 'lots' is not a Kubernetes quantity (e.g. 500m, 1, 2Gi, 1e3)"] * 2


def test_rule_ids_are_unique_and_valid_annotation_suffixes() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert all(i.replace("-", "").isalpha() and i.islower() for i in ids)
