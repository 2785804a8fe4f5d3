"""Every policy rule against its passing and failing fixtures (fixtures/<rule>.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.model import Bundle
from agent.policy import RULES, check_bundle
from agent.tiers import Caps, Tier

FIXTURES = Path(__file__).parent / "fixtures"

TIERS = {
    "edge": Tier(name="edge", overlay="edge", registry="r.local", caps=Caps(cpu="1", memory="2Gi")),
    "vehicle": Tier(name="vehicle", overlay="vehicle", registry="r.local",
                    caps=Caps(memory="512Mi")),
}


def _cases(outcome: str) -> list[Any]:
    params = []
    for rule in RULES:
        data = yaml.safe_load((FIXTURES / f"{rule.id}.yaml").read_text())
        for case in data.get(outcome) or []:
            params.append(pytest.param(rule.id, case, id=f"{rule.id}:{case['name']}"))
    return params


def test_every_rule_has_a_passing_and_a_failing_fixture() -> None:
    for rule in RULES:
        data = yaml.safe_load((FIXTURES / f"{rule.id}.yaml").read_text())
        assert data.get("pass"), f"{rule.id} has no passing fixture"
        assert data.get("fail"), f"{rule.id} has no failing fixture"


@pytest.mark.parametrize(("rule", "case"), _cases("pass"))
def test_passing_fixture_has_no_violation_of_its_rule(rule: str, case: dict[str, Any]) -> None:
    bundle = Bundle(tuple(case["objects"]))
    found = [v for v in check_bundle(bundle, TIERS[case.get("tier", "edge")]) if v.rule == rule]
    assert found == []


@pytest.mark.parametrize(("rule", "case"), _cases("fail"))
def test_failing_fixture_is_reported_with_a_clear_message(rule: str,
                                                          case: dict[str, Any]) -> None:
    bundle = Bundle(tuple(case["objects"]))
    found = [v for v in check_bundle(bundle, TIERS[case.get("tier", "edge")]) if v.rule == rule]
    assert found, f"no {rule} violation"
    messages = "\n".join(v.message for v in found)
    for expected in case["expect"]:
        assert expected in messages
    assert all(v.waived_reason is None for v in found)
    subject = found[0].subject
    name = case["objects"][0]["metadata"]["name"]
    assert subject.startswith(case["objects"][0]["kind"]) and subject.endswith(f"/{name}")


def test_secret_values_never_appear_in_messages() -> None:
    value = "hV9qL2xT7pR4mZ8w"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "db"},
          "data": {"DB_PASSWORD": value, "x": f"url: postgres://app:{value}@db/app"}}
    found = check_bundle(Bundle((cm,)), TIERS["edge"])
    assert len(found) == 2
    assert all(value not in str(v) for v in found)
