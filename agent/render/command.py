"""`edge-agent render` without the rest of the CLI.

`agent.launcher` sends `edge-agent render ...` here: a render (the command
scripts and the benchmark run most) parses its own few options and imports only
the engine, so it starts as fast as kubectl. Errors print exactly as
`agent.commands._output.fail` prints them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

USAGE = """\
edge-agent render PATH [--repo DIR] [--output yaml|json]
       edge-agent render --tier NAME --repo DIR [--resolve-images [--config FILE]]
                         [--platform OS/ARCH] [--output yaml|json]"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edge-agent render", usage=USAGE,
        description="Render a Kustomize overlay to the multi-document YAML that "
                    "`kubectl kustomize` prints.")
    p.add_argument("path", nargs="?", type=Path, help="kustomization directory")
    p.add_argument("--tier", help="render this tier's overlay (from DIR/tiers.yaml)")
    p.add_argument("--repo", type=Path,
                   help="fleet repo root: with --tier, the repo to read; with PATH, a bound "
                        "no file may leave")
    p.add_argument("--resolve-images", action="store_true",
                   help="with --tier: move images to the tier registry and pin them to this "
                        "node's platform digest (asks the registry)")
    p.add_argument("--config", help="agent config whose images.* settings to use")
    p.add_argument("--platform", help="pin for this platform instead (e.g. linux/arm64)")
    p.add_argument("--output", "-o", choices=("yaml", "json"), default="yaml")
    return p


def _fail(message: str, kind: str, as_json: bool) -> int:
    if as_json:
        sys.stdout.write(json.dumps({"error": message, "type": kind}, indent=2) + "\n")
    else:
        sys.stderr.write(f"error: {message}\n")
    return 1


def run(argv: list[str]) -> int:
    """Run `render` with its arguments; returns the exit code."""
    from agent.errors import EdgesyncError

    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    as_json = args.output == "json"
    if args.tier is not None and args.path is not None:
        return _fail("give either PATH or --tier, not both", "Error", as_json)
    if args.tier is None and args.path is None:
        return _fail("give a kustomization PATH or --tier NAME --repo DIR", "Error", as_json)
    if args.resolve_images and args.tier is None:
        return _fail("--resolve-images needs --tier (the tier names the registry)", "Error",
                     as_json)
    try:
        from agent import render as engine

        if args.tier is not None:
            repo = args.repo or Path(".")
            bundle = engine.render_tier(repo, args.tier)
            if args.resolve_images:
                from agent.images import resolve_rendered_tier

                bundle = resolve_rendered_tier(bundle, repo=repo, tier=args.tier,
                                               config=args.config, platform=args.platform)
        else:
            bundle = engine.render(args.path, root=args.repo)
        text = engine.to_json(bundle) if as_json else engine.to_yaml(bundle)
    except EdgesyncError as exc:
        return _fail(str(exc), type(exc).__name__, as_json)
    sys.stdout.write(text)
    return 0
