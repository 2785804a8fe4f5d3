"""Unit and property tests of the renderer's small pure parts."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.errors import RenderError
from agent.render import render
from agent.render.fieldpath import split_dotted
from agent.render.hashing import go_json, hash_suffix
from agent.render.images import ImageRule, split_image
from agent.render.resource import matches_selector
from agent.render.yamlio import dump_all, load_all

KUBECTL = shutil.which("kubectl")
KEYS = st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,11}", fullmatch=True)
VALUES = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


def test_hash_suffix_known_values() -> None:
    # Figures produced by kubectl kustomize for these generators.
    assert hash_suffix({"kind": "ConfigMap", "data": {"a": "1", "b": "x", "c": "y"}}) \
        == "7d4f6hm5b7"
    assert hash_suffix({"kind": "Secret", "type": "Opaque", "data": {"k": "dg=="}}) \
        == "ftgtgc4t9f"


@given(st.dictionaries(KEYS, VALUES, max_size=6))
def test_hash_suffix_shape_and_stability(data: dict[str, str]) -> None:
    obj = {"kind": "ConfigMap", "data": data}
    suffix = hash_suffix(obj)
    assert len(suffix) == 10
    assert not set(suffix) & set("013ae")
    # Key order and the object's name never change the suffix; content does.
    reordered = {"kind": "ConfigMap", "metadata": {"name": "other"},
                 "data": dict(reversed(list(data.items())))}
    assert hash_suffix(reordered) == suffix
    changed = {"kind": "ConfigMap", "data": {**data, "extra-key": "v"}}
    assert hash_suffix(changed) != suffix


@given(st.dictionaries(KEYS, VALUES, max_size=4))
def test_go_json_escapes_like_go(data: dict[str, str]) -> None:
    text = go_json(data)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == data


@pytest.mark.skipif(KUBECTL is None, reason="kubectl (the reference) is not installed")
@settings(max_examples=8, deadline=None)
# No tabs: kubectl itself cannot re-read the block it writes for a line starting with one.
@given(st.dictionaries(KEYS, st.text(alphabet="abc <&>é\n\"'=", max_size=12), min_size=1,
                       max_size=3))
def test_hash_suffix_matches_kubectl(tmp_path_factory: pytest.TempPathFactory,
                                     data: dict[str, str]) -> None:
    case = tmp_path_factory.mktemp("hash")
    files = []
    for i, (key, value) in enumerate(data.items()):
        (case / f"f{i}").write_text(value)
        files.append(f"{key}=f{i}")
    (case / "kustomization.yaml").write_text(
        "configMapGenerator:\n- name: c\n  files: [" + ", ".join(files) + "]\n"
        "secretGenerator:\n- name: s\n  files: [" + ", ".join(files) + "]\n")
    assert KUBECTL is not None
    out = subprocess.run([KUBECTL, "kustomize", str(case)], capture_output=True, text=True,
                         check=True).stdout
    assert list(render(case, root=case)) == load_all(out, "kubectl")


def test_split_image() -> None:
    assert split_image("nginx") == ("nginx", "", "")
    assert split_image("nginx:1.25") == ("nginx", "1.25", "")
    assert split_image("localhost:5000/app") == ("localhost:5000/app", "", "")
    assert split_image("localhost:5000/app:v1") == ("localhost:5000/app", "v1", "")
    assert split_image("r.io/a@sha256:ab") == ("r.io/a", "", "sha256:ab")
    assert split_image("r.io/a:t@sha256:ab") == ("r.io/a", "t", "sha256:ab")


def test_image_rule_apply() -> None:
    rule = ImageRule("nginx", new_name="m.io/nginx", new_tag="2")
    assert rule.matches("nginx:1") and not rule.matches("nginx-extra:1")
    assert rule.apply("nginx@sha256:ab") == "m.io/nginx:2"
    assert ImageRule("nginx", digest="sha256:cd").apply("nginx:1") == "nginx@sha256:cd"


@pytest.mark.parametrize(("selector", "expected"), [
    ("app=web", True), ("app==web", True), ("app!=web", False), ("tier", True),
    ("!tier", False), ("app in (web, api)", True), ("app notin (web)", False),
    ("app=web,tier=back", True), ("app=web,tier=front", False), ("missing", False),
])
def test_label_selector(selector: str, expected: bool) -> None:
    assert matches_selector(selector, {"app": "web", "tier": "back"}, where="t") is expected


def test_split_dotted() -> None:
    assert split_dotted("spec.containers.[name=a.b].image") == \
        ["spec", "containers", "[name=a.b]", "image"]
    assert split_dotted("spec.ports[0].port") == ["spec", "ports", "0", "port"]


def test_yaml_keeps_yaml_1_2_scalars() -> None:
    (doc,) = load_all("a: on\nb: yes\nc: 2024-01-01\nd: 0o17\ne: 1:20\nf: true\n", "t")
    assert doc == {"a": "on", "b": "yes", "c": "2024-01-01", "d": 15, "e": "1:20", "f": True}
    # Dumped strings that YAML 1.1 tools would misread are quoted.
    assert load_all(dump_all([doc]), "t") == [doc]
    assert '"on"' in dump_all([doc])


def test_yaml_merge_keys_and_aliases_are_expanded() -> None:
    (doc,) = load_all("base: &b {x: 1}\nuse:\n  <<: *b\n  y: 2\nref: *b\n", "t")
    assert doc["use"] == {"x": 1, "y": 2}
    doc["ref"]["x"] = 5
    assert doc["base"]["x"] == 1  # aliases are copies, not shared


def test_secret_generator_base64(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "secretGenerator:\n- name: s\n  literals: [k=v]\n"
        "  options: {disableNameSuffixHash: true}\n")
    (obj,) = render(tmp_path, root=tmp_path)
    assert obj["data"] == {"k": base64.b64encode(b"v").decode()}
    assert obj["metadata"]["name"] == "s"


def test_env_file_without_value_is_refused(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "configMapGenerator:\n- name: c\n  envs: [a.env]\n")
    (tmp_path / "a.env").write_text("HOME\n")
    with pytest.raises(RenderError, match=r"a\.env"):
        render(tmp_path, root=tmp_path)


def test_hash_is_sha256_prefix() -> None:
    encoded = go_json({"data": {}, "kind": "ConfigMap", "name": ""})
    digest = hashlib.sha256(encoded.encode()).hexdigest()[:10]
    swapped = digest.translate(str.maketrans("013ae", "ghkmt"))
    assert hash_suffix({"kind": "ConfigMap"}) == swapped


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30),
                     st.floats(allow_nan=False),
                     st.sampled_from(["on", "yes", "no", "~", "1:20", "0x1F", "1e3", "- a",
                                      "a: b", "#x", "2024-01-01", "line\nnext\n", " lead",
                                      "trail ", "multi\n\nblank", "tab\tin", "\n", "=", "<<"]))
_TREES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20)


@given(st.lists(st.dictionaries(st.text(max_size=10), _TREES, min_size=1, max_size=4),
                max_size=3))
def test_writer_round_trips(docs: list[dict[str, object]]) -> None:
    import yaml

    text = dump_all(docs)
    assert load_all(text, "t") == docs
    # Readers that follow YAML 1.1 (kubectl, PyYAML's defaults) read the same values.
    assert [d for d in yaml.safe_load_all(text) if d is not None] == docs
