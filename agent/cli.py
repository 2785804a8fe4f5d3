"""`edge-agent`: a thin Typer shell over the pipeline stages.

Command modules register themselves on `app` when imported; each keeps heavy
imports inside its functions so that `edge-agent --help` starts quickly.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="edge-agent",
    help="GitOps sync agent for edge fleets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """GitOps sync agent for edge fleets."""


@app.command()
def version() -> None:
    """Print the agent version."""
    from agent import __version__

    typer.echo(__version__)


def _register() -> None:
    from agent.commands import daemon, images, render, ship, sync  # noqa: F401


def main() -> None:
    import sys

    if sys.argv[1:2] == ["render"]:
        # Typer imports pydantic to coerce any parameter (~0.2 s); render parses its own.
        from agent.render.command import run

        raise SystemExit(run(sys.argv[2:]))
    if sys.argv[1:2] == ["images"]:
        # Same reason: the images commands parse their own options (agent/images/__main__.py).
        from agent.images.__main__ import main as images_main

        raise SystemExit(images_main(sys.argv[2:], prog="edge-agent images"))
    app()


_register()
