"""The fleet service's HTTP API against a real `fleet serve` process on SQLite."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fleet.server import FleetServer, fleet_cli


class Service:
    def __init__(self, server: FleetServer, operator: str) -> None:
        self.server = server
        self.url = server.url
        self.operator = operator

    def enrol(self, name: str, tier: str = "cloud", region: str = "eu") -> str:
        return str(fleet_cli("nodes", "add", name, "--tier", tier, "--region", region,
                             db=self.server.db)["token"])

    def ops(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, headers={"Authorization": f"Bearer {self.operator}"})

    def post(self, token: str | None, body: Any, raw: bytes | None = None) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        content = raw if raw is not None else json.dumps(body).encode()
        return httpx.post(self.url + "/v1/reports", content=content, headers=headers)

    def rejected(self, reason: str) -> float:
        for line in httpx.get(self.url + "/metrics").text.splitlines():
            if line.startswith(f'fleet_requests_rejected_total{{reason="{reason}"}}'):
                return float(line.split()[-1])
        return 0.0

    def received(self, node: str) -> int:
        return int(self.ops(f"/v1/nodes/{node}").json()["node"]["reports_received"])


def report(node: str, tier: str = "cloud", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "idempotency_key": str(uuid.uuid4()), "kind": "result",
        "created_at": "2026-03-01T10:00:00Z", "node": node, "tier": tier,
        "desired_revision": "a" * 40, "applied_revision": "a" * 40,
        "commit_time": "2026-03-01T09:59:00Z", "apply_time": "2026-03-01T09:59:30Z",
        "result": "applied", "health": "Healthy"}
    body.update(fields)
    return body


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("fleet-api")
    db = str(tmp / "fleet.db")
    operator = str(fleet_cli("operators", "add", "ops", db=db)["token"])
    server = FleetServer(db, tmp, "--rate", "2", "--burst", "6", "--max-body", "65536").start()
    yield Service(server, operator)
    server.stop()


def test_a_batch_is_stored_and_a_retry_counts_as_duplicates(service: Service) -> None:
    token = service.enrol("api-ok")
    batch = {"reports": [report("api-ok"), report("api-ok", kind="heartbeat", result=None)]}
    first = service.post(token, batch)
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 2, "duplicates": 0}
    again = service.post(token, batch)
    assert again.json() == {"accepted": 0, "duplicates": 2}
    assert service.received("api-ok") == 2


def test_missing_and_wrong_tokens_are_401_and_counted(service: Service) -> None:
    before = service.rejected("unauthenticated")
    assert service.post(None, {"reports": [report("nobody")]}).status_code == 401
    assert service.post("not-a-token", {"reports": [report("nobody")]}).status_code == 401
    assert service.rejected("unauthenticated") == before + 2


def test_a_node_cannot_report_as_another_node(service: Service) -> None:
    mine = service.enrol("api-me")
    service.enrol("api-victim")
    before = service.rejected("forbidden")
    response = service.post(mine, {"reports": [report("api-me"), report("api-victim")]})
    assert response.status_code == 403
    assert response.json()["field"] == "reports[1].node"
    wrong_tier = service.post(mine, {"reports": [report("api-me", tier="vehicle")]})
    assert wrong_tier.status_code == 403
    assert service.rejected("forbidden") == before + 2
    assert service.received("api-me") == 0
    assert service.received("api-victim") == 0


@pytest.mark.parametrize(("fields", "field"), [
    ({"created_at": "yesterday"}, "reports[1].created_at"),
    ({"created_at": "2026-03-01T10:00:00"}, "reports[1].created_at"),
    ({"result": "exploded"}, "reports[1].result"),
    ({"bytes_fetched": -1}, "reports[1].bytes_fetched"),
    ({"surprise": 1}, "reports[1].surprise"),
    ({"idempotency_key": "k1"}, "reports[1].idempotency_key"),
    ({"failures": [{"subject": "x"}]}, "reports[1].failures[0]"),
    ({"health": "ok\u0000"}, "reports[1].health"),
    ({"durations": {"apply": "slow"}}, "reports[1].durations.apply"),
])
def test_malformed_reports_are_422_naming_the_field_and_store_nothing(
        service: Service, fields: dict[str, Any], field: str) -> None:
    name = f"api-bad-{uuid.uuid4().hex[:6]}"
    token = service.enrol(name)
    response = service.post(token, {"reports": [report(name), report(name, **fields)]})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert field in response.json()["error"]
    assert service.received(name) == 0


def test_body_that_is_not_json_is_422(service: Service) -> None:
    token = service.enrol("api-junk")
    response = service.post(token, None, raw=b"{not json")
    assert response.status_code == 422
    assert response.json()["field"] == "body"


def test_oversized_body_is_413_and_stores_nothing(service: Service) -> None:
    token = service.enrol("api-big")
    before = service.rejected("too_large")
    huge = report("api-big", deferred_reason="x" * 1000)
    batch = {"reports": [dict(huge, idempotency_key=str(uuid.uuid4())) for _ in range(100)]}
    assert service.post(token, batch).status_code == 413
    assert service.rejected("too_large") == before + 1
    assert service.received("api-big") == 0


def test_a_flooding_node_gets_429(service: Service) -> None:
    token = service.enrol("api-flood")
    codes = [service.post(token, {"reports": [report("api-flood")]}).status_code
             for _ in range(12)]
    assert 429 in codes
    assert codes[0] == 200


def test_queries_need_an_operator_token(service: Service) -> None:
    node_token = service.enrol("api-nosy")
    for path in ("/v1/nodes", "/v1/summary", "/v1/nodes/api-nosy", "/v1/status"):
        assert httpx.get(service.url + path).status_code == 401
        assert httpx.get(service.url + path, headers={
            "Authorization": f"Bearer {node_token}"}).status_code == 401
        assert service.ops(path).status_code == 200
    page = httpx.get(service.url + "/")
    assert page.status_code == 303 and page.headers["location"] == "/login"


def test_summary_counts_by_state_and_revision(service: Service) -> None:
    token = service.enrol("api-sum-fail", tier="summary-tier", region="r1")
    service.enrol("api-sum-silent", tier="summary-tier", region="r1")
    assert service.post(token, {"reports": [report("api-sum-fail", tier="summary-tier",
                                                   result="failed", applied_revision="b" * 40,
                                                   created_at="2099-01-01T00:00:00Z")]}
                        ).status_code == 200
    summary = service.ops("/v1/summary").json()
    by_state = {(g["tier"], g["region"], g["key"]): g["count"] for g in summary["by_state"]}
    assert by_state[("summary-tier", "r1", "failed")] == 1
    assert by_state[("summary-tier", "r1", "never")] == 1
    by_rev = {(g["tier"], g["key"]): g["count"] for g in summary["by_revision"]}
    assert by_rev[("summary-tier", "b" * 40)] == 1
    failed = service.ops("/v1/nodes?state=failed").json()["nodes"]
    assert [n["name"] for n in failed] == ["api-sum-fail"]
    assert service.ops("/v1/nodes?state=bogus").status_code == 422
    assert service.ops("/v1/nodes?limit=0").status_code == 422


def test_node_strings_are_escaped_on_the_page(service: Service) -> None:
    token = service.enrol("api-xss")
    evil = "<script>alert('x')</script>"
    assert service.post(token, {"reports": [report("api-xss", result="deferred",
                                                   deferred_reason=evil,
                                                   created_at="2099-01-01T00:00:00Z")]}
                        ).status_code == 200
    html = httpx.get(service.url + "/", headers={"Authorization":
                                                  f"Bearer {service.operator}"}).text
    assert evil not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html


def test_login_form_sets_an_httponly_cookie(service: Service) -> None:
    with httpx.Client(base_url=service.url) as client:
        bad = client.post("/login", data={"token": "wrong"})
        assert bad.status_code == 401
        ok = client.post("/login", data={"token": service.operator})
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert service.operator not in cookie  # a session token, not the operator's own
        assert client.get("/").status_code == 200
        assert client.get("/v1/summary").status_code == 200
        session = client.cookies.get("fleet_session")
        assert client.post("/logout").status_code == 303
    # The session is gone on the server too, not just forgotten by this browser.
    replay = httpx.get(service.url + "/v1/summary", cookies={"fleet_session": str(session)})
    assert replay.status_code == 401


def test_enrolling_the_same_node_twice_is_a_clear_error(service: Service,
                                                        tmp_path: Path) -> None:
    service.enrol("api-twice")
    with pytest.raises(AssertionError, match="node already enrolled"):
        service.enrol("api-twice")


def test_openapi_document_is_served(service: Service) -> None:
    doc = httpx.get(service.url + "/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "/v1/reports" in doc["paths"]


def test_rollout_over_the_api(service: Service) -> None:
    headers = {"Authorization": f"Bearer {service.operator}"}
    token = service.enrol("api-wave", tier="wave-tier")
    bad = httpx.post(service.url + "/v1/rollouts", headers=headers,
                     json={"revision": "r9", "waves": [{"tier": "wave-tier", "percent": 0}]})
    assert bad.status_code == 422 and bad.json()["field"] == "waves[0]"
    made = httpx.post(service.url + "/v1/rollouts", headers=headers, json={
        "revision": "f" * 40, "gate": 1.0, "waves": [{"tier": "wave-tier", "percent": 100}]})
    assert made.status_code == 201, made.text
    rollout_id = made.json()["id"]
    assert httpx.post(service.url + "/v1/rollouts", headers=headers, json={
        "revision": "e" * 40, "waves": [{"tier": "wave-tier", "percent": 50}]}
    ).status_code == 409
    held = httpx.post(f"{service.url}/v1/rollouts/{rollout_id}/promote", headers=headers)
    assert held.status_code == 409 and "gate" in held.json()["error"]
    assert service.post(token, {"reports": [report("api-wave", tier="wave-tier",
                                                   applied_revision="f" * 40,
                                                   created_at="2099-01-01T00:00:00Z")]}
                        ).status_code == 200
    done = httpx.post(f"{service.url}/v1/rollouts/{rollout_id}/promote", headers=headers)
    assert done.status_code == 200 and done.json()["state"] == "completed"
    assert service.ops("/v1/rollouts/latest").json()["id"] == rollout_id
    assert service.ops("/v1/rollouts/999999").status_code == 404
    assert httpx.post(service.url + "/v1/rollouts", json={}).status_code == 401
