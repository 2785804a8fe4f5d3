"""The patch cases of the differential corpus, applied with the merge functions alone.

Only the cases whose kustomization needs nothing but patching are taken (one
resources file, patches addressed by the patch's own kind and name, or JSON 6902
patches whose target is a kind and a name), so this exercises the mergers
against the stored `kubectl kustomize` output without the rest of the engine.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.errors import RenderError
from agent.render.json6902 import apply_json6902
from agent.render.strategic_merge import strategic_merge

CASES = Path(__file__).parent / "cases"


def _docs(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _identity(obj: dict[str, Any]) -> tuple[str, str, str]:
    meta = obj.get("metadata", {})
    return obj["kind"], meta.get("namespace", ""), meta["name"]


def _plain_target(target: dict[str, Any] | None) -> bool:
    return target is not None and set(target) <= {"kind", "name"} and "*" not in str(target)


def _simple_case(case: Path) -> bool:
    kustomization = yaml.safe_load((case / "kustomization.yaml").read_text())
    if set(kustomization) - {"resources", "patches", "patchesStrategicMerge"}:
        return False
    if kustomization.get("resources") != ["resources.yaml"]:
        return False
    for entry in kustomization.get("patchesStrategicMerge", []):
        if "\n" in entry:
            return False
    for entry in kustomization.get("patches", []):
        if "path" not in entry:
            return False
        if "target" in entry and not _plain_target(entry["target"]):
            return False
    return True


def _matches(obj: dict[str, Any], kind: str, name: str) -> bool:
    return obj["kind"] == kind and obj["metadata"]["name"] == name


def _apply(case: Path) -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((case / "kustomization.yaml").read_text())
    objects: list[dict[str, Any]] = _docs(case / "resources.yaml")
    entries = [{"path": p} for p in kustomization.get("patchesStrategicMerge", [])]
    entries += kustomization.get("patches", [])
    for entry in entries:
        patches = _docs(case / entry["path"])
        if len(patches) == 1 and isinstance(patches[0], list):
            kind, name = entry["target"]["kind"], entry["target"]["name"]
            objects = [
                apply_json6902(o, patches[0], where=entry["path"]) if _matches(o, kind, name) else o
                for o in objects
            ]
            continue
        for patch in patches:
            merged = []
            for obj in objects:
                if not _matches(obj, patch["kind"], patch["metadata"]["name"]):
                    merged.append(obj)
                    continue
                result = strategic_merge(obj, patch)
                if result:
                    merged.append(result)
            objects = merged
    return objects


SIMPLE = sorted(p for p in CASES.glob("patch-*") if _simple_case(p))


def test_the_corpus_has_enough_simple_cases() -> None:
    assert len(SIMPLE) >= 50


@pytest.mark.parametrize("case", SIMPLE, ids=[p.name for p in SIMPLE])
def test_patch_case_matches_kubectl_kustomize(case: Path) -> None:
    error_file = case / "expect-error"
    if error_file.exists():
        with pytest.raises(RenderError) as caught:
            _apply(case)
        assert re.search(error_file.read_text().strip(), str(caught.value))
        return
    expected = {_identity(o): o for o in _docs(case / "expected.yaml")}
    got = {_identity(o): o for o in _apply(case)}
    assert got == expected
