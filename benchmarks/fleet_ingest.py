"""Ingest throughput of one `fleet serve` for a simulated fleet, and `/v1/summary` latency.

A fleet of N enrolled nodes (100,000 on PostgreSQL, 2,000 on SQLite by default)
sends batched result reports to one service process over HTTP on 127.0.0.1.
Each request is one node's batch, with that node's own token, the way an agent
flushes its spool. The load is bounded in both reports and seconds.

    source .testenv/env.sh   # the local environment's PostgreSQL (EDGESYNC_PG_DSN)
    .venv/bin/python benchmarks/fleet_ingest.py
    .venv/bin/python benchmarks/fleet_ingest.py --pg-dsn postgresql://user@127.0.0.1:PORT/db
    .venv/bin/python benchmarks/fleet_ingest.py --store sqlite

Prints reports/s, request latency (p50/p99), summary latency (p50/p99) and the
ratio of each figure to its floor (>= 3,000 reports/s, summary < 200 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet.store import open_store  # noqa: E402

FLOOR_RATE = 3000.0
FLOOR_SUMMARY_MS = 200.0
TIERS = [("cloud", 0.05), ("edge-site-a", 0.35), ("vehicle", 0.60)]
REGIONS = ["eu-west", "eu-central", "us-east", "ap-south"]
REVISIONS = [hashlib.sha1(str(i).encode()).hexdigest() for i in range(4)]
RESULTS = ["applied"] * 90 + ["unchanged"] * 6 + ["deferred"] * 2 + ["failed", "rolled_back"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fleet_plan(count: int) -> list[tuple[str, str, str, str]]:
    nodes = []
    for i in range(count):
        share = (i % 100) / 100
        tier = next(t for t, cut in _cumulative() if share < cut)
        nodes.append((f"node-{i:06d}", tier, REGIONS[i % len(REGIONS)], f"tok-{i:06d}-bench"))
    return nodes


def _cumulative() -> list[tuple[str, float]]:
    total, out = 0.0, []
    for tier, share in TIERS:
        total += share
        out.append((tier, total))
    out[-1] = (out[-1][0], 1.01)
    return out


def enrol(db: str, nodes: list[tuple[str, str, str, str]]) -> None:
    store = open_store(db)
    try:
        store.add_nodes([(n, t, r, hashlib.sha256(tok.encode()).hexdigest())
                         for n, t, r, tok in nodes])
    finally:
        store.close()


def bodies(nodes: list[tuple[str, str, str, str]], requests: int, batch: int
           ) -> list[tuple[str, bytes]]:
    """Pre-built request bodies (token, JSON), so the generator spends its CPU on sending."""
    out = []
    for i in range(requests):
        name, tier, region, token = nodes[i % len(nodes)]
        reports = []
        for j in range(batch):
            rev = REVISIONS[(i + j) % len(REVISIONS)]
            result = RESULTS[(i * 7 + j) % len(RESULTS)]
            reports.append(json.dumps({
                "idempotency_key": str(uuid.uuid4()), "kind": "result",
                "created_at": f"2026-11-26T10:{j // 60 % 60:02d}:{j % 60:02d}."
                              f"{i % 1000000:06d}Z",
                "node": name, "tier": tier, "region": region, "platform": "linux/arm64",
                "agent_version": "0.1.0", "desired_revision": rev, "applied_revision": rev,
                "commit_time": "2026-11-26T09:00:00Z", "apply_time": "2026-11-26T10:00:00Z",
                "result": result, "health": "Healthy",
                "durations": {"fetch": 0.4, "apply": 1.2}, "bytes_fetched": 20480},
                separators=(",", ":")))
        out.append((token, ('{"reports":[' + ",".join(reports) + "]}").encode()))
    return out


async def load(url: str, work: list[tuple[str, bytes]], concurrency: int, seconds: float
               ) -> tuple[int, int, list[float], float]:
    latencies: list[float] = []
    sent = errors = 0
    position = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal sent, errors, position
            while position < len(work) and time.monotonic() < deadline:
                token, body = work[position]
                position += 1
                started = time.perf_counter()
                response = await client.post("/v1/reports", content=body, headers={
                    "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                latencies.append(time.perf_counter() - started)
                if response.status_code == 200:
                    sent += int(response.json()["accepted"])
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return sent, errors, latencies, elapsed


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/comm"):
        try:
            if stat.read_text().strip() == "postgres":
                total += cpu_seconds(int(stat.parent.name))
        except OSError:
            continue
    return total


def summary_latency(url: str, operator: str, rounds: int) -> list[float]:
    timings = []
    with httpx.Client(base_url=url, timeout=30,
                      headers={"Authorization": f"Bearer {operator}"}) as client:
        client.get("/v1/summary").raise_for_status()
        for _ in range(rounds):
            started = time.perf_counter()
            client.get("/v1/summary").raise_for_status()
            timings.append(time.perf_counter() - started)
    return timings


def page_latency(url: str, operator: str) -> tuple[float, float]:
    """Seconds for the first dashboard render (metrics computed) and a later one (cached)."""
    with httpx.Client(base_url=url, timeout=120,
                      headers={"Authorization": f"Bearer {operator}"}) as client:
        started = time.perf_counter()
        client.get("/").raise_for_status()
        first = time.perf_counter() - started
        started = time.perf_counter()
        client.get("/").raise_for_status()
        return first, time.perf_counter() - started


def serve(db: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "fleet", "serve", "--db", db, "--listen",
                             f"127.0.0.1:{port}", "--rate", "0"], cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("fleet serve did not start")


def run(label: str, db: str, workdir: Path, args: argparse.Namespace, nodes_count: int) -> None:
    print(f"\n== {label}: {nodes_count:,} nodes, batches of {args.batch} ==")
    nodes = fleet_plan(nodes_count)
    t0 = time.perf_counter()
    enrol(db, nodes)
    print(f"enrolled {nodes_count:,} nodes in {time.perf_counter() - t0:.1f} s")
    from fleet.api.auth import new_token, token_hash

    operator = new_token()
    store = open_store(db)
    store.add_operator("bench", token_hash(operator))
    store.close()
    requests = min(args.max_reports // args.batch, max(nodes_count, 1) * 4)
    work = bodies(nodes, requests, args.batch)
    proc, url = serve(db, workdir)
    try:
        server_cpu, pg_cpu, own_cpu = cpu_seconds(proc.pid), postgres_cpu(), time.process_time()
        load_avg = os.getloadavg()[0]
        sent, errors, latencies, elapsed = asyncio.run(
            load(url, work, args.concurrency, args.seconds))
        server_cpu = cpu_seconds(proc.pid) - server_cpu
        pg_cpu = postgres_cpu() - pg_cpu
        own_cpu = time.process_time() - own_cpu
        timings = summary_latency(url, operator, args.summary_rounds)
        # Right after the load the database is still busy (autovacuum of the fresh rows);
        # measure again once that has settled, and print both.
        time.sleep(args.settle)
        settled = summary_latency(url, operator, args.summary_rounds)
        page = page_latency(url, operator)
    finally:
        proc.terminate()
        proc.wait(30)
    store = open_store(db)
    try:
        with store._tx() as conn:
            stored = conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0]
    finally:
        store.close()
    rate = sent / elapsed
    s50, s99 = 1000 * statistics.median(timings), 1000 * pct(timings, 0.99)
    q50, q99 = 1000 * statistics.median(settled), 1000 * pct(settled, 0.99)
    print(f"reports stored: {sent:,} in {elapsed:.1f} s ({len(latencies):,} requests, "
          f"{errors} errors; rows in store {stored:,})")
    print(f"sustained ingest: {rate:,.0f} reports/s  (floor {FLOOR_RATE:,.0f}: "
          f"ratio {rate / FLOOR_RATE:.2f})")
    print(f"request latency: p50 {1000 * statistics.median(latencies):.1f} ms, "
          f"p99 {1000 * pct(latencies, 0.99):.1f} ms  (per batch of {args.batch})")
    print(f"CPU during the load: fleet serve {server_cpu:.1f} s "
          f"({sent / max(server_cpu, 1e-9):,.0f} reports per CPU-second), postgres processes "
          f"{pg_cpu:.1f} s, load generator {own_cpu:.1f} s; load average at start "
          f"{load_avg:.1f} on {os.cpu_count()} cores")
    print(f"/v1/summary over {nodes_count:,} nodes right after the load: p50 {s50:.1f} ms, "
          f"p99 {s99:.1f} ms  (floor {FLOOR_SUMMARY_MS:.0f} ms: ratio "
          f"{FLOOR_SUMMARY_MS / s99:.2f})")
    print(f"/v1/summary over {nodes_count:,} nodes {args.settle:g} s later: p50 {q50:.1f} ms, "
          f"p99 {q99:.1f} ms  (floor {FLOOR_SUMMARY_MS:.0f} ms: ratio "
          f"{FLOOR_SUMMARY_MS / q99:.2f}); load average now {os.getloadavg()[0]:.1f}")
    print(f"dashboard page: first render {1000 * page[0]:.0f} ms (delivery metrics over "
          f"{stored:,} reports), next {1000 * page[1]:.0f} ms (metrics cached)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--pg-dsn", default=os.environ.get("FLEET_BENCH_PG_DSN")
                        or os.environ.get("EDGESYNC_PG_DSN"),
                        help="PostgreSQL server (a scratch database is created and dropped)")
    parser.add_argument("--nodes", type=int, default=100_000, help="PostgreSQL fleet size")
    parser.add_argument("--sqlite-nodes", type=int, default=2_000)
    parser.add_argument("--batch", type=int, default=50, help="reports per request")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--seconds", type=float, default=30.0, help="load duration cap")
    parser.add_argument("--max-reports", type=int, default=200_000, help="load size cap")
    parser.add_argument("--summary-rounds", type=int, default=30)
    parser.add_argument("--settle", type=float, default=15.0,
                        help="seconds to wait before measuring /v1/summary again")
    args = parser.parse_args()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fleet-bench-")))
        if args.store in ("postgres", "both"):
            if not args.pg_dsn:
                raise SystemExit("PostgreSQL needs --pg-dsn, or `source .testenv/env.sh` "
                                 "(EDGESYNC_PG_DSN)")
            dsn = stack.enter_context(_scratch_database(args.pg_dsn))
            run("PostgreSQL", dsn, workdir, args, args.nodes)
        if args.store in ("sqlite", "both"):
            run("SQLite", str(workdir / "fleet.db"), workdir, args, args.sqlite_nodes)


class _scratch_database:  # noqa: N801 - used as a context manager
    def __init__(self, base: str) -> None:
        self.base = base
        self.name = f"fleet_bench_{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> str:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        return urlunsplit(urlsplit(self.base)._replace(path=f"/{self.name}"))

    def __exit__(self, *exc: object) -> None:
        import psycopg

        with psycopg.connect(self.base, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
