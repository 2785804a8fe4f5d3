"""Strategic merge: table cases checked against `kubectl kustomize` 5.5.0, and properties."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.errors import RenderError
from agent.render.strategic_merge import strategic_merge


def deploy(pod_spec: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", **meta},
        "spec": {"template": {"spec": pod_spec}},
    }


def pod_spec(obj: dict[str, Any]) -> Any:
    return obj["spec"]["template"]["spec"]


def containers(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "image": n} for n in names]


# Each row: target pod spec, patch pod spec, expected pod spec (from kubectl kustomize).
POD_SPEC_CASES = [
    pytest.param(
        {"containers": containers("a", "b")},
        {"containers": [{"name": "c", "image": "c"}]},
        {"containers": [*containers("c"), *containers("a", "b")]},
        id="new-container-is-prepended",
    ),
    pytest.param(
        {"containers": containers("a", "b")},
        {"containers": [{"name": "b", "image": "B"}, {"name": "c", "image": "c"}]},
        {"containers": [{"name": "b", "image": "B"}, {"name": "c", "image": "c"},
                        *containers("a")]},
        id="patched-and-new-containers-first",
    ),
    pytest.param(
        {"containers": containers("a", "b")},
        {"containers": [{"name": "b", "$patch": "delete"}]},
        {"containers": containers("a")},
        id="element-delete",
    ),
    pytest.param(
        {"containers": containers("a", "b")},
        {"containers": [{"name": "c", "image": "c"}, {"$patch": "replace"}]},
        {"containers": containers("c")},
        id="list-replace",
    ),
    pytest.param(
        {"containers": containers("a", "b")},
        {"containers": [{"$patch": "delete"}]},
        {},
        id="list-delete",
    ),
    pytest.param(
        {"containers": containers("a", "b")},
        {"containers": [{"image": "noname"}]},
        {"containers": []},
        id="element-without-merge-key-empties-list",
    ),
    pytest.param(
        {"containers": containers("a", "b", "a")},
        {"containers": [{"name": "a", "image": "X"}]},
        {"containers": containers("a", "b")},
        id="duplicated-target-key-last-wins",
    ),
    pytest.param(
        {"containers": containers("a", "b")},
        {"containers": [{"name": "a", "image": "X"}, {"name": "a", "image": "Y"}]},
        {"containers": [{"name": "a", "image": "X"}, *containers("b")]},
        id="duplicated-patch-key-first-wins",
    ),
    pytest.param(
        {"volumes": [{"name": "v", "emptyDir": {}}]},
        {"volumes": [{"name": "v", "$patch": "replace", "configMap": {"name": "x"}}]},
        {"volumes": [{"name": "v", "emptyDir": {}}]},
        id="element-replace-has-no-effect",
    ),
    pytest.param(
        {"volumes": [{"name": "v", "emptyDir": {}}]},
        {"volumes": [{"name": "v", "emptyDir": None, "configMap": {"name": "x"}}]},
        {"volumes": [{"name": "v", "configMap": {"name": "x"}}]},
        id="null-removes-field",
    ),
    pytest.param(
        {"volumes": [{"name": "v1", "emptyDir": {}}, {"name": "v2", "emptyDir": {}}]},
        {"volumes": [{"name": "v3", "emptyDir": {}}]},
        {"volumes": [{"name": "v3", "emptyDir": {}}, {"name": "v1", "emptyDir": {}},
                     {"name": "v2", "emptyDir": {}}]},
        id="volumes-merge-by-name",
    ),
    pytest.param(
        {"tolerations": [{"key": "a", "operator": "Exists"}]},
        {"tolerations": [{"key": "b", "operator": "Exists"}]},
        {"tolerations": [{"key": "b", "operator": "Exists"}]},
        id="tolerations-are-atomic",
    ),
    pytest.param(
        {"containers": [{"name": "a", "ports": [{"containerPort": 80},
                                                {"containerPort": 53, "protocol": "UDP"}]}]},
        {"containers": [{"name": "a", "ports": [{"containerPort": 53, "protocol": "TCP"}]}]},
        {"containers": [{"name": "a", "ports": [{"containerPort": 53, "protocol": "TCP"},
                                                {"containerPort": 80},
                                                {"containerPort": 53, "protocol": "UDP"}]}]},
        id="ports-keyed-by-port-and-protocol",
    ),
    pytest.param(
        {"containers": [{"name": "a", "ports": [{"containerPort": 80, "protocol": "TCP"},
                                                {"containerPort": 81, "protocol": "TCP"}]}]},
        {"containers": [{"name": "a", "ports": [{"containerPort": 81, "protocol": "TCP",
                                                 "name": "h"},
                                                {"containerPort": 82, "protocol": "TCP"}]}]},
        {"containers": [{"name": "a", "ports": [{"containerPort": 82, "protocol": "TCP"},
                                                {"containerPort": 80, "protocol": "TCP"},
                                                {"containerPort": 81, "protocol": "TCP",
                                                 "name": "h"}]}]},
        id="ports-rekeyed-element-moves-last",
    ),
    pytest.param(
        {"containers": [{"name": "a", "image": None}], "x": None},
        {"containers": [{"name": "a", "tty": True}]},
        {"containers": [{"name": "a", "image": None, "tty": True}], "x": None},
        id="target-nulls-stay",
    ),
    pytest.param(
        {"nodeName": "n"},
        {"containers": [{"name": "c"}, {"$patch": "replace"}]},
        {"nodeName": "n", "containers": [{"$patch": "replace"}]},
        id="directive-in-new-list-is-kept",
    ),
    pytest.param(
        {"containers": containers("a")},
        {"$setElementOrder/containers": [{"name": "a"}],
         "containers": [{"name": "a", "image": "k"}]},
        {"containers": [{"name": "a", "image": "k"}],
         "$setElementOrder/containers": [{"name": "a"}]},
        id="setElementOrder-is-a-plain-field",
    ),
]


@pytest.mark.parametrize(("target", "patch", "expected"), POD_SPEC_CASES)
def test_pod_spec_merge_matches_kustomize(
    target: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    result = strategic_merge(deploy(target), deploy(patch))
    assert pod_spec(result) == expected


def test_finalizers_are_a_union_with_patch_values_first() -> None:
    target = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a",
                                                                  "finalizers": ["x", "y"]}}
    patch = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a",
                                                                 "finalizers": ["z", "x"]}}
    assert strategic_merge(target, patch)["metadata"]["finalizers"] == ["z", "x", "y"]


def test_lists_of_kinds_without_schema_are_replaced() -> None:
    target = {"apiVersion": "ex.com/v1", "kind": "Foo", "metadata": {"name": "a"},
              "spec": {"items": [{"name": "a", "v": 1}, {"name": "b", "v": 1}]}}
    patch = {"apiVersion": "ex.com/v1", "kind": "Foo", "metadata": {"name": "a"},
             "spec": {"items": [{"name": "a", "v": 2}]}}
    assert strategic_merge(target, patch)["spec"]["items"] == [{"name": "a", "v": 2}]


def test_service_ports_merge_by_port() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}
    result = strategic_merge({**svc, "spec": {"ports": [{"port": 80, "name": "x"}]}},
                             {**svc, "spec": {"ports": [{"port": 80, "name": "y"}]}})
    assert result["spec"]["ports"] == [{"port": 80, "name": "y"}]


SERVICE_PORT_CASES = [
    pytest.param([{"port": 443}, {"port": 80}], [{}], [{"port": 80}, {"port": 443}],
                 id="empty-element-reorders"),
    pytest.param([{"port": 443}, {"port": 80}], [{"protocol": "TCP"}],
                 [{"protocol": "TCP"}, {"port": 443}, {"port": 80}], id="element-without-port"),
    pytest.param([{"port": 443}, {"port": 80}, {}], [{"port": 80, "name": "h"}], [{}],
                 id="empty-target-element"),
    pytest.param(None, [{"port": 80, "name": "a", "$patch": "delete"},
                        {"port": 53, "protocol": "UDP"}],
                 [{"port": 80, "name": "a"}, {"port": 53, "protocol": "UDP"}],
                 id="delete-in-new-list-is-stripped-not-applied"),
]


@pytest.mark.parametrize(("target_ports", "patch_ports", "expected"), SERVICE_PORT_CASES)
def test_service_ports_quirks_match_kustomize(
    target_ports: list[Any] | None, patch_ports: list[Any], expected: list[Any]
) -> None:
    svc: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}}
    target = {**svc, "spec": {}} if target_ports is None else {**svc,
                                                              "spec": {"ports": target_ports}}
    result = strategic_merge(target, {**svc, "spec": {"ports": patch_ports}})
    assert result["spec"]["ports"] == expected


def test_top_level_delete_empties_the_object() -> None:
    assert strategic_merge(deploy({"containers": containers("a")}),
                           {**deploy({}), "$patch": "delete"}) == {}


@pytest.mark.parametrize(
    ("patch_spec", "message"),
    [
        ({"containers": {"name": "a"}}, "expected SequenceNode but got MappingNode"),
        ({"containers": "x"}, "expected SequenceNode but got ScalarNode"),
        ({"containers": [{"name": "a", "image": {"x": 1}}]}, "expected ScalarNode but got Mapping"),
        ({"containers": [{"name": "a", "$patch": "foo"}]}, "unknown patch strategy 'foo'"),
        ({"$patch": "foo"}, "unknown patch strategy 'foo'"),
    ],
)
def test_bad_patches_raise_render_error(patch_spec: dict[str, Any], message: str) -> None:
    with pytest.raises(RenderError, match=message) as caught:
        strategic_merge(deploy({"containers": containers("a")}), deploy(patch_spec),
                        where="overlay/patch.yaml")
    assert caught.value.where == "overlay/patch.yaml"


# ---------------------------------------------------------------- properties

names = st.sampled_from(["a", "b", "c", "d"])
scalars = st.one_of(st.sampled_from(["x", "y", ""]), st.integers(0, 3), st.booleans())
envs = st.lists(st.fixed_dictionaries({"name": names}, optional={"value": scalars}),
                max_size=3, unique_by=lambda e: e["name"])
container_st = st.fixed_dictionaries(
    {"name": names},
    optional={"image": scalars, "env": envs,
              "args": st.lists(st.sampled_from(["p", "q"]), max_size=3)},
)
pod_specs = st.fixed_dictionaries(
    {},
    optional={
        "containers": st.lists(container_st, max_size=3, unique_by=lambda c: c["name"]),
        "nodeSelector": st.dictionaries(names, st.sampled_from(["v", "w"]), max_size=2),
        "hostNetwork": st.booleans(),
    },
)
objects = pod_specs.map(deploy)


@settings(max_examples=150, deadline=None)
@given(objects)
def test_empty_patch_is_identity(target: dict[str, Any]) -> None:
    assert strategic_merge(target, {}) == target


@settings(max_examples=150, deadline=None)
@given(objects)
def test_merging_an_object_with_itself_is_identity(target: dict[str, Any]) -> None:
    assert strategic_merge(target, copy.deepcopy(target)) == target


@settings(max_examples=150, deadline=None)
@given(objects, objects)
def test_inputs_are_never_mutated(target: dict[str, Any], patch: dict[str, Any]) -> None:
    before_target, before_patch = copy.deepcopy(target), copy.deepcopy(patch)
    strategic_merge(target, patch)
    assert target == before_target
    assert patch == before_patch


@settings(max_examples=150, deadline=None)
@given(objects, names)
def test_delete_directive_removes_exactly_that_container(target: dict[str, Any], name: str) -> None:
    patch = deploy({"containers": [{"name": name, "$patch": "delete"}]})
    result = strategic_merge(target, patch)
    before = pod_spec(target).get("containers")
    after = pod_spec(result).get("containers")
    if before is None:
        assert after in (None, [])
        return
    assert after == [c for c in before if c["name"] != name]


@settings(max_examples=150, deadline=None)
@given(objects, st.dictionaries(names, st.sampled_from(["v", "w"]), min_size=1, max_size=2))
def test_map_patch_sets_every_key(target: dict[str, Any], labels: dict[str, str]) -> None:
    result = strategic_merge(target, {"metadata": {"labels": labels}})
    assert result["metadata"]["labels"] == labels
    assert pod_spec(result) == pod_spec(target)
