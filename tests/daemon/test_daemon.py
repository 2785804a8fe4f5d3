"""The daemon as systemd runs it: a real process, real Git over HTTP, a real API server."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.daemon.node import Node, NotifyListener, fleet_files, wait_until
from tests.source.httpfleet import HttpFleet
from tests.testenv.env import Env

pytestmark = [pytest.mark.git, pytest.mark.k8s, pytest.mark.slow]


@pytest.fixture
def ns() -> str:
    return f"es-{uuid.uuid4().hex[:8]}"


def make_node(tmp_path: Path, git_env: Env, kube_env: Env, ns: str, tier: str,
              **files_kw: str) -> Node:
    fleet = HttpFleet(git_env, tmp_path / "remote", files=fleet_files(ns, **files_kw))
    return Node(tmp_path, git_env, kube_env, tier=tier, fleet=fleet)


def set_greeting(fleet: HttpFleet, text: str) -> str:
    fleet.write("base/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n"
                f"data: {{greeting: {text}}}\n")
    head = fleet.commit(f"greeting {text}")
    fleet.push()
    return head


def test_realtime_node_under_systemd_notify(tmp_path: Path, git_env: Env, kube_env: Env,
                                            ns: str) -> None:
    node = make_node(tmp_path, git_env, kube_env, ns, "cloud")
    notify = NotifyListener(f"@edgesync-test-{uuid.uuid4().hex[:8]}")
    try:
        node.start({"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "1000000"})
        assert node.proc is not None
        notify.wait_for("READY=1")
        wait_until(lambda: node.configmap(f"{ns}-cloud") == "hello", 60, "first apply")
        # A push reaches a realtime node within seconds.
        pushed = time.monotonic()
        head = set_greeting(node.fleet, "bonjour")
        wait_until(lambda: node.configmap(f"{ns}-cloud") == "bonjour", 30, "the pushed change")
        took = time.monotonic() - pushed
        assert took < 15, took
        status = wait_until(lambda: (s := node.status())["applied_revision"] == head and s,
                            10, "status to show the new revision")
        assert status["mode"] == "realtime" and status["last_result"] == "applied"
        assert status["last_good_revision"] == head
        notify.wait_for("WATCHDOG=1", 5)
        assert any(ln.startswith("STATUS=") for ln in notify.lines())
        def scrape() -> str:
            return str(urllib.request.urlopen(
                f"http://127.0.0.1:{node.metrics_port}/metrics", timeout=5).read().decode())

        # An idle poll (source unchanged) follows the sync within a poll interval or two.
        metrics = wait_until(lambda: m if 'changed="false"' in (m := scrape()) else None,
                             15, "an idle poll in the metrics")
        assert "edgesync_last_sync_success 1.0" in metrics
        assert f'edgesync_revision_info{{revision="{head}"}} 1.0' in metrics
        assert 'edgesync_polls_total{changed="false"}' in metrics
        assert "edgesync_fetched_bytes_total" in metrics
        assert 'edgesync_stage_duration_seconds{stage="apply"}' in metrics
        assert node.stop() == 0
        notify.wait_for("STOPPING=1", 5)
        events = [e["event"] for e in node.events()]
        assert events[0] == "started" and events[-1] == "stopped" and "synced" in events
    finally:
        if node.proc:
            node.proc.kill()
        notify.close()


def test_on_demand_node_waits_for_trigger_and_honours_the_lock(tmp_path: Path, git_env: Env,
                                                               kube_env: Env, ns: str) -> None:
    node = make_node(tmp_path, git_env, kube_env, ns, "vehicle")
    target = f"{ns}-vehicle"
    try:
        node.start()
        # Nothing on disk yet: one sync at start to learn the tier policy.
        wait_until(lambda: node.configmap(target) == "hello", 60, "the bootstrap sync")
        wait_until(lambda: node.status()["phase"] == "idle", 10, "idle")
        assert node.status()["mode"] == "on-demand" and node.status()["next_poll"] is None
        set_greeting(node.fleet, "ahoy")
        seen = len(node.fleet.settled_requests())
        time.sleep(3)
        assert len(node.fleet.settled_requests()) == seen, "an on-demand node must not poll"
        assert node.configmap(target) == "hello"

        done = node.cli("trigger", "--wait", "--output", "json")
        assert done.returncode == 0, done.stdout + done.stderr
        assert json.loads(done.stdout)["result"]["result"] == "applied"
        assert node.configmap(target) == "ahoy"

        locked = node.cli("lock", "--reason", "driving")
        assert locked.returncode == 0, locked.stderr
        set_greeting(node.fleet, "parked")
        deferred = node.cli("trigger", "--wait", "--output", "json")
        assert deferred.returncode == 1
        result = json.loads(deferred.stdout)["result"]
        assert result["result"] == "deferred" and "driving" in result["reason"]
        assert node.configmap(target) == "ahoy"
        assert node.status()["phase"] == "deferred"
        # Released: the deferred update applies by itself within seconds.
        assert node.cli("unlock").returncode == 0
        wait_until(lambda: node.configmap(target) == "parked", 20, "apply after unlock")
        assert node.stop() == 0
    finally:
        if node.proc:
            node.proc.kill()


def test_closed_window_defers_apply(tmp_path: Path, git_env: Env, kube_env: Env,
                                    ns: str) -> None:
    hour = (time.gmtime().tm_hour + 12) % 24
    node = make_node(tmp_path, git_env, kube_env, ns, "edge-site-a",
                     windows=f'[{{cron: "0 {hour} * * *", duration: 1h, timezone: UTC}}]')
    try:
        node.start()
        status = wait_until(lambda: (s := node.status())["phase"] == "deferred" and s, 60,
                            "deferral")
        assert "outside maintenance window" in status["deferred"]
        assert node.configmap(f"{ns}-edge-site-a") is None
        assert node.stop() == 0
    finally:
        if node.proc:
            node.proc.kill()


def test_restart_with_git_down_serves_last_good_and_recovers_on_reload(
        tmp_path: Path, git_env: Env, kube_env: Env, ns: str) -> None:
    node = make_node(tmp_path, git_env, kube_env, ns, "cloud")
    try:
        node.start()
        head = node.fleet.head()
        wait_until(lambda: node.status()["last_good_revision"] == head, 60, "first sync")
        assert node.stop() == 0
        good_url = node.data["source"]["url"]
        node.data["source"]["url"] = f"http://127.0.0.1:9/git/{node.fleet.name}"  # nobody there
        node.write_config()
        node.start()
        status = wait_until(lambda: (s := node.status())["failures"] >= 1 and s, 30,
                            "a failed poll")
        assert status["last_good_revision"] == head
        assert status["source_revision"] == head
        assert "ls-remote failed" in status["last_error"]
        assert status["phase"] == "backoff"
        assert node.configmap(f"{ns}-cloud") == "hello"
        # The server is back (config fixed): SIGHUP, and the node catches up on its own.
        new = set_greeting(node.fleet, "back")
        node.data["source"]["url"] = good_url
        node.write_config()
        assert node.proc is not None
        node.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: node.configmap(f"{ns}-cloud") == "back", 60, "recovery")
        wait_until(lambda: node.status()["applied_revision"] == new, 10, "status")
        assert any(e["event"] == "reloaded" for e in node.events())
        assert node.stop() == 0
    finally:
        if node.proc:
            node.proc.kill()


def test_broken_revision_keeps_last_good_backs_off_and_recovers(
        tmp_path: Path, git_env: Env, kube_env: Env, ns: str) -> None:
    node = make_node(tmp_path, git_env, kube_env, ns, "cloud")
    try:
        node.start()
        good = node.fleet.head()
        wait_until(lambda: node.status()["last_good_revision"] == good, 60, "first sync")
        node.fleet.write("cloud/kustomization.yaml",
                         f"namespace: {ns}-cloud\nresources: [namespace.yaml, ../missing]\n")
        node.fleet.commit("broken overlay")
        node.fleet.push()
        status = wait_until(lambda: (s := node.status())["failures"] >= 2 and s, 60,
                            "repeated failures")
        assert status["last_good_revision"] == good
        assert status["phase"] == "backoff" and status["retry_at"]
        assert node.configmap(f"{ns}-cloud") == "hello"
        failed = [e for e in node.events() if e["event"] == "failed"]
        assert failed[-1]["retry_in"] >= failed[0]["retry_in"]
        fixed = set_greeting(node.fleet, "fixed")
        node.fleet.write("cloud/kustomization.yaml",
                         f"namespace: {ns}-cloud\nresources: [namespace.yaml, ../base]\n")
        fixed = node.fleet.commit("fix overlay")
        node.fleet.push()
        wait_until(lambda: node.configmap(f"{ns}-cloud") == "fixed", 60, "recovery")
        wait_until(lambda: node.status()["last_good_revision"] == fixed, 10, "status")
        assert node.status()["failures"] == 0
        assert node.stop() == 0
    finally:
        if node.proc:
            node.proc.kill()


def test_webhook_needs_the_hmac_signature(tmp_path: Path, git_env: Env, kube_env: Env,
                                          ns: str) -> None:
    from tests.daemon.node import free_port

    secret = tmp_path / "webhook-secret"
    secret.write_text("s3cret-webhook-key\n")
    port = free_port()
    fleet = HttpFleet(git_env, tmp_path / "remote", files=fleet_files(ns))
    node = Node(tmp_path, git_env, kube_env, tier="vehicle", fleet=fleet,
                extra={"daemon": {"webhook": {"listen": f"127.0.0.1:{port}",
                                              "secret_file": str(secret)}}})
    try:
        node.start()
        wait_until(lambda: node.configmap(f"{ns}-vehicle") == "hello", 60, "bootstrap")
        wait_until(lambda: node.status()["phase"] == "idle", 10, "idle")
        set_greeting(fleet, "hooked")
        body = b'{"ref": "refs/heads/main"}'

        def post(signature: str | None) -> int:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/trigger", data=body,
                                         method="POST")
            if signature:
                req.add_header("X-Hub-Signature-256", signature)
            try:
                return int(urllib.request.urlopen(req, timeout=5).status)
            except urllib.error.HTTPError as exc:
                return exc.code

        assert post(None) == 401
        assert post("sha256=" + "0" * 64) == 401
        time.sleep(2)
        assert node.configmap(f"{ns}-vehicle") == "hello"
        good = hmac.new(b"s3cret-webhook-key", body, hashlib.sha256).hexdigest()
        assert post(f"sha256={good}") == 202
        wait_until(lambda: node.configmap(f"{ns}-vehicle") == "hooked", 30, "webhook sync")
        assert node.stop() == 0
    finally:
        if node.proc:
            node.proc.kill()


NEVER_BOUND = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: stuck}
spec:
  storageClassName: edgesync-no-such-class
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
"""


