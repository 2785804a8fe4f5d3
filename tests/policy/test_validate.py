"""`edge-agent validate`: every tier checked, reported as text, JSON and JUnit, exit status."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.policy.report import to_json, to_junit, to_text, validate_repo

REPO = Path(__file__).resolve().parents[2]

TIERS = """\
tiers:
  big: {overlay: big, registry: r.local, caps: {cpu: "2", memory: 4Gi}}
  small: {overlay: small, registry: r.local, caps: {memory: 128Mi}}
  broken: {overlay: broken, registry: r.local}
"""

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: apps, annotations: {edgesync.io/waive-image-tag: "%s"}}
spec:
  securityContext: {runAsNonRoot: true}
  containers:
    - name: app
      image: "web:latest"
      resources: {requests: {cpu: 100m, memory: 256Mi}, limits: {cpu: 100m, memory: 256Mi}}
      securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
"""


@pytest.fixture
def fleet_repo(tmp_path: Path) -> Path:
    (tmp_path / "tiers.yaml").write_text(TIERS)
    for tier in ("big", "small"):
        (tmp_path / tier).mkdir()
        (tmp_path / tier / "pod.yaml").write_text(POD % "vendor image has no versions")
        (tmp_path / tier / "kustomization.yaml").write_text("resources: [pod.yaml]\n")
    return tmp_path


def test_each_tier_is_checked_against_its_own_caps(fleet_repo: Path) -> None:
    report = validate_repo(fleet_repo, ["big", "small"])
    big, small = report.tiers
    assert big.ok and [v.rule for v in big.violations] == ["image-tag"]
    assert big.violations[0].waived_reason == "vendor image has no versions"
    assert not small.ok
    assert [v.message for v in small.violations if not v.waived] == [
        "container 'app' requests.memory 256Mi exceeds the small tier cap of 128Mi",
        "container 'app' limits.memory 256Mi exceeds the small tier cap of 128Mi"]
    assert not report.ok


def test_a_render_error_is_reported_beside_other_tiers(fleet_repo: Path) -> None:
    report = validate_repo(fleet_repo)
    assert [t.tier for t in report.tiers] == ["big", "broken", "small"]
    broken = report.tiers[1]
    assert broken.error is not None and "broken" in broken.error
    text = to_text(report)
    assert "broken: cannot render:" in text
    assert "big: ok (1 objects, 1 waived)" in text
    assert "small: 2 violations" in text
    assert text.endswith("policy: FAILED\n")


def test_json_report(fleet_repo: Path) -> None:
    data = to_json(validate_repo(fleet_repo, ["small"]))
    assert data["ok"] is False
    (tier,) = data["tiers"]
    assert tier["objects"] == 1
    assert {v["rule"] for v in tier["violations"]} == {"image-tag", "resources"}
    assert json.loads(json.dumps(data)) == data


def test_junit_report_counts_objects_failures_and_errors(fleet_repo: Path) -> None:
    xml = to_junit(validate_repo(fleet_repo))
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    small = suites["tier small"].find("testcase")
    assert small is not None and small.get("name") == "Pod/apps/web"
    failure = small.find("failure")
    assert failure is not None and failure.get("type") == "resources"
    big = suites["tier big"].find("testcase")
    assert big is not None and big.find("failure") is None
    out = big.find("system-out")
    assert out is not None and "vendor image has no versions" in (out.text or "")
    assert suites["tier broken"].find("testcase/error") is not None


def test_cli_rejects_both_tier_selectors(fleet_repo: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(fleet_repo), "--all-tiers", "--tier", "big"])
    assert result.exit_code == 2
    assert "exclude each other" in result.output


def test_cli_names_a_missing_tier_policy(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(tmp_path), "-o", "json"])
    assert result.exit_code == 2
    assert "tiers.yaml" in json.loads(result.output)["error"]


def test_the_example_fleet_repo_passes_every_tier() -> None:
    result = CliRunner().invoke(app, ["validate", str(REPO / "overlays"), "--all-tiers"])
    assert result.exit_code == 0, result.output
    assert result.output.endswith("policy: ok\n")


def test_cli_exit_status_says_whether_the_commit_may_ship(fleet_repo: Path) -> None:
    bad = CliRunner().invoke(app, ["validate", str(fleet_repo), "--tier", "small"])
    assert bad.exit_code == 1
    assert "small: [resources]" not in bad.output  # the subject comes first, then the rule
    assert "small: Pod/apps/web: [resources] container 'app' limits.memory 256Mi" in bad.output
    good = CliRunner().invoke(app, ["validate", str(fleet_repo), "-t", "big", "-o", "junit"])
    assert good.exit_code == 0, good.output
    assert ET.fromstring(good.output).get("failures") == "0"
