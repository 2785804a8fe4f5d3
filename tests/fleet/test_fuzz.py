"""Fuzz the API from its own OpenAPI document: no input may produce a 5xx.

Runs against a real `fleet serve` on SQLite and on PostgreSQL (where NUL bytes
and lone surrogates in text would otherwise surface as server errors).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error

from fleet.api.openapi import document
from tests.fleet.conftest import fresh_pg_database
from tests.fleet.server import FleetServer, fleet_cli

pytestmark = pytest.mark.slow

schema = schemathesis.openapi.from_dict(document())
NODE, TIER = "fuzz-node", "cloud"


class Target:
    def __init__(self, url: str, node_token: str, operator: str) -> None:
        self.url = url
        self.node_token = node_token
        self.operator = operator
        self.statuses: dict[int, int] = {}


@pytest.fixture(scope="module", params=["sqlite", pytest.param(
    "postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Target]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    with ExitStack() as stack:
        db = (stack.enter_context(fresh_pg_database(request)) if request.param == "postgres"
              else str(tmp / "fleet.db"))
        node_token = str(fleet_cli("nodes", "add", NODE, "--tier", TIER, db=db)["token"])
        operator = str(fleet_cli("operators", "add", "fuzz-ops", db=db)["token"])
        server = FleetServer(db, tmp, "--rate", "0").start()
        stack.callback(server.stop)
        yield Target(server.url, node_token, operator)


def _aim(case: Any) -> None:
    # Most generated reports would name some random node and stop at 403; naming the
    # enrolled node lets the rest of each report reach validation and the store.
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("reports"), list):
        for report in body["reports"]:
            if isinstance(report, dict):
                report["node"] = NODE
                report["tier"] = TIER


@schema.parametrize()
@hypothesis.settings(max_examples=80, deadline=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_no_input_makes_the_service_fail(case: Any, target: Target) -> None:
    token = target.node_token if case.path == "/v1/reports" else target.operator
    _aim(case)
    response = case.call(base_url=target.url, headers={"Authorization": f"Bearer {token}"})
    target.statuses[response.status_code] = target.statuses.get(response.status_code, 0) + 1
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500


def test_fuzzing_reached_both_validation_and_the_store(target: Target) -> None:
    import httpx

    metrics = httpx.get(target.url + "/metrics").text
    values = {line.split()[0]: float(line.split()[1]) for line in metrics.splitlines()
              if line and not line.startswith("#")}
    assert values.get('fleet_requests_rejected_total{reason="invalid"}', 0) > 0
    assert values.get("fleet_reports_ingested_total", 0) > 0
    assert not any(code >= 500 for code in target.statuses)
