"""`fleet`: the central service's command line.

Heavy imports (Starlette, uvicorn, psycopg, rich) stay inside the commands so
that `fleet --help` starts quickly.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

import typer

from agent.errors import EdgesyncError

app = typer.Typer(name="fleet", help="edgesync fleet service.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)
nodes_app = typer.Typer(help="Enrol and list nodes.", no_args_is_help=True)
operators_app = typer.Typer(help="Operator accounts for the queries and the page.",
                            no_args_is_help=True)
rollout_app = typer.Typer(help="Staged rollouts of a revision across the fleet.",
                          no_args_is_help=True)
app.add_typer(nodes_app, name="nodes")
app.add_typer(operators_app, name="operators")
app.add_typer(rollout_app, name="rollout")

DB_HELP = "postgresql://… or a SQLite file (default: $FLEET_DB or ./fleet.db)"
DB_OPTION = typer.Option(None, "--db", help=DB_HELP)
OUTPUT_OPTION = typer.Option("text", "--output", "-o", help="text or json")
OFFLINE_OPTION = typer.Option(3600.0, "--offline-after",
                              help="seconds without a report before a node counts as offline")


@app.callback()
def _root() -> None:
    """Report ingest, fleet status and staged rollouts."""


def main() -> None:
    app()


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _fail(exc: EdgesyncError | str, output: str = "text") -> NoReturn:
    if output == "json":
        _emit({"error": str(exc), "type": type(exc).__name__ if not isinstance(exc, str)
               else "Error"})
    else:
        typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1)


def _check_output(output: str) -> None:
    if output not in ("text", "json"):
        _fail(f"--output must be text or json, got {output!r}")


def _store(db: str | None) -> Any:
    from fleet.store import open_store

    return open_store(db or os.environ.get("FLEET_DB") or None)


# -- serve ----------------------------------------------------------------------------
@app.command()
def serve(*, db: str | None = DB_OPTION,
          listen: str = typer.Option("127.0.0.1:8080", "--listen", help="HOST:PORT"),
          offline_after: float = OFFLINE_OPTION,
          max_body: int = typer.Option(1024 * 1024, "--max-body", help="bytes per request"),
          rate: float = typer.Option(5.0, "--rate", help="requests/s per node (0: no limit)"),
          burst: float = typer.Option(20.0, "--burst", help="requests a node may burst"),
          access_log: bool = typer.Option(False, "--access-log/--no-access-log"),
          tls_cert: str | None = typer.Option(None, "--tls-cert", help="PEM certificate"),
          tls_key: str | None = typer.Option(None, "--tls-key", help="PEM private key"),
          ) -> None:
    """Run the fleet service (ingest, queries, dashboard, /metrics)."""
    import uvicorn

    from fleet.api.app import Settings, create_app

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        _fail(f"--listen must be HOST:PORT, got {listen!r}")
    try:
        store = _store(db)
    except EdgesyncError as exc:
        _fail(exc)
    settings = Settings(max_body_bytes=max_body, rate_per_node=rate, burst_per_node=burst,
                        offline_after=offline_after)
    if (tls_cert is None) != (tls_key is None):
        _fail("--tls-cert and --tls-key go together")
    scheme = "https" if tls_cert else "http"
    typer.echo(f"fleet service on {scheme}://{listen} (store: {_describe(db)})", err=True)
    try:
        uvicorn.run(create_app(store, settings), host=host.strip("[]"), port=int(port),
                    log_level="warning", access_log=access_log, server_header=False,
                    ssl_certfile=tls_cert, ssl_keyfile=tls_key)
    finally:
        store.close()


def _describe(db: str | None) -> str:
    from fleet.store.postgres import _redact

    value = db or os.environ.get("FLEET_DB") or "fleet.db"
    return _redact(value) if value.startswith("postgres") else f"SQLite {value}"


# -- nodes and operators --------------------------------------------------------------
@nodes_app.command("add")
def nodes_add(name: str, tier: str = typer.Option(..., "--tier"),
              region: str = typer.Option("", "--region"), db: str | None = DB_OPTION,
              output: str = OUTPUT_OPTION) -> None:
    """Enrol a node and print its token (shown once, stored hashed)."""
    from fleet.api.auth import new_token, token_hash

    _check_output(output)
    if not name.strip() or not tier.strip():
        _fail("node name and --tier must not be empty", output)
    token = new_token()
    try:
        store = _store(db)
        try:
            store.add_node(name, tier, region, token_hash(token))
        finally:
            store.close()
    except EdgesyncError as exc:
        _fail(exc, output)
    if output == "json":
        _emit({"name": name, "tier": tier, "region": region, "token": token})
    else:
        typer.echo(f"enrolled node {name} (tier {tier}{', region ' + region if region else ''})")
        typer.echo(f"token: {token}")
        typer.echo("store it in the node's fleet.token_file; it is not shown again", err=True)


@nodes_app.command("list")
def nodes_list(*, tier: str | None = typer.Option(None, "--tier"),
               region: str | None = typer.Option(None, "--region"),
               state: str | None = typer.Option(None, "--state"),
               limit: int = typer.Option(1000, "--limit"), db: str | None = DB_OPTION,
               offline_after: float = OFFLINE_OPTION, output: str = OUTPUT_OPTION) -> None:
    """List nodes, worst state first."""
    from fleet.overview import node_dict
    from fleet.store import STATES

    _check_output(output)
    if state is not None and state not in STATES:
        _fail(f"--state must be one of {', '.join(STATES)}", output)
    try:
        store = _store(db)
        try:
            nodes = [node_dict(n) for n in store.list_nodes(
                tier=tier, region=region, state=state, limit=limit,
                offline_after=offline_after)]
        finally:
            store.close()
    except EdgesyncError as exc:
        _fail(exc, output)
    if output == "json":
        _emit({"nodes": nodes})
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("node", "tier", "region", "state", "revision", "result", "last report",
                  "reports")
    for n in nodes:
        table.add_row(n["name"], n["tier"], n["region"], n["state"], (n["revision"] or "")[:12],
                      n["result"] or "", n["last_report"] or "never",
                      str(n["reports_received"]))
    Console().print(table)


@operators_app.command("add")
def operators_add(name: str, db: str | None = DB_OPTION, output: str = OUTPUT_OPTION) -> None:
    """Create an operator and print its token (shown once, stored hashed)."""
    from fleet.api.auth import new_token, token_hash

    _check_output(output)
    if not name.strip():
        _fail("operator name must not be empty", output)
    token = new_token()
    try:
        store = _store(db)
        try:
            store.add_operator(name, token_hash(token))
        finally:
            store.close()
    except EdgesyncError as exc:
        _fail(exc, output)
    if output == "json":
        _emit({"name": name, "token": token})
    else:
        typer.echo(f"operator {name}\ntoken: {token}")


# -- status and metrics ---------------------------------------------------------------
def _remote(server: str, token_file: str, path: str, output: str) -> Any:
    import httpx

    from agent.report import read_token

    try:
        token = read_token(token_file)
        response = httpx.get(server.rstrip("/") + path, timeout=30,
                             headers={"Authorization": f"Bearer {token}"})
    except EdgesyncError as exc:
        _fail(exc, output)
    except httpx.HTTPError as exc:
        _fail(f"{server}: {exc}", output)
    if response.status_code != 200:
        _fail(f"{server}{path}: HTTP {response.status_code} {response.text[:200]}", output)
    return response.json()


@app.command()
def status(*, db: str | None = DB_OPTION,
           server: str | None = typer.Option(None, "--server", help="fleet service URL"),
           token_file: str | None = typer.Option(None, "--token-file",
                                                 help="operator token file (with --server)"),
           offline_after: float = OFFLINE_OPTION, output: str = OUTPUT_OPTION) -> None:
    """Fleet status: counts per tier and region, and every node."""
    _check_output(output)
    if server is not None:
        if db is not None or token_file is None:
            _fail("use either --db, or --server with --token-file", output)
        data = _remote(server, str(token_file), "/v1/status", output)
    else:
        from fleet import overview

        try:
            store = _store(db)
            try:
                data = overview.status(store, offline_after)
            finally:
                store.close()
        except EdgesyncError as exc:
            _fail(exc, output)
    if output == "json":
        _emit(data)
        return
    _print_status(data)


def _print_status(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    minutes = data.get("offline_after_seconds", 3600) / 60
    latest = (data["latest_revision"] or "none")[:12]
    table = Table("tier", "region", "nodes", "on latest", "healthy", "deferred", "failed",
                  f"offline > {minutes:g} min", title=f"fleet (latest revision {latest})")
    for r in data["regions"]:
        table.add_row(r["tier"], r["region"] or "-", str(r["nodes"]), str(r["on_latest"]),
                      str(r["healthy"]), str(r["deferred"]), str(r["failed"] + r["unhealthy"]),
                      str(r["offline"] + r["never"]))
    t = data["totals"]
    table.add_row("all", "", str(t["nodes"]), str(t["on_latest"]), str(t["healthy"]),
                  str(t["deferred"]), str(t["failed"] + t["unhealthy"]),
                  str(t["offline"] + t["never"]), style="bold")
    Console().print(table)


@app.command()
def metrics(*, db: str | None = DB_OPTION,
            server: str | None = typer.Option(None, "--server"),
            token_file: str | None = typer.Option(None, "--token-file"),
            days: float = typer.Option(7.0, "--days", help="window in days"),
            revision: str | None = typer.Option(None, "--revision",
                                                help="convergence of this revision "
                                                     "(default: the latest)"),
            output: str = OUTPUT_OPTION) -> None:
    """Delivery metrics: lead time, deployment frequency, change failure, time to restore."""
    _check_output(output)
    if server is not None:
        if token_file is None:
            _fail("--server needs --token-file", output)
        from urllib.parse import urlencode

        query = urlencode({"days": days, **({"revision": revision} if revision else {})})
        data = _remote(server, token_file, f"/v1/metrics?{query}", output)
    else:
        import time

        from fleet import overview
        from fleet.metrics import metrics_report

        try:
            store = _store(db)
            try:
                summary = store.summary()
                tiers = {t: r["nodes"] for t, r in overview.counts(summary)["tiers"].items()}
                revision = revision or summary.latest_revision
                inputs = store.delivery_inputs(time.time() - days * 86400, revision)
                data = metrics_report(inputs, days, tiers, revision)
            finally:
                store.close()
        except EdgesyncError as exc:
            _fail(exc, output)
    if output == "json":
        _emit(data)
        return
    from rich.console import Console
    from rich.table import Table

    from fleet.api.page import NONE, _duration

    table = Table("scope", "lead time p50", "p90", "deploys/day", "change failure",
                  "time to restore", title=f"delivery over {days:g} days")
    for m in data["delivery"]:
        cfr = m["change_failure_rate"]
        table.add_row(m["scope"], _duration(m["lead_time_median_s"]),
                      _duration(m["lead_time_p90_s"]), f"{m['deployments_per_day']:.2f}",
                      NONE if cfr is None else f"{100 * cfr:.0f} %",
                      _duration(m["time_to_restore_median_s"]))
    Console().print(table)
    for curve in data["convergence"]:
        if curve["points"]:
            last = curve["points"][-1]
            typer.echo(f"convergence {curve['scope']}: {last['percent']:.0f} % of "
                       f"{curve['nodes']} nodes on {curve['revision'][:12]} after "
                       f"{_duration(last['seconds'])}")


# -- rollouts -------------------------------------------------------------------------
def _rollout(output: str, db: str | None, action: Any) -> None:
    _check_output(output)
    try:
        store = _store(db)
        try:
            data = action(store)
        finally:
            store.close()
    except EdgesyncError as exc:
        _fail(exc, output)
    if output == "json":
        _emit(data)
        return
    typer.echo(f"rollout {data['id']} of {data['revision'][:12]}: {data['state']}, "
               f"wave {data['current_wave']}, gate {data['gate']:.0%} "
               "(agents of later waves hold the revision until released)")
    for w in data["waves"]:
        mark = "released" if w["released"] else "held"
        gate = "gate passed" if w["gate_passed"] else "gate not passed"
        typer.echo(f"  wave {w['index']}: {w['tier']} {w['percent']:g} % - {w['nodes']} nodes,"
                   f" {w['on_target']} on target, {w['healthy_on_target']} healthy; "
                   f"{mark}, {gate}")


WAVE_OPTION = typer.Option(..., "--wave", help="TIER:PERCENT, in order")


@rollout_app.command("start")
def rollout_start(revision: str,
                  wave: list[str] = WAVE_OPTION,
                  gate: float = typer.Option(0.95, "--gate", help="healthy share to promote"),
                  db: str | None = DB_OPTION, output: str = OUTPUT_OPTION) -> None:
    """Start a staged rollout of REVISION in waves."""
    from fleet import rollout

    def action(store: Any) -> Any:
        record = rollout.start(store, revision, [rollout.Wave.parse(w) for w in wave], gate)
        return rollout.status(store, record.id)

    _rollout(output, db, action)


@rollout_app.command("status")
def rollout_status(rollout_id: int | None = typer.Argument(None), db: str | None = DB_OPTION,
                   output: str = OUTPUT_OPTION) -> None:
    """Show a rollout (the latest by default) and its waves' gates."""
    from fleet import rollout

    _rollout(output, db, lambda store: rollout.status(store, rollout_id))


@rollout_app.command("promote")
def rollout_promote(rollout_id: int | None = typer.Argument(None),
                    force: bool = typer.Option(False, "--force"), db: str | None = DB_OPTION,
                    output: str = OUTPUT_OPTION) -> None:
    """Release the next wave if the current one's gate passes."""
    from fleet import rollout

    _rollout(output, db, lambda store: rollout.promote(store, rollout_id, force))


@rollout_app.command("abort")
def rollout_abort(rollout_id: int | None = typer.Argument(None), db: str | None = DB_OPTION,
                  output: str = OUTPUT_OPTION) -> None:
    """Stop a rollout where it is."""
    from fleet import rollout

    _rollout(output, db, lambda store: rollout.abort(store, rollout_id))


