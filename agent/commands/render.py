"""`edge-agent render`: print the objects an overlay renders to, as kubectl kustomize does."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.cli import app
from agent.commands._output import Output, fail

PATH_ARG = typer.Argument(None, help="Kustomization directory to render.")
TIER_OPTION = typer.Option(None, "--tier", help="Render this tier's overlay.")
REPO_OPTION = typer.Option(None, "--repo", help="Fleet repo root (bounds every file read).")
FORMAT_OPTION = typer.Option("yaml", "--output", "-o", help="yaml or json")


@app.command()
def render(
    path: Path | None = PATH_ARG,
    tier: str | None = TIER_OPTION,
    repo: Path | None = REPO_OPTION,
    output: str = FORMAT_OPTION,
) -> None:
    """Render a Kustomize overlay (PATH, or --tier NAME --repo DIR) to multi-document YAML."""
    import sys

    from agent.errors import EdgesyncError

    mode = Output.json if output == "json" else Output.text
    if output not in ("yaml", "json"):
        fail(f"--output must be yaml or json, got {output!r}")
    try:
        from agent import render as engine

        if tier is not None:
            if path is not None:
                fail("give either PATH or --tier, not both", output=mode)
            bundle = engine.render_tier(repo or Path("."), tier)
        elif path is not None:
            bundle = engine.render(path, root=repo)
        else:
            fail("give a kustomization PATH or --tier NAME --repo DIR", output=mode)
        text = engine.to_json(bundle) if mode is Output.json else engine.to_yaml(bundle)
    except EdgesyncError as exc:
        fail(exc, output=mode)
    sys.stdout.write(text)