@pytest.mark.parametrize("signals", [1, 2])
def test_sigterm_finishes_the_running_cycle_and_a_second_abandons_it(
        tmp_path: Path, git_env: Env, kube_env: Env, ns: str, signals: int) -> None:
    files = fleet_files(ns)
    files["tiers.yaml"] = files["tiers.yaml"].replace("health_timeout: 30s}",
                                                      "health_timeout: 8s}", 1)
    fleet = HttpFleet(git_env, tmp_path / "remote", files=files)
    node = Node(tmp_path, git_env, kube_env, tier="cloud", fleet=fleet)
    try:
        node.start()
        assert node.proc is not None
        good = fleet.head()
        wait_until(lambda: node.status()["last_good_revision"] == good, 60, "a good revision")
        # A claim that is never bound keeps the next cycle waiting for health until timeout.
        fleet.write("cloud/stuck.yaml", NEVER_BOUND)
        fleet.write("cloud/kustomization.yaml",
                    f"namespace: {ns}-cloud\nresources: [namespace.yaml, ../base, stuck.yaml]\n")
        fleet.commit("a claim that never binds")
        fleet.push()
        wait_until(lambda: node.status()["phase"] == "syncing", 30, "the cycle to start")
        time.sleep(1)
        for _ in range(signals):
            node.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
        code = node.proc.wait(60)
        events = node.events()
        names = [e["event"] for e in events]
        state = json.loads(Path(node.data["state_dir"], "state.json").read_text())
        if signals == 1:
            assert code == 0
            assert "finishing the running cycle" in events[names.index("signal")]["action"]
            after = names[names.index("signal"):]
            assert "failed" in after and after[-1] == "stopped", names
            # Finished: rolled back to the last good revision, nothing left half-applied.
            assert state["applying"] is None
            assert state["applied_revision"] == good and state["result"] == "rolled-back"
        else:
            assert code == 143
            # Abandoned mid-cycle: the state file says so, and the next run converges.
            assert state["applying"] and state["applying"] != good
    finally:
        if node.proc and node.proc.poll() is None:
            node.proc.kill()
