"""packaging/ci/fleet-repo-ci.yml: valid YAML naming the promised steps, whose shell
steps really work on a fleet repo (run with bash and this checkout's edge-agent)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.packaging.conftest import REPO

PIPELINE = REPO / "packaging" / "ci" / "fleet-repo-ci.yml"

GOOD_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apps}
spec:
  securityContext: {runAsNonRoot: true}
  containers:
    - name: app
      image: registry.example.com/web:1.0.0
      resources: {requests: {cpu: 50m, memory: 32Mi}, limits: {cpu: 100m, memory: 64Mi}}
      securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
"""


def steps() -> list[dict[str, Any]]:
    data = yaml.safe_load(PIPELINE.read_text())
    assert set(data["on"]) == {"push", "pull_request"}
    return list(data["jobs"]["validate"]["steps"])


def step(name_part: str) -> dict[str, Any]:
    (found,) = [s for s in steps() if name_part in s["name"]]
    return found


def test_pipeline_names_install_validate_render_and_upload() -> None:
    assert "actions/checkout" in steps()[0]["uses"]
    assert "edge-agent.pyz" in yaml.safe_load(PIPELINE.read_text())["env"]["EDGE_AGENT_URL"]
    assert "edge-agent" in step("Install")["run"]
    assert "edge-agent validate . --all-tiers --output junit" in step("Validate")["run"]
    assert "edge-agent render" in step("Render")["run"]
    upload = step("Upload")
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["if"] == "always()"
    assert {"reports/", "rendered/"} <= set(upload["with"]["path"].split())


def run_step(name_part: str, repo: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "-e", "-c", step(name_part)["run"]], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def make_fleet_repo(root: Path, memory_cap: str) -> Path:
    (root / "tiers.yaml").write_text(
        f"tiers:\n  site: {{overlay: site, registry: r.local, caps: {{memory: {memory_cap}}}}}\n")
    (root / "site").mkdir()
    (root / "site" / "pod.yaml").write_text(GOOD_POD)
    (root / "site" / "kustomization.yaml").write_text("resources: [pod.yaml]\n")
    return root


def test_validate_and_render_steps_pass_on_a_clean_repo(tmp_path: Path) -> None:
    repo = make_fleet_repo(tmp_path, "1Gi")
    validate = run_step("Validate", repo)
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert 'failures="0"' in (repo / "reports" / "policy-junit.xml").read_text()
    render = run_step("Render", repo)
    assert render.returncode == 0, render.stderr
    assert "name: web" in (repo / "rendered" / "site.yaml").read_text()


def test_validate_step_fails_the_run_on_a_violation(tmp_path: Path) -> None:
    repo = make_fleet_repo(tmp_path, "32Mi")
    validate = run_step("Validate", repo)
    assert validate.returncode == 1
    assert "exceeds the site tier cap of 32Mi" in validate.stdout
    assert 'failures="1"' in (repo / "reports" / "policy-junit.xml").read_text()
