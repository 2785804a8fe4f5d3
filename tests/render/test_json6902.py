"""JSON 6902 patches: table cases checked against `kubectl kustomize` 5.5.0, and properties."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.errors import RenderError
from agent.render.json6902 import apply_json6902


def target() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "a"},
        "data": {"k": "v", "a/b": "1", "m~n": "2"},
        "arr": [1, 2, 3],
    }


def patched(**changes: Any) -> dict[str, Any]:
    return {**target(), **changes}


OK_CASES = [
    pytest.param([{"op": "add", "path": "/data/q", "value": "x"}],
                 patched(data={"k": "v", "a/b": "1", "m~n": "2", "q": "x"}), id="add-member"),
    pytest.param([{"op": "add", "path": "/arr/3", "value": 9}], patched(arr=[1, 2, 3, 9]),
                 id="add-at-length"),
    pytest.param([{"op": "add", "path": "/arr/-", "value": 9}], patched(arr=[1, 2, 3, 9]),
                 id="add-dash-appends"),
    pytest.param([{"op": "add", "path": "/arr/-1", "value": 9}], patched(arr=[1, 2, 3, 9]),
                 id="add-negative-index"),
    pytest.param([{"op": "add", "path": "/arr/-4", "value": 9}], patched(arr=[9, 1, 2, 3]),
                 id="add-most-negative-index"),
    pytest.param([{"op": "add", "path": "/arr/01", "value": 9}], patched(arr=[1, 9, 2, 3]),
                 id="add-index-leading-zero"),
    pytest.param([{"op": "add", "path": "/data/k"}],
                 patched(data={"k": None, "a/b": "1", "m~n": "2"}), id="add-without-value-is-null"),
    pytest.param([{"op": "remove", "path": "/arr/-1"}], patched(arr=[1, 2]), id="remove-last"),
    pytest.param([{"op": "remove", "path": "/arr/1"}, {"op": "remove", "path": "/arr/1"}],
                 patched(arr=[1]), id="remove-twice"),
    pytest.param([{"op": "replace", "path": "/data/zz", "value": 1}],
                 patched(data={"k": "v", "a/b": "1", "m~n": "2", "zz": 1}),
                 id="replace-missing-member-adds"),
    pytest.param([{"op": "replace", "path": "/arr/-1", "value": 0}], patched(arr=[1, 2, 0]),
                 id="replace-negative-index"),
    pytest.param([{"op": "replace", "path": "", "value": "v"}], target(),
                 id="replace-root-with-scalar-is-ignored"),
    pytest.param([{"op": "test", "path": "/data/k", "value": "v"},
                  {"op": "add", "path": "/data/a~1b", "value": "X"},
                  {"op": "add", "path": "/data/m~0n", "value": "Y"}],
                 patched(data={"k": "v", "a/b": "X", "m~n": "Y"}), id="pointer-escapes"),
    pytest.param([{"op": "move", "from": "/data/k", "path": "/data/q"}],
                 patched(data={"a/b": "1", "m~n": "2", "q": "v"}), id="move"),
    pytest.param([{"op": "move", "from": "/arr/0", "path": "/arr/-"}], patched(arr=[2, 3, 1]),
                 id="move-to-end"),
    pytest.param([{"op": "copy", "from": "/arr", "path": "/arr2"}],
                 patched(arr2=[1, 2, 3]), id="copy"),
    pytest.param([{"op": "copy", "from": "/nope", "path": "/x"}], patched(x=None),
                 id="copy-missing-is-null"),
    pytest.param([{"op": "add", "path": "data/k", "value": 1}], patched(k=1),
                 id="path-without-slash-drops-first-segment"),
    pytest.param([{"op": "test", "path": "/nope", "value": None}], target(),
                 id="test-missing-against-null"),
]


@pytest.mark.parametrize(("ops", "expected"), OK_CASES)
def test_ops_match_kustomize(ops: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    assert apply_json6902(target(), ops, where="patch.yaml") == expected


ERROR_CASES = [
    ([{"op": "remove", "path": "/data/zz"}], r"Unable to remove nonexistent key: zz"),
    ([{"op": "add", "path": "/arr/5", "value": 9}], r"Unable to access invalid index: 5"),
    ([{"op": "add", "path": "/nope/x", "value": 9}], r"doc is missing path: \"/nope/x\""),
    ([{"op": "test", "path": "/data/k", "value": "w"}], r"testing value /data/k failed"),
    ([{"op": "test", "path": "/arr/0", "value": 1.0}], r"testing value /arr/0 failed"),
    ([{"op": "move", "from": "/data/zz", "path": "/data/q"}], r"Unable to remove nonexistent key"),
    ([{"op": "move", "from": "/data", "path": "/data/x"}], r"missing destination path"),
    ([{"op": "frob", "path": "/data/k"}], r"Unexpected kind: frob"),
    ([{"op": "add", "value": 1}], r"failed to decode path"),
    ([{"op": "add", "path": "", "value": {}}], r"doc is missing path"),
    ([{"op": "remove", "path": "/arr/-"}], r"invalid syntax"),
    ([{"op": "add", "path": "/arr/x", "value": 1}], r"not a proper array index: 'x'"),
    ([{"op": "replace", "path": "/arr/3", "value": 9}], r"doc is missing key: /arr/3"),
    ([{"op": "add", "path": "/data/k/x", "value": 9}], r"doc is missing path"),
]


@pytest.mark.parametrize(("ops", "message"), ERROR_CASES)
def test_failing_ops_name_where_and_which_op(ops: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(RenderError, match=message) as caught:
        apply_json6902(target(), [{"op": "test", "path": "/kind", "value": "ConfigMap"}, *ops],
                       where="overlay/patch.yaml")
    assert caught.value.where == "overlay/patch.yaml"
    assert "json patch op 1 " in str(caught.value)


# ---------------------------------------------------------------- properties

keys = st.text(alphabet="ab~/", min_size=1, max_size=4)
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=3)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
    max_leaves=6,
)
docs = st.dictionaries(keys, values, max_size=4)


def pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


@settings(max_examples=200, deadline=None)
@given(docs, keys, values)
def test_add_then_remove_restores(doc: dict[str, Any], key: str, value: Any) -> None:
    if key in doc:
        return
    before = copy.deepcopy(doc)
    added = apply_json6902(doc, [{"op": "add", "path": pointer(key), "value": value}], where="p")
    assert added[key] == value
    assert apply_json6902(added, [{"op": "remove", "path": pointer(key)}], where="p") == before
    assert doc == before


@settings(max_examples=200, deadline=None)
@given(docs, keys, values)
def test_replace_then_test_passes_and_inputs_stay(
    doc: dict[str, Any], key: str, value: Any
) -> None:
    before = copy.deepcopy(doc)
    ops = [{"op": "replace", "path": pointer(key), "value": value},
           {"op": "test", "path": pointer(key), "value": value}]
    result = apply_json6902(doc, ops, where="p")
    assert result[key] == value
    assert doc == before
    assert ops[0]["value"] == value


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(), max_size=5), st.integers(0, 5), st.integers())
def test_array_insert_matches_list_insert(items: list[int], index: int, value: int) -> None:
    doc = {"items": items}
    if index > len(items):
        with pytest.raises(RenderError):
            apply_json6902(doc, [{"op": "add", "path": f"/items/{index}", "value": value}],
                           where="p")
        return
    result = apply_json6902(doc, [{"op": "add", "path": f"/items/{index}", "value": value}],
                            where="p")
    expected = list(items)
    expected.insert(index, value)
    assert result["items"] == expected


def test_inserted_values_are_not_shared_between_results() -> None:
    ops = [{"op": "add", "path": "/metadata/labels", "value": {"tier": "edge"}},
           {"op": "copy", "from": "/metadata/labels", "path": "/metadata/annotations"}]
    first = apply_json6902(target(), ops, where="p")
    second = apply_json6902(target(), ops, where="p")
    first["metadata"]["labels"]["extra"] = "1"
    assert second["metadata"]["labels"] == {"tier": "edge"}
    assert first["metadata"]["annotations"] == {"tier": "edge"}
    assert ops[0]["value"] == {"tier": "edge"}
