"""Differential tests: every case under cases/ renders as `kubectl kustomize` does.

Each case holds a kustomization (the case dir itself, or its `overlay/`), the
output kubectl produced when the case was written (`expected.yaml`), or an
`expect-error` regex when both tools must refuse it. When kubectl is on PATH
the case is also rendered live by kubectl and compared, so a drift in either
tool shows up. Comparison is YAML equality of the ordered document lists.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.errors import RenderError
from agent.render import render
from agent.render.yamlio import load_all
from tests.reference_kubectl import reference_kubectl

CASES = Path(__file__).parent / "cases"
KUBECTL = reference_kubectl()
NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


def build_target(case: Path) -> Path:
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        if (case / name).is_file():
            return case
    return case / "overlay"


def kubectl_kustomize(target: Path) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    return subprocess.run([KUBECTL, "kustomize", str(target)], capture_output=True, text=True,
                          timeout=60, check=False)


def docs(text: str) -> list[Any]:
    return load_all(text, "expected")


def test_corpus_is_large() -> None:
    assert len(NAMES) >= 150, f"only {len(NAMES)} cases"


@pytest.mark.parametrize("name", NAMES)
def test_case(name: str) -> None:
    case = CASES / name
    target = build_target(case)
    marker = case / "expect-error"
    if marker.exists():
        pattern = marker.read_text().strip()
        with pytest.raises(RenderError) as info:
            render(target, root=case)
        assert re.search(pattern, str(info.value)), str(info.value)
        if KUBECTL:
            assert kubectl_kustomize(target).returncode != 0, "kubectl accepted it"
        return
    ours = list(render(target, root=case))
    expected = docs((case / "expected.yaml").read_text())
    assert ours == expected
    if KUBECTL:
        live = kubectl_kustomize(target)
        assert live.returncode == 0, live.stderr
        assert ours == docs(live.stdout)
