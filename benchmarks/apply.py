"""Apply 500 objects: `edge-agent sync --once` vs `kubectl apply --server-side -f`.

The input is the shared generator's tree (`../shared/bench/gen_overlay_tree.py`, N=250:
250 Deployments + 250 Services + 1 ConfigMap, with replicas set to 0 so the two kwok nodes
can hold the result), rendered once per run into a fresh namespace. Both tools apply the
same rendered objects to the same cluster, interleaved (the order alternates per run), and
the medians are compared:

  kubectl    `kubectl apply --server-side -f bundle.yaml` (one object after the other)
  edgesync   `edge-agent sync --once` on a fresh node state: render, dry-run validation of
             every object, writes in dependency order on a bounded pool, then the health wait
             (kubectl does not wait; the agent's figure without it is printed too)
  no-op      the same `sync --once` again: zero mutating requests, request count printed

Peak RSS of the agent process is read from its own rusage (os.wait4).
Uses the local kube environment (started with `python -m tests.testenv up kube` when not
running) unless --kubeconfig names another cluster.

Run: .venv/bin/python benchmarks/apply.py [--runs 3] [--apps 250]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
GENERATOR = REPO.parent / "shared" / "bench" / "gen_overlay_tree.py"
EDGE_AGENT = str(Path(sys.executable).parent / "edge-agent")


def kube_env() -> tuple[str, str]:
    """(kubeconfig, kubectl) of the local environment, starting it when needed."""
    state = Path(os.environ.get("EDGESYNC_TESTENV_DIR", REPO / ".testenv")) / "state.json"

    def read() -> tuple[str, str] | None:
        if not state.exists():
            return None
        text = state.read_text()
        kc = re.search(r'"kubeconfig":\s*"([^"]+)"', text)
        ctl = re.search(r'"kubectl":\s*"([^"]+)"', text)
        if kc and Path(kc.group(1)).exists():
            return kc.group(1), ctl.group(1) if ctl else "kubectl"
        return None

    found = read()
    if found is None:
        subprocess.run([sys.executable, "-m", "tests.testenv", "up", "kube"], cwd=REPO,
                       check=True)
        found = read()
    if found is None:
        sys.exit("no kube environment: `python -m tests.testenv up kube` did not record one")
    return found


def run_measured(argv: list[str]) -> tuple[float, int, str, str]:
    """Wall seconds, peak RSS (KiB) of that process, stdout, stderr."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        try:
            data = json.loads(stdout)
            summary = f"result {data.get('result')}: {data.get('error')}"
        except ValueError:
            summary = stdout[-2000:]
        sys.exit(f"{argv[0]} failed ({proc.returncode}):\n{summary}\n{stderr[-2000:]}")
    return wall, usage.ru_maxrss, stdout, stderr


