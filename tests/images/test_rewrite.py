"""Registry rewrite per tier, over every container list of every workload kind."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from agent.images import InvalidReferenceError, RegistryRewrite, image_uses, parse_reference
from agent.images._bundle import map_images
from agent.model import Bundle
from agent.tiers import Tier

TIER = Tier(name="edge-site-a", overlay="edge-site-a", registry="harbor-edge-a.local",
            rewrite=("registry.example.com",))


def rewrite(text: str, tier: Tier = TIER, override: str | None = None) -> str:
    return str(RegistryRewrite.for_tier(tier, override).apply(parse_reference(text)))


@pytest.mark.parametrize(("source", "expected"), [
    ("registry.example.com/team/app:1.0", "harbor-edge-a.local/team/app:1.0"),
    ("registry.example.com/app", "harbor-edge-a.local/app"),
    ("registry.example.com/team/app@sha256:" + "a" * 64,
     "harbor-edge-a.local/team/app@sha256:" + "a" * 64),
    # Prefixes match whole path components only.
    ("registry.example.com.evil/app:1", "registry.example.com.evil/app:1"),
    ("busybox:1.36", "docker.io/library/busybox:1.36"),
    ("harbor-edge-a.local/x/y:1", "harbor-edge-a.local/x/y:1"),
])
def test_rewrite(source: str, expected: str) -> None:
    assert rewrite(source) == expected


def test_override_replaces_the_tier_host() -> None:
    assert rewrite("registry.example.com/team/app:1.0", override="127.0.0.1:5000") \
        == "127.0.0.1:5000/team/app:1.0"
    # Images already on the tier registry follow the override too; others do not.
    assert rewrite("harbor-edge-a.local/x:1", override="127.0.0.1:5000") == "127.0.0.1:5000/x:1"
    assert rewrite("quay.io/x:1", override="127.0.0.1:5000") == "quay.io/x:1"


def test_tier_registry_with_project_path_and_longest_prefix() -> None:
    tier = Tier(name="t", overlay="t", registry="harbor.local/edge",
                rewrite=("registry.example.com", "registry.example.com/team", "library"))
    assert rewrite("registry.example.com/team/app", tier) == "harbor.local/edge/app"
    assert rewrite("registry.example.com/other/app", tier) == "harbor.local/edge/other/app"
    assert rewrite("busybox", tier) == "harbor.local/edge/busybox"


@pytest.mark.parametrize(("registry", "override", "where"), [
    ("not a host", None, "tiers.t.registry"),
    ("harbor", None, "tiers.t.registry"),
    ("harbor.local", "127.0.0.1:5000/path", "images.registry_override"),
    ("harbor.local", "bad host!", "images.registry_override"),
])
def test_bad_registry_config(registry: str, override: str | None, where: str) -> None:
    tier = Tier(name="t", overlay="t", registry=registry)
    with pytest.raises(InvalidReferenceError, match="registry") as info:
        RegistryRewrite.for_tier(tier, override)
    assert where in str(info.value)


def pod_spec(image: str) -> dict[str, Any]:
    return {"initContainers": [{"name": "init", "image": f"{image}-init"}],
            "containers": [{"name": "main", "image": image}, {"name": "side"}],
            "ephemeralContainers": [{"name": "debug", "image": f"{image}-debug"}]}


def workloads() -> list[dict[str, Any]]:
    template = {"template": {"spec": pod_spec("registry.example.com/t/x")}}
    return [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"},
         "spec": pod_spec("registry.example.com/t/pod")},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
         "spec": copy.deepcopy(template)},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s"},
         "spec": copy.deepcopy(template)},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
         "spec": copy.deepcopy(template)},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
         "spec": copy.deepcopy(template)},
        {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
         "spec": copy.deepcopy(template)},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
         "spec": copy.deepcopy(template)},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
         "spec": {"jobTemplate": {"spec": copy.deepcopy(template)}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
         "data": {"image": "registry.example.com/not/an/image"}},
        {"apiVersion": "example.com/v1", "kind": "Deployment", "metadata": {"name": "crd"},
         "spec": copy.deepcopy(template)},
    ]


def test_every_container_list_of_every_workload_kind() -> None:
    bundle = Bundle(tuple(workloads()))
    before = copy.deepcopy(bundle.objects)
    uses = image_uses(bundle)
    # 8 workload kinds x (init, main, ephemeral); the sidecar without image is skipped,
    # the ConfigMap and the custom resource are not workloads.
    assert len(uses) == 24
    assert {u.subject.split("/")[0] for u in uses} == {
        "Pod", "Deployment.apps", "StatefulSet.apps", "DaemonSet.apps", "ReplicaSet.apps",
        "ReplicationController", "Job.batch", "CronJob.batch"}
    cronjob = [u for u in uses if u.subject.startswith("CronJob")]
    assert cronjob[0].field == "spec.jobTemplate.spec.template.spec.initContainers[init].image"

    rules = RegistryRewrite.for_tier(TIER, "127.0.0.1:5000")
    out = map_images(bundle, lambda s: str(rules.apply(parse_reference(s))))
    assert bundle.objects == before, "the input bundle must not be modified"
    images = [u.image for u in image_uses(out)]
    assert len(images) == 24
    assert all(i.startswith("127.0.0.1:5000/t/") for i in images)
    assert out.objects[8] is bundle.objects[8]  # untouched objects are shared, not copied
    assert out.objects[9] is bundle.objects[9]


@pytest.mark.parametrize("bad", [None, "", 42, ["x"]])
def test_bad_image_field_names_the_object(bad: object) -> None:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "d", "namespace": "n"},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": bad}]}}}}
    with pytest.raises(InvalidReferenceError) as info:
        image_uses(Bundle((obj,)))
    assert "Deployment.apps/n/d" in str(info.value)
    assert "containers[c].image" in str(info.value)
