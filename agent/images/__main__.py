"""`python -m agent.images resolve|resolve-bundle ...`: the images commands without Typer.

Same options and JSON as `edge-agent images ...`; see agent/images/_commands.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agent.errors import EdgesyncError
from agent.images._commands import pins_json, resolve_bundle_file, resolve_one


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agent.images",
                                     description="Resolve and pin container images.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("resolve", "resolve-bundle"):
        cmd = sub.add_parser(name)
        cmd.add_argument("target", help="image reference" if name == "resolve"
                         else "bundle file (multi-document YAML, - for stdin)")
        cmd.add_argument("--platform")
        cmd.add_argument("--config", "-c")
        cmd.add_argument("--insecure-http", action="store_true")
        cmd.add_argument("--output", "-o", choices=("text", "json"), default="text")
        if name == "resolve-bundle":
            cmd.add_argument("--tier")
            cmd.add_argument("--repo", type=Path, default=Path("."))
            cmd.add_argument("--cache-dir", type=Path)
            cmd.add_argument("--revision")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "resolve":
            data = resolve_one(args.target, platform=args.platform, config=args.config,
                               insecure_http=args.insecure_http)
            text = str(data["pinned"])
        else:
            result = resolve_bundle_file(args.target, tier=args.tier, repo=args.repo,
                                         platform=args.platform, config=args.config,
                                         insecure_http=args.insecure_http,
                                         cache_dir=args.cache_dir, revision=args.revision)
            data = pins_json(result)
            text = "\n".join([*(f"{p.source} -> {p.pinned}" for p in result.pins),
                              f"{len(result.pins)} image(s) pinned, {result.requests} "
                              "registry request(s)"])
    except EdgesyncError as exc:
        if args.output == "json":
            print(json.dumps({"error": str(exc), "type": type(exc).__name__}, indent=2))
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(data, indent=2) if args.output == "json" else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
