"""The dashboard in headless Chromium: log in, read the seeded fleet's numbers off the DOM."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fleet.cdp import CHROMIUM, Browser
from tests.fleet.server import FleetServer, fleet_cli

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).parents[2] / "artifacts"
NEW = "c0ffee" + "0" * 34
OLD = "bead" + "0" * 36

# name, tier, region, result, applied revision, health
SEED = [
    ("gw-1", "edge-site-a", "eu-west", "applied", NEW, "Healthy"),
    ("gw-2", "edge-site-a", "eu-west", "applied", NEW, "Healthy"),
    ("gw-3", "edge-site-a", "eu-west", "rolled_back", OLD, "Degraded"),
    ("gw-4", "edge-site-a", "us-east", "applied", NEW, "Healthy"),
    ("car-1", "vehicle", "eu-west", "deferred", OLD, "Healthy"),
    ("car-2", "vehicle", "eu-west", None, None, None),
    ("api-1", "cloud", "global", "applied", NEW, "Healthy"),
]
XSS = "<img src=x onerror=alert(1)>"


def _report(name: str, tier: str, result: str, rev: str, health: str) -> dict[str, object]:
    return {"idempotency_key": str(uuid.uuid4()), "kind": "result",
            "created_at": "2099-01-01T00:00:00Z", "node": name, "tier": tier,
            "desired_revision": NEW, "applied_revision": rev, "result": result,
            "commit_time": "2026-06-01T12:00:00Z", "apply_time": "2026-06-01T12:00:42Z",
            "health": health, "deferred_reason": XSS if result == "deferred" else None}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FleetServer, str]]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed (the testenv install step provides it)")
    tmp = tmp_path_factory.mktemp("dashboard")
    db = str(tmp / "fleet.db")
    operator = str(fleet_cli("operators", "add", "ops", db=db)["token"])
    tokens = {name: str(fleet_cli("nodes", "add", name, "--tier", tier, "--region", region,
                                  db=db)["token"]) for name, tier, region, *_ in SEED}
    fleet_cli("rollout", "start", NEW, "--wave", "edge-site-a:50", "--wave", "vehicle:100",
              db=db)
    server = FleetServer(db, tmp).start()
    for name, tier, _region, result, rev, health in SEED:
        if result is None:
            continue
        response = httpx.post(f"{server.url}/v1/reports", json={"reports": [
            _report(name, tier, result, str(rev), str(health))]},
            headers={"Authorization": f"Bearer {tokens[name]}"})
        assert response.status_code == 200, response.text
    yield server, operator
    server.stop()


def test_dashboard_shows_the_seeded_fleet(seeded: tuple[FleetServer, str],
                                          tmp_path: Path) -> None:
    server, operator = seeded
    browser = Browser(tmp_path / "profile")
    try:
        browser.goto(f"{server.url}/")
        assert browser.js("location.pathname") == "/login"
        browser.js(f"document.querySelector('input[name=token]').value = {operator!r};"
                   "document.querySelector('form').submit()")
        browser.wait_loaded()
        assert browser.js("location.pathname") == "/"
        assert browser.js("document.cookie") == ""  # HttpOnly: invisible to scripts

        def total(key: str) -> str:
            return str(browser.js(f"document.querySelector('[data-total={key}]').textContent"))

        assert [total(k) for k in ("nodes", "on_latest", "healthy", "deferred", "failed",
                                   "offline")] == ["7", "4", "4", "1", "1", "1"]

        def cell(tier: str, region: str, key: str) -> str:
            return str(browser.js(
                f"document.querySelector('tr[data-tier=\"{tier}\"][data-region=\"{region}\"] "
                f"td[data-k={key}]').textContent"))

        assert cell("edge-site-a", "eu-west", "nodes") == "3"
        assert cell("edge-site-a", "eu-west", "on_latest") == "2"
        assert cell("edge-site-a", "eu-west", "failed") == "1"
        assert cell("vehicle", "eu-west", "deferred") == "1"
        assert cell("vehicle", "eu-west", "offline") == "1"

        attention = browser.js("[...document.querySelectorAll('#attention tr[data-node]')]"
                               ".map(r => r.dataset.node)")
        assert attention[0] == "gw-3"  # failed first, then silent, then deferred
        assert attention.index("car-2") < attention.index("car-1")
        assert "api-1" not in attention

        spread = browser.js("Object.fromEntries([...document.querySelectorAll("
                            "'#revisions tr')].map(r => [r.dataset.revision, "
                            "r.querySelector('[data-k=count]').textContent]))")
        assert spread == {NEW: "4", OLD: "2", "(none)": "1"}
        assert browser.js("document.querySelector('#delivery tr[data-scope=all] "
                          "td[data-k=lead_median]').textContent") == "42 s"

        waves = browser.js("[...document.querySelectorAll('#rollout tr[data-wave]')]"
                           ".map(r => r.textContent)")
        assert len(waves) == 2 and "edge-site-a 50 %" in waves[0]

        # The node-supplied HTML is text, not an element.
        assert browser.js("document.querySelectorAll('img').length") == 0
        assert XSS in str(browser.js("document.querySelector('#attention').textContent"))

        browser.viewport(1280, 900)
        browser.screenshot(ARTIFACTS / "fleet-dashboard.png")
        browser.viewport(390, 844, mobile=True)
        browser.goto(f"{server.url}/")
        # Readable on a phone: the page itself does not scroll sideways.
        assert browser.js("document.documentElement.scrollWidth <= window.innerWidth + 1")
        browser.screenshot(ARTIFACTS / "fleet-dashboard-phone.png")
    finally:
        browser.close()
    assert (ARTIFACTS / "fleet-dashboard.png").stat().st_size > 10_000
    assert shutil.which(CHROMIUM)
