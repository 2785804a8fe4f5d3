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
    from agent.launcher import main as launch

    launch()


_register()
