"""How every command prints: human text by default, `--output json` for scripts."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Any, NoReturn

import typer

from agent.errors import EdgesyncError


class Output(StrEnum):
    text = "text"
    json = "json"


OUTPUT_OPTION = typer.Option(Output.text, "--output", "-o", help="text or json")


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def fail(exc: EdgesyncError | str, *, code: int = 1, output: Output = Output.text) -> NoReturn:
    """Print an error the same way for every command and exit non-zero."""
    message = str(exc)
    if output is Output.json:
        emit_json({"error": message, "type": type(exc).__name__ if not isinstance(exc, str)
                   else "Error"})
    else:
        typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
