"""`edge-agent sync --once`, `edge-agent diff`, `edge-agent status`."""

from __future__ import annotations

from typing import Any

import typer

from agent.cli import app
from agent.commands._output import OUTPUT_OPTION, Output, emit_json, fail
from agent.errors import EdgesyncError

CONFIG_OPTION = typer.Option(None, "--config", "-c", help="agent config file "
                             "(default /etc/edgesync/agent.yaml or $EDGESYNC_CONFIG)")


@app.command()
def sync(
    once: bool = typer.Option(False, "--once", help="run one sync cycle and exit"),
    offline: bool = typer.Option(False, "--offline",
                                 help="re-apply the last good bundle from disk; no source"),
    config: str | None = CONFIG_OPTION,
    output: Output = OUTPUT_OPTION,
) -> None:
    """Sync the node to its tier's bundle once (exit 0 when converged and healthy)."""
    from agent.config import load_config
    from agent.cycle import report_result, sync_once

    if not once:
        fail("sync runs one cycle: pass --once (the loop is `edge-agent run`)", code=2,
             output=output)
    try:
        cfg = load_config(config)
        result = sync_once(cfg, offline=offline)
    except EdgesyncError as exc:
        fail(exc, output=output)
    not_sent = report_result(cfg, result)
    if not_sent:
        typer.echo(f"note: report kept in the spool: {not_sent}", err=True)
    if output is Output.json:
        emit_json(result.to_json())
    else:
        _print_result(result.to_json())
    if not result.ok:
        raise typer.Exit(1)


def _print_result(data: dict[str, Any]) -> None:
    for e in data["entries"]:
        if e["action"] != "unchanged":
            note = " (drift corrected)" if e["drift"] else ""
            typer.echo(f"{e['subject']} {e['action']}{note}")
    counts = ", ".join(f"{k} {v}" for k, v in (data["changes"] or {}).items())
    typer.echo(f"{data['result']}: revision {data['revision']}"
               + (f" ({counts})" if counts else ""))
    if data.get("rolled_back_to"):
        typer.echo(f"rolled back to {data['rolled_back_to']}; "
                   f"failed revision {data['failed_revision']}")
    if data.get("interrupted"):
        typer.echo(f"note: {data['interrupted']}")
    if data.get("error"):
        typer.echo(f"error: {data['error']}", err=True)


@app.command()
def diff(config: str | None = CONFIG_OPTION) -> None:
    """Show what a sync would change: a server-side dry run, a unified diff per object."""
    from pathlib import Path

    from agent.config import load_config
    from agent.cycle import _render, images_stage
    from agent.kube import KubeClient, ResourceManager, load_connection
    from agent.kube.diff import diff_bundle
    from agent.source import resolve
    from agent.tiers import load_tiers

    try:
        cfg = load_config(config)
        rev = resolve(cfg, offline=False)
        tier = load_tiers(rev.path, cfg.source.tiers_file).get(cfg.tier)
        bundle, _ = images_stage(cfg, tier, _render(Path(rev.path), tier), rev.id)
        with KubeClient(load_connection(cfg.kube.kubeconfig, cfg.kube.context)) as client:
            mgr = ResourceManager(client, node=cfg.node, field_manager=cfg.kube.field_manager)
            entries = diff_bundle(mgr, mgr.prepare(bundle))
    except EdgesyncError as exc:
        fail(exc)
    changed = 0
    for e in entries:
        if e.diff:
            typer.echo(e.diff, nl=False)
        if e.action.value != "unchanged":
            changed += 1
            typer.echo(f"# {e}")
    typer.echo(f"# revision {rev.id}: {changed} of {len(entries)} objects would change")


@app.command()
def status(config: str | None = CONFIG_OPTION, output: Output = OUTPUT_OPTION) -> None:
    """What the node runs: applied and last good revision, last result and sync time."""
    from agent.config import load_config
    from agent.state import StateStore

    try:
        cfg = load_config(config)
        state = StateStore(cfg.state_dir).load()
    except EdgesyncError as exc:
        fail(exc, output=output)
    data = {"node": cfg.node, "tier": cfg.tier, "revision": state.applied_revision,
            "last_good_revision": state.last_good_revision, "result": state.result,
            "last_sync": state.last_sync, "failed_revision": state.failed_revision,
            "failed_reason": state.failed_reason, "error": state.error,
            "applying": state.applying}
    if output is Output.json:
        emit_json(data)
        return
    for k, v in data.items():
        if v is not None:
            typer.echo(f"{k}: {v}")
