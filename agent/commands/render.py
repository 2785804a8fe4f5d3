"""`edge-agent render`: print the objects an overlay renders to, as kubectl kustomize does.

The options are parsed by `agent.render.command` (argparse), not declared to
Typer: Typer builds a pydantic validator for declared parameters, and importing
pydantic alone would double the start-up time of a render. The console script
usually reaches `agent.render.command` directly; this registration keeps
`edge-agent --help` listing the command and `app` able to run it.
"""

from __future__ import annotations

import typer

from agent.cli import app


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                               "help_option_names": []},
             add_help_option=False)
def render(ctx: typer.Context) -> None:
    """Render a Kustomize overlay (PATH, or --tier NAME --repo DIR); see `render --help`."""
    from agent.render.command import run

    code = run(ctx.args)
    if code:
        raise typer.Exit(code)
