"""Kustomization references: which repo paths a tier's overlay needs."""

from __future__ import annotations

from pathlib import Path

from agent.source.sparse import RepoTree, normalise, pattern, raw_references, references


def test_raw_references_cover_every_path_field() -> None:
    doc = {
        "resources": ["../base", "deploy.yaml", "https://example.com/x.yaml"],
        "components": ["../components/a"],
        "patches": [{"path": "p.yaml"}, {"patch": "kind: X\nmetadata: {}\n"}],
        "patchesStrategicMerge": ["psm.yaml", "kind: Y\nmetadata: {}\n"],
        "patchesJson6902": [{"path": "json.yaml"}],
        "configMapGenerator": [{"files": ["k=conf/a.conf", "b.conf"], "envs": ["e.env"]}],
        "secretGenerator": [{"env": "s.env"}],
        "replacements": [{"path": "r.yaml"}],
        "crds": ["crd.yaml"],
        "openapi": {"path": "schema.json"},
    }
    assert sorted(raw_references(doc)) == sorted([
        "../base", "deploy.yaml", "../components/a", "p.yaml", "psm.yaml", "json.yaml",
        "conf/a.conf", "b.conf", "e.env", "s.env", "r.yaml", "crd.yaml", "schema.json"])


def test_paths_leaving_the_repo_are_not_followed() -> None:
    assert normalise("cloud", "../base") == "base"
    assert normalise("cloud", "../../etc") is None
    assert normalise("", "/etc/passwd") is None


def test_references_resolve_against_the_tree(tmp_path: Path) -> None:
    tree = RepoTree(["cloud/kustomization.yaml", "cloud/p.yaml", "base/kustomization.yaml",
                     "base/cm.yaml", "other/x"])
    (tmp_path / "cloud").mkdir()
    (tmp_path / "cloud/kustomization.yaml").write_text(
        "resources: [../base, missing.yaml]\npatches: [{path: p.yaml}]\n")
    assert references(tree, "cloud", tmp_path) == {"base", "cloud/p.yaml"}
    assert pattern(tree, "base") == "/base/"
    assert pattern(tree, "cloud/p.yaml") == "/cloud/p.yaml"
    assert pattern(tree, "nope") is None
