"""Bad input fails with a RenderError naming the file and field, a non-zero exit and no
partial output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.errors import RenderError
from agent.render import render
from agent.render.yamlio import MAX_FILE_BYTES

EDGE_AGENT = str(Path(sys.executable).parent / "edge-agent")
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n" + "\n".join(
        "  " + line for line in lines) + "\n"
    _tree(tmp_path, {"kustomization.yaml": "resources: [bomb.yaml]\n", "bomb.yaml": bomb})
    with pytest.raises(RenderError, match="alias") as info:
        render(tmp_path, root=tmp_path)
    assert "bomb.yaml" in str(info.value)


def test_file_over_size_limit(tmp_path: Path) -> None:
    big = CM + "data:\n  x: '" + "a" * (MAX_FILE_BYTES + 1) + "'\n"
    _tree(tmp_path, {"kustomization.yaml": "resources: [big.yaml]\n", "big.yaml": big})
    with pytest.raises(RenderError, match="byte limit") as info:
        render(tmp_path, root=tmp_path)
    assert "big.yaml" in str(info.value)


def test_dotdot_escape_outside_repo(tmp_path: Path) -> None:
    repo = _tree(tmp_path / "repo", {"app/kustomization.yaml":
                                     "resources: [../../../../../../etc/passwd]\n"})
    with pytest.raises(RenderError, match="escapes the repository root") as info:
        render(repo / "app", root=repo)
    assert "kustomization.yaml" in str(info.value)


def test_symlink_out_of_repo(tmp_path: Path) -> None:
    outside = _tree(tmp_path / "outside", {"cm.yaml": CM})
    repo = _tree(tmp_path / "repo", {"app/kustomization.yaml": "resources: [cm.yaml]\n"})
    os.symlink(outside / "cm.yaml", repo / "app" / "cm.yaml")
    with pytest.raises(RenderError, match="escapes the repository root"):
        render(repo / "app", root=repo)


def test_symlinked_base_dir_out_of_repo(tmp_path: Path) -> None:
    outside = _tree(tmp_path / "outside", {"kustomization.yaml": "resources: [cm.yaml]\n",
                                           "cm.yaml": CM})
    repo = _tree(tmp_path / "repo", {"app/kustomization.yaml": "resources: [../base]\n"})
    os.symlink(outside, repo / "base")
    with pytest.raises(RenderError, match="escapes the repository root"):
        render(repo / "app", root=repo)


def test_unknown_field_named(tmp_path: Path) -> None:
    _tree(tmp_path, {"kustomization.yaml": "resources: []\nnameprefix: x-\n"})
    with pytest.raises(RenderError, match="nameprefix"):
        render(tmp_path, root=tmp_path)


def test_cli_error_has_no_partial_output(tmp_path: Path) -> None:
    _tree(tmp_path, {"kustomization.yaml": "resources: [good.yaml, bad.yaml]\n",
                     "good.yaml": CM, "bad.yaml": "kind: [unclosed\n"})
    run = subprocess.run([EDGE_AGENT, "render", str(tmp_path)],
                         capture_output=True, text=True, check=False)
    assert run.returncode != 0
    assert run.stdout == ""
    assert "bad.yaml" in run.stderr and "malformed YAML" in run.stderr


def test_cli_renders_tier_as_json(tmp_path: Path) -> None:
    import json

    repo = Path(__file__).resolve().parents[2] / "overlays"
    run = subprocess.run([EDGE_AGENT, "render", "--tier", "vehicle",
                          "--repo", str(repo), "--output", "json"],
                         capture_output=True, text=True, check=True)
    objs = json.loads(run.stdout)
    assert objs[0]["kind"] == "Namespace"
    assert objs[0]["metadata"]["name"] == "edgesync-vehicle"
