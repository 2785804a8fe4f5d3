"""The quickstart: a local fleet of three nodes, one commit, and what each node does with it.

    python packaging/demo/run.py [--short] [--json-status FILE]   # make demo
    python packaging/demo/run.py down [--keep-testenv]            # make demo-down

Brings up the local environment (Kubernetes with kwok nodes, Git, registry), starts
`fleet serve` on SQLite in `.demo/`, pushes `overlays/` to the local Git server as
`demo-fleet.git`, enrols and starts three agents (cloud realtime, edge-site-a on an
interval, a vehicle on demand behind its update lock), makes a commit and narrates how
it reaches each node. Everything it starts keeps running until `down`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(1, str(REPO))  # the agent, fleet and tests.testenv packages

import httpx  # noqa: E402
from demo_nodes import NODES, Node, Servers  # noqa: E402
from demo_procs import Background, DemoState, alive, free_port, start, stop  # noqa: E402
from demo_repo import REPO_NAME, DemoError, FleetRepo, create_served_repo  # noqa: E402
from demo_watch import AgentLogs, FleetView, Narrator, Watch, short  # noqa: E402

# The demo's own directory (gitignored); the test suite points it at a temporary one.
WORK = Path(os.environ.get("EDGESYNC_DEMO_DIR") or REPO / ".demo").resolve()
STATE_FILE = WORK / "demo.json"
BIN = Path(sys.executable).parent  # edge-agent and fleet of the same venv
COMPONENTS = ("kube", "git", "registry")
GOOD = ("applied", "unchanged")


class Demo:
    def __init__(self, short_mode: bool):
        self.short = short_mode
        self.edge_interval = "15s" if short_mode else "30s"
        self.say = Narrator(quiet=short_mode)
        self.state = DemoState()
        self.nodes = [Node(spec, WORK, BIN) for spec in NODES]
        self.by_name = {n.name: n for n in self.nodes}
        self.run_id = time.strftime("%Y%m%d-%H%M%S")

    # -- helpers ---------------------------------------------------------------------------

    def keep(self, bg: Background) -> None:
        self.state.procs.append(bg)
        self.state.save(STATE_FILE)

    def pause(self, seconds: float = 2.0) -> None:
        if not self.short:  # let a person read the narration; CI does not need to
            time.sleep(seconds)

    def fleet_cli(self, *args: str) -> str:
        # Wide enough for the status table's columns when stdout is not a terminal.
        env = {**os.environ, "COLUMNS": os.environ.get("COLUMNS", "110")}
        proc = subprocess.run([str(BIN / "fleet"), *args], capture_output=True, text=True,
                              env=env, check=False)
        if proc.returncode != 0:
            raise DemoError(f"fleet {' '.join(args)}: {proc.stderr.strip() or proc.stdout}")
        return proc.stdout

    # -- steps -----------------------------------------------------------------------------

    def environment(self) -> Any:
        from tests.testenv import stack
        from tests.testenv.env import Env
        from tests.testenv.state import load

        self.say.step("1. Local environment: Kubernetes (kwok nodes), Git server, registry")
        before = load().components
        running = {n for n, c in before.items() if any(r.alive() for r in c.procs.values())}
        self.state.testenv_started = [c for c in COMPONENTS if c not in running]
        self.state.save(STATE_FILE)
        started = time.monotonic()
        # Not "up": that would adopt servers a test session started, and then neither the
        # session nor `demo down` would stop them. The demo stops only what it started.
        env = Env.from_state(stack.ensure(COMPONENTS, origin="demo"))
        self.say.say("testenv", f"ready in {time.monotonic() - started:.1f}s "
                                f"(started: {', '.join(self.state.testenv_started) or 'none'})")
        self.say.detail(f"kubeconfig {env.kubeconfig}; Git {env.git_url}; "
                        f"registry {env.registry}")
        return env

    def fleet_service(self) -> tuple[str, Path]:
        self.say.step("2. Fleet service: `fleet serve` on SQLite, and an operator token")
        db = WORK / "fleet.db"
        token = json.loads(self.fleet_cli("operators", "add", "demo", "--db", str(db),
                                          "--output", "json"))["token"]
        token_file = WORK / "operator.token"
        token_file.write_text(token + "\n", encoding="utf-8")
        token_file.chmod(0o600)
        url = f"http://127.0.0.1:{free_port()}"
        self.keep(start("fleet serve", [str(BIN / "fleet"), "serve", "--db", str(db),
                                        "--listen", url.removeprefix("http://")],
                        WORK / "fleet.log", cwd=WORK))
        self.state.fleet_url = url
        self.state.save(STATE_FILE)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or not alive(self.state.procs[-1]):
                raise DemoError(f"fleet serve did not come up; see {WORK / 'fleet.log'}")
            time.sleep(0.2)
        self.say.say("fleet", f"serving on {url} (database {db})")
        self.say.detail("Agents push reports here (a durable spool on each node, sent in "
                        "batches); operators read /v1/status, `fleet status` and the page.")
        return url, token_file

    def fleet_repo(self, env: Any) -> FleetRepo:
        self.say.step(f"3. Fleet repo: overlays/ pushed to {env.git_url}/{REPO_NAME}")
        secrets = WORK / "secrets"
        secrets.mkdir(mode=0o700)
        for name, value in (("git-password", env.git_password),
                            ("registry-password", env.registry_password)):
            (secrets / name).write_text(value, encoding="utf-8")
            (secrets / name).chmod(0o600)
        create_served_repo()
        repo = FleetRepo(WORK / "fleet-repo", f"{env.git_url}/{REPO_NAME}", env.git_user,
                         secrets / "git-password")
        head = repo.seed(REPO / "overlays", self.edge_interval, self.run_id)
        self.say.say("git", f"pushed main at {short(head)}: the example overlays, with "
                            f"edge-site-a polling every {self.edge_interval} instead of 1h")
        self.say.detail("tiers.yaml (the tier policy) lives in the repo itself, so a change "
                        "of policy rolls out like any other commit.")
        self.say.detail(f"a working copy is in {repo.work}; commit and push there to play")
        return repo

    def enrol_and_start(self, env: Any, fleet_url: str, repo: FleetRepo) -> None:
        self.say.step("4. Three nodes: enrolled with `fleet nodes add`, agents started")
        servers = Servers(git_url=repo.url, git_user=env.git_user,
                          git_password_file=WORK / "secrets" / "git-password",
                          registry=env.registry, registry_user=env.registry_user,
                          registry_password_file=WORK / "secrets" / "registry-password",
                          kubeconfig=env.kubeconfig, fleet_url=fleet_url)
        for node in self.nodes:
            node.enrol(WORK / "fleet.db")
            node.write_config(servers)
            self.say.say(node.name, f"tier {node.spec.tier} ({node.spec.platform}), "
                                    f"{node.spec.story}")
            self.say.detail(f"config {node.config}")
        car = self.by_name["car-042"]
        locked = car.cli("lock", "--reason", "driving: no updates until parked")
        if locked.returncode != 0:
            raise DemoError(f"edge-agent lock: {locked.stderr.strip()}")
        self.say.say(car.name, f"$ edge-agent lock -> {locked.stdout.strip()}")
        self.say.detail("The lock stands for a vehicle's drive controller: while it is held "
                        "the agent fetches and renders, but applies nothing.")
        for node in self.nodes:
            self.keep(node.start(WORK))

    def first_sync(self, watch: Watch, seed: str) -> None:
        self.say.step("5. First sync: each agent fetches, renders its tier, pins images, "
                      "applies")

        def settled(nodes: dict[str, dict[str, Any]]) -> bool:
            return (on(nodes, "cloud-1", seed) and on(nodes, "gw-001", seed)
                    and result_of(nodes, "car-042") == "deferred")

        self.say.detail("Images are pinned to digests from the local registry, per platform "
                        "(car-042 gets the arm64 one); each tier lands in its own namespace.")
        watch.until("cloud-1 and gw-001 on the first commit and car-042 deferred", settled,
                    timeout=240)

    def commit(self, watch: Watch, repo: FleetRepo) -> str:
        self.say.step("6. A commit to the fleet repo: a new greeting in base/index.html")
        self.pause()
        head = repo.change_greeting(f"hello from edgesync, release 2 (demo {self.run_id})")
        self.say.mark("commit")
        self.say.say("git", f"pushed {short(head)} (every tier's ConfigMap changes, so "
                            "its pods roll)")
        nodes = watch.until("cloud-1 on the new commit",
                            lambda n: on(n, "cloud-1", head), timeout=120)
        self.say.say("fleet", f"cloud-1 converged {since(nodes['cloud-1'], head)}")
        self.say.detail("A realtime node asks Git every few seconds with one ls-remote; "
                        "it fetches and syncs only when the branch moved.")
        return head

    def vehicle_while_locked(self, watch: Watch) -> None:
        car = self.by_name["car-042"]
        self.say.step("7. The vehicle is asked to sync while its update lock is held")
        done = car.cli("trigger", "--wait", "--timeout", "120")
        self.say.say(car.name, f"$ edge-agent trigger --wait -> {first_line(done)}")
        watch.pump()
        self.say.detail("Deferred, not failed: the node keeps what it runs and says why in "
                        "its report.")

    def edge_interval_wait(self, watch: Watch, head: str) -> None:
        self.say.step(f"8. The edge gateway picks the commit up on its interval "
                      f"({self.edge_interval})")
        seconds = float(self.edge_interval.rstrip("s"))
        nodes = watch.until("gw-001 on the new commit", lambda n: on(n, "gw-001", head),
                            timeout=seconds + 120)
        self.say.say("fleet", f"gw-001 converged {since(nodes['gw-001'], head)}")
        self.say.detail("In the example repo edge sites poll hourly with jitter, so a "
                        "fleet of gateways does not hit Git at once.")

    def vehicle_parked(self, watch: Watch, head: str) -> None:
        car = self.by_name["car-042"]
        self.say.step("9. The vehicle parks: unlock, then trigger and wait")
        self.pause()
        unlocked = car.cli("unlock")
        self.say.say(car.name, f"$ edge-agent unlock -> {first_line(unlocked)}")
        # Longer than the vehicle tier's health timeout (5m): a slow rollout still answers.
        done = car.cli("trigger", "--wait", "--timeout", "420", timeout=480)
        self.say.say(car.name, f"$ edge-agent trigger --wait -> {first_line(done)}")
        if done.returncode != 0:
            raise DemoError(f"car-042 did not converge after unlock: {done.stdout}"
                            f"{done.stderr}")
        watch.until("car-042 on the new commit", lambda n: on(n, "car-042", head),
                    timeout=60)

    def finish(self, url: str, token_file: Path, json_status: Path | None) -> None:
        self.say.step("10. Fleet status")
        print(self.fleet_cli("status", "--server", url, "--token-file", str(token_file)),
              end="", flush=True)
        if json_status is not None:
            data = self.fleet_cli("status", "--server", url, "--token-file", str(token_file),
                                  "--output", "json")
            json_status.write_text(data, encoding="utf-8")
        print(f"\nDashboard: {url}/  (operator token: {token_file.read_text().strip()})\n"
              f"Everything keeps running: commit in {WORK / 'fleet-repo'} and push, or try\n"
              f"  .venv/bin/edge-agent trigger --wait --config {WORK}/nodes/car-042/agent.yaml\n"
              f"  .venv/bin/fleet status --server {url} --token-file {token_file}\n"
              f"Stop it all with `make demo-down`.", flush=True)

    def run(self, json_status: Path | None) -> None:
        started = time.monotonic()
        env = self.environment()
        url, token_file = self.fleet_service()
        repo = self.fleet_repo(env)
        seed = repo.git("rev-parse", "HEAD")
        self.enrol_and_start(env, url, repo)
        watch = Watch(self.say, AgentLogs(self.nodes), FleetView(url, token_file))
        self.first_sync(watch, seed)
        head = self.commit(watch, repo)
        self.vehicle_while_locked(watch)
        self.edge_interval_wait(watch, head)
        self.vehicle_parked(watch, head)
        watch.pump()
        self.finish(url, token_file, json_status)
        print(f"(demo took {time.monotonic() - started:.0f}s)", flush=True)


def on(nodes: dict[str, dict[str, Any]], name: str, revision: str) -> bool:
    node = nodes.get(name) or {}
    return node.get("revision") == revision and node.get("result") in GOOD


def result_of(nodes: dict[str, dict[str, Any]], name: str) -> str | None:
    return (nodes.get(name) or {}).get("result")


def since(node: dict[str, Any], head: str) -> str:
    """'in N s' from the commit time to the node's reported apply time."""
    from datetime import datetime

    try:
        applied = datetime.fromisoformat(str(node["apply_time"]).replace("Z", "+00:00"))
        committed = datetime.fromisoformat(str(node["commit_time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return f"on {short(head)}"
    return f"on {short(head)}, {(applied - committed).total_seconds():.0f}s after the commit"


def first_line(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stdout.strip() or proc.stderr.strip()).splitlines()
    return (text[0] if text else "(no output)") + ("" if proc.returncode == 0
                                                    else f"  [exit {proc.returncode}]")


# Everything the demo writes in its directory; only these are removed before a new run,
# so pointing EDGESYNC_DEMO_DIR at a folder with other files never loses them.
WORK_ENTRIES = ("demo.json", "demo.tmp", "fleet.db", "fleet.db-wal", "fleet.db-shm",
                "fleet.log", "operator.token", "git-askpass", "secrets", "fleet-repo", "nodes")


def clear_work_dir() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    for name in WORK_ENTRIES:
        path = WORK / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def print_log_tails(lines: int = 6) -> None:
    """The last events of each agent and of the fleet service, for a failed run."""
    logs = [*sorted((WORK / "nodes").glob("*/agent.log")), WORK / "fleet.log"]
    for log in logs:
        if log.exists():
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            print(f"\n-- last lines of {log}", *(line[:400] for line in tail), sep="\n",
                  file=sys.stderr)


def down(keep_testenv: bool) -> int:
    """Stop the agents, then the fleet service, then what the demo started of the testenv."""
    state = DemoState.load(STATE_FILE)
    for bg in sorted(state.procs, key=lambda b: b.name.startswith("fleet")):
        print(f"demo: {'stopped' if stop(bg) else 'not running:'} {bg.name} (pid {bg.pid})")
    if state.testenv_started and not keep_testenv:
        from tests.testenv import stack

        stopped = stack.down(state.testenv_started)
        print(f"demo: stopped testenv {', '.join(stopped)}")
    elif state.testenv_started:
        print(f"demo: left the testenv running ({', '.join(state.testenv_started)})")
    STATE_FILE.unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="packaging/demo/run.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=["up", "down"], default="up")
    parser.add_argument("--short", action="store_true",
                        default=os.environ.get("EDGESYNC_DEMO_SHORT", "") not in ("", "0"),
                        help="shorter waits and narration (CI); also EDGESYNC_DEMO_SHORT=1")
    parser.add_argument("--json-status", type=Path, metavar="FILE",
                        default=os.environ.get("EDGESYNC_DEMO_JSON_STATUS") or None,
                        help="write the final `fleet status --output json` here "
                             "(also EDGESYNC_DEMO_JSON_STATUS)")
    parser.add_argument("--keep-testenv", action="store_true",
                        default=os.environ.get("EDGESYNC_DEMO_KEEP_TESTENV", "") not in ("", "0"),
                        help="down: leave the local servers running even if the demo "
                             "started them (also EDGESYNC_DEMO_KEEP_TESTENV=1)")
    args = parser.parse_args(argv)
    if args.command == "down":
        return down(args.keep_testenv)
    if STATE_FILE.exists():
        print("demo: a previous demo is still recorded; stopping its agents and service first")
        down(keep_testenv=True)
    clear_work_dir()
    try:
        Demo(args.short).run(args.json_status)
    except KeyboardInterrupt:
        print(f"\ndemo: interrupted; what it started keeps running (see {STATE_FILE}); "
              "`make demo-down` stops it", file=sys.stderr)
        return 130
    except DemoError as exc:
        print_log_tails()
        print(f"\ndemo: {exc}\nlogs: {WORK}/fleet.log, {WORK}/nodes/*/agent.log; "
              f"stop with `make demo-down`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
