"""`edge-agent images resolve REF` and `edge-agent images resolve-bundle FILE`.

The options are parsed with argparse (agent/images/__main__.py, also runnable as
`python -m agent.images`) rather than declared to Typer, which would import
pydantic to validate them and more than double the command's start-up time.
"""

from __future__ import annotations

import typer

from agent.cli import app


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                               "help_option_names": []},
             add_help_option=False)
def images(ctx: typer.Context) -> None:
    """Resolve and pin images: `images resolve REF`, `images resolve-bundle FILE`."""
    from agent.images.__main__ import main

    try:
        code = main(ctx.args, prog="edge-agent images")
    except SystemExit as exc:  # argparse: --help, or a usage error
        raise typer.Exit(int(exc.code or 0)) from None
    raise typer.Exit(code)
