"""A node obeying `fleet rollout`: held until its wave is released, then applied; an aborted
revision never applied; the last answer kept while the fleet service is gone.

Real parts: `edge-agent sync --once`, the apiserver, and a `fleet serve` process."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config import load_config
from agent.report.gate import GATE_FILE
from agent.source import resolve
from tests.fleet.server import FleetServer, fleet_cli
from tests.kube.kubefixtures import exists, get
from tests.kube.test_cycle import cm, ns_obj, sync

pytestmark = pytest.mark.k8s


@pytest.fixture
def fleet(tmp_path: Path, node: str) -> Iterator[tuple[FleetServer, str, Path]]:
    db = str(tmp_path / "fleet.db")
    token = tmp_path / "node.token"
    token.write_text(str(fleet_cli("nodes", "add", node, "--tier", "edge-site-a",
                                   db=db)["token"]))
    server = FleetServer(db, tmp_path).start()
    try:
        yield server, db, token
    finally:
        server.stop()


def follow(config: Path, url: str, token: Path, mode: str = "follow") -> None:
    data = yaml.safe_load(config.read_text())
    data["fleet"] = {"url": url, "token_file": str(token), "rollouts": mode}
    config.write_text(yaml.safe_dump(data))


def source_revision(config: Path) -> str:
    return resolve(load_config(config), offline=False).id


def value(kubeconfig: str, ns: str) -> Any:
    return get(kubeconfig, "configmap", "app", ns)["data"]["k"]


def test_node_waits_for_its_wave_and_never_takes_an_aborted_revision(
        setup: Callable[..., Path], namespaces: Callable[[], str], kubeconfig: str,
        fleet: tuple[FleetServer, str, Path]) -> None:
    server, db, token = fleet
    ns = namespaces()
    config = setup([ns_obj(ns), cm("app", ns, k="1")])
    follow(config, server.url, token)
    code, first = sync(config)
    assert code == 0 and first["result"] == "applied", first

    # Revision 2 is rolled out to another tier first: this node is in wave 1.
    config = setup([ns_obj(ns), cm("app", ns, k="2")])
    follow(config, server.url, token)
    rev2 = source_revision(config)
    fleet_cli("rollout", "start", rev2, "--wave", "cloud:100", "--wave", "edge-site-a:100",
              db=db)
    code, held = sync(config)
    assert held["result"] == "deferred", held
    assert "has not released" in held["reason"]
    assert (held["revision"], held["desired_revision"]) == (first["revision"], rev2)
    assert value(kubeconfig, ns) == "1"

    # The service goes away: the node keeps obeying the answer it kept.
    server.stop()
    kept = Path(load_config(config).state_dir) / GATE_FILE
    answer = json.loads(kept.read_text())
    kept.write_text(json.dumps({**answer, "fetched_at": 0}))  # old enough to ask again
    code, offline = sync(config)
    assert offline["result"] == "deferred" and "has not released" in offline["reason"]
    assert value(kubeconfig, ns) == "1"
    server.start()

    fleet_cli("rollout", "promote", "--force", db=db)
    kept.unlink()  # ask now rather than after the refresh interval
    code, moved = sync(config)
    assert code == 0 and moved["result"] == "applied", moved
    assert moved["revision"] == rev2 and value(kubeconfig, ns) == "2"
    fleet_cli("rollout", "promote", "--force", db=db)  # completed

    # Revision 3 is aborted before this node's wave: it is never applied...
    config = setup([ns_obj(ns), cm("app", ns, k="3")])
    follow(config, server.url, token)
    rev3 = source_revision(config)
    fleet_cli("rollout", "start", rev3, "--wave", "cloud:100", "--wave", "edge-site-a:100",
              db=db)
    fleet_cli("rollout", "abort", db=db)
    kept.unlink(missing_ok=True)
    code, aborted = sync(config)
    assert aborted["result"] == "deferred" and "was aborted" in aborted["reason"], aborted
    assert value(kubeconfig, ns) == "2"

    # ...while the commit that replaces it is free to go.
    config = setup([ns_obj(ns), cm("app", ns, k="4")])
    follow(config, server.url, token)
    code, fixed = sync(config)
    assert code == 0 and fixed["result"] == "applied", fixed
    assert value(kubeconfig, ns) == "4"


def test_require_mode_moves_only_to_rolled_out_revisions(
        setup: Callable[..., Path], namespaces: Callable[[], str], kubeconfig: str,
        fleet: tuple[FleetServer, str, Path]) -> None:
    server, db, token = fleet
    ns = namespaces()
    config = setup([ns_obj(ns), cm("app", ns, k="1")])
    follow(config, server.url, token, mode="require")
    code, waiting = sync(config)
    assert waiting["result"] == "deferred", waiting
    assert "no rollout releases" in waiting["reason"]
    assert waiting["revision"] is None and not exists(kubeconfig, "namespace", ns)

    fleet_cli("rollout", "start", source_revision(config), "--wave", "edge-site-a:100", db=db)
    # A held node asks again after the refresh interval; drop the kept answer to ask now.
    (Path(load_config(config).state_dir) / GATE_FILE).unlink()
    code, applied = sync(config)
    assert code == 0 and applied["result"] == "applied", applied
    assert value(kubeconfig, ns) == "1"
