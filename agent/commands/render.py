"""`edge-agent render`: print the objects an overlay renders to, as kubectl kustomize does.

The options are parsed here with argparse rather than declared to Typer: Typer
builds a pydantic validator for every declared parameter, and importing pydantic
alone would double the start-up time of a render (the benchmark compares whole
processes against kubectl).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import typer

from agent.cli import app

_USAGE = """\
edge-agent render PATH [--repo DIR] [--output yaml|json]
       edge-agent render --tier NAME --repo DIR [--resolve-images [--config FILE]]
                         [--output yaml|json]"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-agent render", usage=_USAGE,
        description="Render a Kustomize overlay to the multi-document YAML that "
                    "`kubectl kustomize` prints.")
    parser.add_argument("path", nargs="?", type=Path, help="kustomization directory")
    parser.add_argument("--tier", help="render this tier's overlay (from DIR/tiers.yaml)")
    parser.add_argument("--repo", type=Path,
                        help="fleet repo root: with --tier, the repo to read; with PATH, "
                             "a bound no file may leave")
    parser.add_argument("--output", "-o", choices=("yaml", "json"), default="yaml")
    parser.add_argument("--resolve-images", action="store_true",
                        help="with --tier: move images to the tier's registry and pin them to "
                             "this node's platform digests (agent.images)")
    parser.add_argument("--config", "-c", help="agent config for --resolve-images "
                                               "(images.* keys, platform)")
    return parser


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                               "help_option_names": []},
             add_help_option=False)
def render(ctx: typer.Context) -> None:
    """Render a Kustomize overlay (PATH, or --tier NAME --repo DIR); see `render --help`."""
    run(ctx.args)


def run(argv: list[str]) -> None:
    """The whole command; `agent.cli.main` calls it directly to skip Typer's start-up."""
    from agent.commands._output import Output, fail
    from agent.errors import EdgesyncError

    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        raise typer.Exit(int(exc.code or 0)) from None
    mode = Output.json if args.output == "json" else Output.text
    if args.tier is not None and args.path is not None:
        fail("give either PATH or --tier, not both", output=mode)
    if args.tier is None and args.path is None:
        fail("give a kustomization PATH or --tier NAME --repo DIR", output=mode)
    if args.resolve_images and args.tier is None:
        fail("--resolve-images needs --tier (the tier names the registry)", output=mode)
    try:
        from agent import render as engine

        if args.tier is not None:
            bundle = engine.render_tier(args.repo or Path("."), args.tier)
            if args.resolve_images:
                from agent.images import resolve_rendered_tier

                bundle = resolve_rendered_tier(bundle, repo=args.repo or Path("."),
                                               tier=args.tier, config=args.config)
        else:
            bundle = engine.render(args.path, root=args.repo)
        text = engine.to_json(bundle) if mode is Output.json else engine.to_yaml(bundle)
    except EdgesyncError as exc:
        fail(exc, output=mode)
    sys.stdout.write(text)
