"""Random small kustomizations rendered by both engines must agree (needs kubectl)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.render import render
from agent.render.yamlio import load_all
from tests.reference_kubectl import reference_kubectl

KUBECTL = reference_kubectl()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(KUBECTL is None, reason="kubectl (the reference) is absent")]

DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: app
        image: registry.example.com/team/web:1.0
        envFrom: [{configMapRef: {name: settings}}, {secretRef: {name: creds}}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80}]}
"""

NAME = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
# Keys and label values are prefixed so that YAML 1.1 readers (kubectl's kustomization parser)
# never see a bare boolean such as `y`.
KEY = NAME.map(lambda k: "k" + k)
LABELS = st.dictionaries(KEY, NAME.map(lambda v: "v" + v), max_size=3)
LITERAL_VALUE = st.text(alphabet=st.characters(
    whitelist_categories=("L", "N", "P", "S", "Zs"), max_codepoint=0x24F,
    blacklist_characters="\\\"'"), max_size=15)


def _quote(text: str) -> str:
    return '"' + text + '"'


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(prefix=st.one_of(st.none(), NAME.map(lambda n: n + "-")),
       suffix=st.one_of(st.none(), NAME.map(lambda n: "-" + n)),
       namespace=st.one_of(st.none(), NAME.map(lambda n: "ns" + n)),
       labels=LABELS, annotations=LABELS, include_selectors=st.booleans(),
       literals=st.dictionaries(KEY, LITERAL_VALUE, min_size=1, max_size=3),
       tag=st.one_of(st.none(), NAME), disable_hash=st.booleans())
def test_random_kustomization_matches_kubectl(tmp_path: Path, *, prefix: str | None,
                                              suffix: str | None, namespace: str | None,
                                              labels: dict[str, str],
                                              annotations: dict[str, str],
                                              include_selectors: bool,
                                              literals: dict[str, str], tag: str | None,
                                              disable_hash: bool) -> None:
    import tempfile

    case = Path(tempfile.mkdtemp(dir=tmp_path))
    (case / "app.yaml").write_text(DEPLOY)
    lines = ["resources: [app.yaml]"]
    if prefix:
        lines.append(f"namePrefix: {prefix}")
    if suffix:
        lines.append(f"nameSuffix: {suffix}")
    if namespace:
        lines.append(f"namespace: {namespace}")
    if labels:
        pairs = ", ".join(f"{k}: {v}" for k, v in labels.items())
        lines.append(f"labels:\n- pairs: {{{pairs}}}\n  includeSelectors: "
                     f"{'true' if include_selectors else 'false'}")
    if annotations:
        pairs = ", ".join(f"{k}: {v}" for k, v in annotations.items())
        lines.append(f"commonAnnotations: {{{pairs}}}")
    if tag:
        lines.append(f"images:\n- {{name: registry.example.com/team/web, newTag: t{tag}}}")
    lits = ", ".join(_quote(f"{k}={v}") for k, v in literals.items())
    lines.append(f"configMapGenerator:\n- name: settings\n  literals: [{lits}]")
    lines.append(f"secretGenerator:\n- name: creds\n  literals: [{lits}]")
    if disable_hash:
        lines.append("generatorOptions: {disableNameSuffixHash: true}")
    (case / "kustomization.yaml").write_text("\n".join(lines) + "\n")
    assert KUBECTL is not None
    run = subprocess.run([KUBECTL, "kustomize", str(case)], capture_output=True, text=True,
                         check=False, timeout=60)
    assert run.returncode == 0, run.stderr
    assert list(render(case, root=case)) == load_all(run.stdout, "kubectl")
