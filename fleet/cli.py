"""`fleet`: the central service's command line."""

from __future__ import annotations

import typer

app = typer.Typer(name="fleet", help="edgesync fleet service.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def _root() -> None:
    """Report ingest, fleet status and staged rollouts."""


def main() -> None:
    app()
