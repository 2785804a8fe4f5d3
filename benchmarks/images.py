"""Resolve a bundle of 100 distinct images: one `edge-agent` process vs 100 `skopeo` processes.

Needs the local registry (`.venv/bin/python -m tests.testenv up registry`, or any test
session that used it): the script reads its address and credentials from
`.testenv/env.sh`. It pushes 100 distinct multi-arch images first, cheaply (10
repositories x 10 tags; blobs are mounted, only small index manifests are new), then:

  reference  100 sequential `skopeo inspect --raw` processes (one per image)
  edgesync   one process pinning all 100 images concurrently for linux/arm64 (one
             connection pool and one auth per registry), empty caches, measured twice:
             `edge-agent images resolve-bundle` (the Typer CLI) and
             `python -m agent.images resolve-bundle` (same code, no CLI framework)
  cached     the same command again for the same revision: served from the per-revision
             cache, so the registry must log zero requests
  new rev    a new revision with the same images: the stored manifests leave one HEAD
             per image and no download

The agent's modules are byte-compiled first, as every install has them (see
benchmarks/_bytecode.py). Wall time depends on how busy the machine is; the CPU
seconds (user+sys of the measured processes) are printed too, as the steadier
figure on a shared machine.

Run: .venv/bin/python benchmarks/images.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _bytecode import compile_project

REPO = Path(__file__).resolve().parents[1]
ENV_FILE = REPO / ".testenv" / "env.sh"
LOG_FILE = REPO / ".testenv" / "logs" / "registry.log"
EDGE_AGENT = Path(sys.executable).parent / "edge-agent"
SOURCE_REPO = "edgesync/busybox"
REPOS, TAGS = 10, 10
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
_ACCESS_RE = re.compile(r'^\S+ - \S+ \[[^\]]+\] "(GET|HEAD|POST|PUT) /v2/')


def load_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.startswith("EDGESYNC_REGISTRY")}
    if "EDGESYNC_REGISTRY" not in env and ENV_FILE.exists():
        for line in ENV_FILE.read_text().splitlines():
            match = re.match(r"export (EDGESYNC_REGISTRY\w*)=(.*)", line)
            if match:
                env[match.group(1)] = match.group(2).strip("'\"")
    if "EDGESYNC_REGISTRY" not in env:
        sys.exit("no local registry: run `.venv/bin/python -m tests.testenv up registry` first")
    return env


def registry_requests() -> int:
    if not LOG_FILE.exists():
        return 0
    with LOG_FILE.open(encoding="utf-8", errors="replace") as f:
        return sum(1 for line in f if _ACCESS_RE.match(line))


def push_images(host: str, user: str, password: str) -> list[str]:
    """100 distinct image indexes (distinct digests) over 10 repositories; returns refs."""
    base = f"http://{host}/v2"
    refs: list[str] = []
    with httpx.Client(auth=(user, password), timeout=60) as client:
        head = client.get(f"{base}/{SOURCE_REPO}/manifests/multi",
                          headers={"Accept": OCI_INDEX})
        head.raise_for_status()
        index = head.json()
        children = []
        for entry in index["manifests"]:
            child = client.get(f"{base}/{SOURCE_REPO}/manifests/{entry['digest']}",
                               headers={"Accept": entry["mediaType"]})
            child.raise_for_status()
            children.append((entry, child.content, child.json()))
        for r in range(REPOS):
            repo = f"edgesync/bench-{r}"
            for entry, body, manifest in children:
                for blob in [manifest["config"], *manifest["layers"]]:
                    mounted = client.post(f"{base}/{repo}/blobs/uploads/",
                                          params={"mount": blob["digest"], "from": SOURCE_REPO})
                    if mounted.status_code != 201:
                        raise RuntimeError(f"blob mount failed: {mounted.status_code}")
                client.put(f"{base}/{repo}/manifests/{entry['digest']}", content=body,
                           headers={"Content-Type": entry["mediaType"]}).raise_for_status()
            for t in range(TAGS):
                tagged = dict(index, annotations={"org.edgesync.bench": f"{r}-{t}"})
                body = json.dumps(tagged, separators=(",", ":")).encode()
                client.put(f"{base}/{repo}/manifests/t{t}", content=body,
                           headers={"Content-Type": OCI_INDEX}).raise_for_status()
                refs.append(f"{host}/{repo}:t{t}")
    return refs


def write_bundle(refs: list[str], path: Path) -> None:
    docs = [json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": f"app-{i}", "namespace": "bench"},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": ref}]}}},
    }) for i, ref in enumerate(refs)]
    path.write_text("\n---\n".join(docs) + "\n")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_skopeo(refs: list[str], user: str, password: str) -> tuple[float, float]:
    cpu = _children_cpu()
    start = time.perf_counter()
    for ref in refs:
        subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                        "--creds", f"{user}:{password}", f"docker://{ref}"],
                       check=True, capture_output=True)
    return time.perf_counter() - start, _children_cpu() - cpu


ENTRIES = {
    "edge-agent": [str(EDGE_AGENT), "images", "resolve-bundle"],
    "python -m agent.images": [sys.executable, "-m", "agent.images", "resolve-bundle"],
}


def time_resolve(entry: str, bundle: Path, config: Path, cache: Path, revision: str
                 ) -> tuple[float, float, dict[str, object]]:
    argv = [*ENTRIES[entry], str(bundle), "--config", str(config), "--platform", "linux/arm64",
            "--cache-dir", str(cache), "--revision", revision, "-o", "json"]
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{entry} failed: {done.stdout}{done.stderr}")
    result = json.loads(done.stdout)
    pins = result["pins"]
    assert isinstance(pins, list) and len(pins) == 100
    assert all(p["platform"] == "linux/arm64" for p in pins)
    return elapsed, _children_cpu() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="repetitions; medians printed")
    args = parser.parse_args()
    env = load_env()
    host, user = env["EDGESYNC_REGISTRY"], env["EDGESYNC_REGISTRY_USER"]
    password = env["EDGESYNC_REGISTRY_PASSWORD"]
    if not (Path("/usr/bin/skopeo").exists() or subprocess.run(
            ["which", "skopeo"], capture_output=True, check=False).returncode == 0):
        sys.exit("skopeo is not installed (apt-get install skopeo)")

    compile_project()
    refs = push_images(host, user, password)
    assert len(set(refs)) == 100
    with tempfile.TemporaryDirectory(prefix="edgesync-bench-") as tmp:
        work = Path(tmp)
        bundle = work / "bundle.yaml"
        write_bundle(refs, bundle)
        (work / "password").write_text(password)
        config = work / "agent.yaml"
        config.write_text(json.dumps({
            "node": "bench", "tier": "bench", "source": {"path": str(work)},
            "images": {"insecure_http": True, "registry_override": host, "username": user,
                       "password_file": str(work / "password")}}))

        runs: dict[str, list[tuple[float, float]]] = {}
        requests: dict[str, int] = {}

        def record(name: str, wall: float, cpu: float) -> None:
            runs.setdefault(name, []).append((wall, cpu))

        for round_no in range(args.rounds):
            record("skopeo", *time_skopeo(refs, user, password))
            for entry in ENTRIES:
                cache = work / f"cache-{round_no}-{entry.replace(' ', '_')}"
                shutil.rmtree(cache, ignore_errors=True)
                wall, cpu, result = time_resolve(entry, bundle, config, cache, "rev-a")
                record(entry, wall, cpu)
                requests[entry] = int(str(result["requests"]))
            cache = work / f"cache-{round_no}-python_-m_agent.images"
            logged = registry_requests()
            wall, cpu, again = time_resolve("python -m agent.images", bundle, config, cache,
                                            "rev-a")
            if again["requests"] != 0 or registry_requests() != logged:
                raise SystemExit("FAIL: the cached resolution made registry requests")
            record("cached", wall, cpu)
            wall, cpu, newrev = time_resolve("python -m agent.images", bundle, config, cache,
                                             "rev-b")
            record("new revision", wall, cpu)
            requests["new revision"] = int(str(newrev["requests"]))

    def med(name: str) -> tuple[float, float]:
        return (statistics.median(w for w, _ in runs[name]),
                statistics.median(c for _, c in runs[name]))

    print(f"images: 100 distinct multi-arch images in {REPOS} repositories, "
          f"median of {args.rounds} round(s); wall s / CPU s")
    skopeo_wall, skopeo_cpu = med("skopeo")
    print(f"  skopeo inspect --raw x100 (sequential processes) {skopeo_wall:7.3f} / "
          f"{skopeo_cpu:6.3f}")
    best = 0.0
    for entry in ENTRIES:
        wall, cpu = med(entry)
        best = max(best, skopeo_wall / wall)
        print(f"  {entry + ' resolve-bundle':<47}{wall:7.3f} / {cpu:6.3f}   "
              f"{requests[entry]} requests, ratio {skopeo_wall / wall:.1f}x wall, "
              f"{skopeo_cpu / cpu:.1f}x CPU")
    wall, cpu = med("cached")
    print(f"  {'same revision again (cache)':<47}{wall:7.3f} / {cpu:6.3f}   "
          "0 requests, registry log unchanged")
    wall, cpu = med("new revision")
    print(f"  {'new revision, same images (stored manifests)':<47}{wall:7.3f} / {cpu:6.3f}   "
          f"{requests['new revision']} requests")
    load = os.getloadavg()[0]
    print(f"  best ratio {best:.1f}x (floor 5x); load average during run {load:.1f} "
          f"on {os.cpu_count()} CPUs")
    if best < 5:
        print("  BELOW FLOOR")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
