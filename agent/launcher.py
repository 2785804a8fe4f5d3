"""The `edge-agent` entry point: hand the hot commands to their own parsers.

`render` (what scripts and fleet-repo CI run most) and `images` parse their few
options with argparse and import only their stage: Typer imports pydantic to
coerce parameters, which alone would make a small render slower than kubectl.
Every other command goes to the Typer application in `agent.cli`.
"""

from __future__ import annotations

import sys


def main() -> None:
    command = sys.argv[1:2]
    if command == ["render"]:
        from agent.render.command import run

        raise SystemExit(run(sys.argv[2:]))
    if command == ["images"]:
        from agent.images.__main__ import main as images_main

        raise SystemExit(images_main(sys.argv[2:], prog="edge-agent images"))
    from agent.cli import app

    app()
