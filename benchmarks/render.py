"""Render N-app overlays: `edge-agent render` vs `kubectl kustomize`, as whole processes.

Trees come from the shared generator (`../shared/bench/gen_overlay_tree.py`): N
Deployment+Service pairs, a ConfigMap generator in the base, and an overlay with
a namespace, a name prefix, labels, ten image rewrites, a JSON 6902 patch on every
fifth Deployment and one strategic-merge patch. For each N both tools render
`DIR/overlays/edge`, interleaved (the order alternates per run), and the medians
are printed with their ratio, for wall time and for the CPU time of each process
(steadier when the machine is shared). Before timing, the two outputs are compared as YAML
document lists and must be equal. `edge-agent --help` start-up is timed too.

Floors (issue 2): N=1000 at least 10x faster than kubectl; N=10 no slower.

Run: .venv/bin/python benchmarks/render.py [--runs 5] [--sizes 10 100 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _bytecode import compile_project

REPO = Path(__file__).resolve().parents[1]
GENERATOR = REPO.parent / "shared" / "bench" / "gen_overlay_tree.py"
EDGE_AGENT = str(Path(sys.executable).parent / "edge-agent")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process, stdout) of one run."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            sys.exit(f"{cmd[0]} failed: {err.read().strip()}")
        out.seek(0)
        return elapsed, usage.ru_utime + usage.ru_stime, out.read()


def docs(text: str) -> list[object]:
    return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]


Figures = tuple[float, float]  # median wall seconds, median CPU seconds


def bench(n: int, runs: int, kubectl: str) -> tuple[Figures, Figures]:
    with tempfile.TemporaryDirectory(prefix=f"render-bench-{n}-") as tmp:
        subprocess.run([sys.executable, str(GENERATOR), str(n), tmp], check=True)
        target = str(Path(tmp) / "overlays" / "edge")
        ours_cmd = [EDGE_AGENT, "render", target, "--repo", tmp]
        ref_cmd = [kubectl, "kustomize", target]
        ours_out = timed(ours_cmd)[2]
        ref_out = timed(ref_cmd)[2]
        if docs(ours_out) != docs(ref_out):
            sys.exit(f"N={n}: edge-agent render output differs from kubectl kustomize")
        ours: list[tuple[float, float]] = []
        ref: list[tuple[float, float]] = []
        for i in range(runs):
            pair = [(ours, ours_cmd), (ref, ref_cmd)]
            for times, cmd in pair if i % 2 == 0 else reversed(pair):
                wall, cpu, _ = timed(cmd)
                times.append((wall, cpu))

        def medians(xs: list[tuple[float, float]]) -> Figures:
            return (statistics.median(x[0] for x in xs), statistics.median(x[1] for x in xs))

        return medians(ours), medians(ref)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.reference_kubectl import reference_kubectl

    compile_project()
    kubectl = reference_kubectl()
    if kubectl is None:
        sys.exit("no kubectl with Kustomize v5.5.0 on PATH (it is the reference tool)")
    help_times = [timed([EDGE_AGENT, "--help"])[0] for _ in range(args.runs)]
    print(f"edge-agent --help: median {statistics.median(help_times):.3f} s (floor < 0.3 s)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; wall time is "
          "what a node waits, CPU time is steadier on a busy machine")
    print(f"{'N':>6} {'edge-agent':>11} {'kubectl':>10} {'speed-up':>9} | {'CPU ours':>9} "
          f"{'kubectl':>9} {'speed-up':>9}  outputs")
    for n in args.sizes:
        (ours, ours_cpu), (ref, ref_cpu) = bench(n, args.runs, kubectl)
        print(f"{n:>6} {ours:>10.3f}s {ref:>9.3f}s {ref / ours:>8.1f}x | {ours_cpu:>8.3f}s "
              f"{ref_cpu:>8.3f}s {ref_cpu / ours_cpu:>8.1f}x  equal")


if __name__ == "__main__":
    main()