class Bench:
    def __init__(self, work: Path, kubeconfig: str, kubectl: str, apps: int):
        self.work, self.kubeconfig, self.kubectl = work, kubeconfig, kubectl
        self.repo = work / "fleet"
        subprocess.run([sys.executable, str(GENERATOR), str(apps), str(self.repo)], check=True)
        self.overlay = self.repo / "overlays" / "edge" / "kustomization.yaml"
        # No pods: the tree asks for 300 pods of 500m CPU, more than the two kwok nodes hold
        # (110 pods, 32 CPU each), and their scheduling is the control plane's time, not
        # the agent's. The 501 objects applied are the same; Deployments become healthy
        # as soon as their controller has observed them.
        for app in (self.repo / "base").glob("app*.yaml"):
            app.write_text(app.read_text().replace("replicas: 1", "replicas: 0"))
        self.overlay.write_text(self.overlay.read_text().replace("value: 2", "value: 0"))
        self.overlay_text = self.overlay.read_text()
        (self.repo / "tiers.yaml").write_text(yaml.safe_dump({"tiers": {"bench": {
            "overlay": "overlays/edge", "registry": "harbor-edge-a.local",
            "health_timeout": "10m", "sync": {"mode": "on-demand"}}}}))
        self.namespaces: list[str] = []

    def ctl(self, *args: str) -> str:
        return subprocess.run([self.kubectl, "--kubeconfig", self.kubeconfig, *args],
                              check=True, capture_output=True, text=True).stdout

    def fresh_namespace(self) -> str:
        ns = f"bench-{uuid.uuid4().hex[:8]}"
        self.ctl("create", "namespace", ns)
        self.namespaces.append(ns)
        return ns

    def point_overlay_at(self, ns: str) -> None:
        self.overlay.write_text(self.overlay_text.replace("namespace: site-a",
                                                          f"namespace: {ns}"))

    def kubectl_apply(self) -> float:
        from agent.render import render, to_yaml

        ns = self.fresh_namespace()
        self.point_overlay_at(ns)
        bundle_file = self.work / f"{ns}.yaml"
        bundle_file.write_text(to_yaml(render(self.overlay.parent, root=self.repo)))
        wall, _, _, _ = run_measured([self.kubectl, "--kubeconfig", self.kubeconfig, "apply",
                                      "--server-side", "-f", str(bundle_file)])
        return wall

    def agent_sync(self) -> dict[str, Any]:
        ns = self.fresh_namespace()
        self.point_overlay_at(ns)
        state = self.work / f"state-{ns}"
        config = self.work / f"agent-{ns}.yaml"
        config.write_text(yaml.safe_dump({
            "node": f"bench-{ns}", "tier": "bench", "source": {"path": str(self.repo)},
            "kube": {"kubeconfig": self.kubeconfig}, "state_dir": str(state),
            # What is measured here is apply: the generated images exist in no registry,
            # and the images and policy stages have benchmarks of their own.
            "images": {"check": False}, "policy": {"enforce": False}}))
        argv = [EDGE_AGENT, "sync", "--once", "--config", str(config), "--output", "json"]
        wall, rss, stdout, _ = run_measured(argv)
        first = json.loads(stdout)
        nwall, nrss, nstdout, _ = run_measured(argv)
        noop = json.loads(nstdout)
        if first["objects"] < 500 or noop["result"] != "unchanged":
            sys.exit(f"unexpected results: {first['objects']} objects, no-op {noop['result']}")
        d = first["durations"]
        return {"wall": wall, "rss_kib": max(rss, nrss), "objects": first["objects"],
                "without_health": wall - d.get("health", 0.0), "health": d.get("health", 0.0),
                "apply_stage": d.get("plan", 0) + d.get("apply", 0) + d.get("prune", 0),
                "first_requests": first["requests"], "noop_wall": nwall,
                "noop_requests": noop["requests"]}

    def drop_namespaces(self) -> None:
        """Delete this run's namespaces and wait: the local cluster's Service range is small,
        and each run allocates 250 cluster IPs."""
        if self.namespaces:
            subprocess.run([self.kubectl, "--kubeconfig", self.kubeconfig, "delete",
                            "namespace", "--wait=true", "--timeout=300s", *self.namespaces],
                           capture_output=True, check=False)
            self.namespaces.clear()

    def cleanup(self) -> None:
        if self.namespaces:
            subprocess.run([self.kubectl, "--kubeconfig", self.kubeconfig, "delete",
                            "namespace", "--wait=false", *self.namespaces],
                           capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--apps", type=int, default=250)
    parser.add_argument("--kubeconfig")
    args = parser.parse_args()
    if args.kubeconfig:
        kubeconfig, kubectl = args.kubeconfig, shutil.which("kubectl") or "kubectl"
    else:
        kubeconfig, kubectl = kube_env()
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory(prefix="edgesync-bench-") as tmp:
        bench = Bench(Path(tmp), kubeconfig, kubectl, args.apps)
        kubectl_times: list[float] = []
        agent_runs: list[dict[str, Any]] = []
        try:
            for i in range(args.runs):
                order = ("kubectl", "agent") if i % 2 == 0 else ("agent", "kubectl")
                for tool in order:
                    if tool == "kubectl":
                        kubectl_times.append(bench.kubectl_apply())
                    else:
                        agent_runs.append(bench.agent_sync())
                    bench.drop_namespaces()
                print(f"run {i + 1}: kubectl {kubectl_times[-1]:.2f}s, edgesync "
                      f"{agent_runs[-1]['wall']:.2f}s (health wait "
                      f"{agent_runs[-1]['health']:.2f}s)", flush=True)
        finally:
            bench.cleanup()

    def med(key: str) -> float:
        return statistics.median(r[key] for r in agent_runs)

    k = statistics.median(kubectl_times)
    objects = agent_runs[0]["objects"]
    noop_req = agent_runs[-1]["noop_requests"]
    print(f"\n{objects} objects, {args.runs} interleaved runs, medians:")
    print(f"  kubectl apply --server-side    {k:7.2f} s")
    print(f"  edge-agent sync --once         {med('wall'):7.2f} s   ratio {med('wall') / k:.2f}x"
          "   (incl. waiting until all Deployments are available)")
    print(f"    without the health wait      {med('without_health'):7.2f} s   ratio "
          f"{med('without_health') / k:.2f}x   (floor: <= 0.50x)")
    print(f"    plan + apply + prune stages  {med('apply_stage'):7.2f} s")
    print(f"  first sync requests            {agent_runs[-1]['first_requests']['total']} "
          f"({agent_runs[-1]['first_requests']['mutating']} mutating)")
    print(f"  no-op re-sync                  {med('noop_wall'):7.2f} s   "
          f"{noop_req['total']} requests, {noop_req['mutating']} mutating (must be 0)")
    print(f"  peak RSS of edge-agent         {max(r['rss_kib'] for r in agent_runs) / 1024:7.1f}"
          " MiB (limit 120)")


if __name__ == "__main__":
    main()
