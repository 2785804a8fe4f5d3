"""`edge-agent run`, `trigger`, `lock`, `unlock`: the daemon and how scripts talk to it."""

from __future__ import annotations

import typer

from agent.cli import app
from agent.commands._output import OUTPUT_OPTION, Output, emit_json, fail
from agent.errors import EdgesyncError

CONFIG_OPTION = typer.Option(None, "--config", "-c", help="agent config file "
                             "(default /etc/edgesync/agent.yaml or $EDGESYNC_CONFIG)")


@app.command()
def run(config: str | None = CONFIG_OPTION) -> None:
    """Run the agent: poll at the tier's pace, sync, serve triggers, status and metrics."""
    from agent.daemon import Daemon

    try:
        code = Daemon(config).run()
    except EdgesyncError as exc:
        fail(exc)
    raise typer.Exit(code)


@app.command()
def trigger(
    config: str | None = CONFIG_OPTION,
    wait: bool = typer.Option(False, "--wait", help="wait for the sync and print its result"),
    timeout: float = typer.Option(3600.0, "--timeout", help="seconds to wait with --wait"),
    output: Output = OUTPUT_OPTION,
) -> None:
    """Ask the running daemon to sync now (exit 1 if --wait and the sync did not converge)."""
    from agent.config import load_config
    from agent.daemon_control import request

    try:
        cfg = load_config(config)
        reply = request(cfg.daemon.socket, {"op": "trigger", "wait": wait, "timeout": timeout},
                        timeout=timeout + 30 if wait else 30)
    except EdgesyncError as exc:
        fail(exc, output=output)
    result = reply.get("result") or {}
    if output is Output.json:
        emit_json(reply)
    elif not reply.get("ok"):
        typer.echo(f"error: {reply.get('error')}", err=True)
    elif not wait:
        typer.echo(f"trigger {reply.get('id')} accepted")
    else:
        if result.get("result") == "deferred":
            line = (f"deferred: revision {result.get('desired_revision')} waits; the node "
                    f"still runs {result.get('revision') or 'nothing yet'}")
        else:
            line = f"{result.get('result')}: revision {result.get('revision')}"
        counts = ", ".join(f"{k} {v}" for k, v in (result.get("changes") or {}).items())
        typer.echo(line + (f" ({counts})" if counts else ""))
        for key in ("reason", "error"):
            if result.get(key):
                typer.echo(f"{key}: {result[key]}", err=key == "error")
    converged = result.get("result") in ("applied", "unchanged") and not result.get("error")
    if not reply.get("ok") or (wait and not converged):
        raise typer.Exit(1)


@app.command()
def lock(
    config: str | None = CONFIG_OPTION,
    reason: str | None = typer.Option(None, "--reason", help="shown in status and reports"),
    output: Output = OUTPUT_OPTION,
) -> None:
    """Hold the update lock: the agent fetches and renders but defers applying until unlock.

    Returns once no apply is running, so what runs now stays until `edge-agent unlock`.
    """
    from agent.config import load_config
    from agent.schedule.lock import hold

    try:
        cfg = load_config(config)
        text = hold(cfg.daemon.lock_file, reason)
    except EdgesyncError as exc:
        fail(exc, output=output)
    if output is Output.json:
        emit_json({"locked": True, "lock_file": cfg.daemon.lock_file, "holder": text})
    else:
        typer.echo(f"update lock held {text}")


@app.command()
def unlock(config: str | None = CONFIG_OPTION, output: Output = OUTPUT_OPTION) -> None:
    """Release the update lock taken by `edge-agent lock`; deferred updates apply next.

    A running daemon re-checks a deferred update every few seconds.
    """
    from agent.config import load_config
    from agent.schedule.lock import free

    try:
        cfg = load_config(config)
        was_held = free(cfg.daemon.lock_file)
    except EdgesyncError as exc:
        fail(exc, output=output)
    if output is Output.json:
        emit_json({"locked": False, "was_held": was_held, "lock_file": cfg.daemon.lock_file})
    else:
        typer.echo("update lock released" if was_held else "update lock was not held")
