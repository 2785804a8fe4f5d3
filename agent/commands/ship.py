"""`edge-agent install` and `edge-agent validate`: getting the agent onto a node, and a
fleet repo's policy checked in CI before it reaches one."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from agent.cli import app
from agent.commands._output import OUTPUT_OPTION, Output, emit_json, fail


class ReportFormat(StrEnum):
    text = "text"
    json = "json"
    junit = "junit"


@app.command()
def install(
    root: Annotated[Path, typer.Option("--root", help="install under this directory")] = Path("/"),
    now: Annotated[bool, typer.Option("--now", help="also enable and start the service")] = False,
    binary: Annotated[str | None, typer.Option(
        "--binary", help="edge-agent executable for ExecStart (default: this one)")] = None,
    output: Output = OUTPUT_OPTION,
) -> None:
    """Install the systemd unit, a config template and the agent's directories."""
    from agent.errors import EdgesyncError
    from agent.install import install as do_install

    try:
        result = do_install(root, now=now, binary=binary)
    except EdgesyncError as exc:
        fail(exc, output=output)
    if output is Output.json:
        emit_json({"root": str(result.root), "unit": str(result.unit),
                   "config": str(result.config), "written": [str(p) for p in result.written],
                   "kept": [str(p) for p in result.kept], "commands": list(result.commands),
                   "started": result.started})
        return
    for path in result.written:
        typer.echo(f"wrote {path}")
    for path in result.kept:
        typer.echo(f"kept  {path} (already there; see agent.yaml.example for new keys)")
    if result.started:
        typer.echo("edge-agent.service is enabled and started")
        return
    typer.echo("\nNothing was started. Review the config, then:")
    for command in result.commands:
        typer.echo(f"  {command}")


@app.command()
def validate(
    repo: Annotated[Path, typer.Argument(help="fleet repo checkout (the folder with tiers.yaml)")],
    all_tiers: Annotated[bool, typer.Option(
        "--all-tiers", help="check every tier (the default)")] = False,
    tier: Annotated[list[str] | None, typer.Option(
        "--tier", "-t", help="check only this tier (repeat)")] = None,
    output: Annotated[ReportFormat, typer.Option(
        "--output", "-o", help="text, json or junit")] = ReportFormat.text,
) -> None:
    """Render each tier and check it against the tier policy; exit 1 on any violation."""
    from agent.errors import EdgesyncError
    from agent.policy import report

    as_json = Output.json if output is ReportFormat.json else Output.text
    if all_tiers and tier:
        fail("--all-tiers and --tier exclude each other", code=2, output=as_json)
    try:
        result = report.validate_repo(repo, tier or None)
    except EdgesyncError as exc:
        fail(exc, code=2, output=as_json)
    if output is ReportFormat.json:
        emit_json(report.to_json(result))
    elif output is ReportFormat.junit:
        typer.echo(report.to_junit(result), nl=False)
    else:
        typer.echo(report.to_text(result), nl=False)
    if not result.ok:
        raise typer.Exit(1)
