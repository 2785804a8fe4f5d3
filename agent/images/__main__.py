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


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Resolve container images for this node's platform and pin "
                               "them to digests.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    helps = {"resolve": "print the digest-pinned reference of one image",
             "resolve-bundle": "pre-flight every image of a bundle: pin them all, or list "
                               "each one that fails"}
    for name, text in helps.items():
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument("target", metavar="REF" if name == "resolve" else "FILE",
                         help="image reference, e.g. registry.local/app:1.0" if name ==
                         "resolve" else "bundle file (multi-document YAML, - for stdin)")
        cmd.add_argument("--platform", help="os/arch[/variant], e.g. linux/arm64 "
                                            "(default: config, then this machine)")
        cmd.add_argument("--config", "-c", help="agent config (images.* keys and platform)")
        cmd.add_argument("--insecure-http", action="store_true",
                         help="plain HTTP to registries (lab registries only)")
        cmd.add_argument("--output", "-o", choices=("text", "json"), default="text")
        if name == "resolve-bundle":
            cmd.add_argument("--tier", help="rewrite images to this tier's registry")
            cmd.add_argument("--repo", type=Path, default=Path("."),
                             help="fleet repo holding tiers.yaml (with --tier)")
            cmd.add_argument("--cache-dir", type=Path, help="per-revision resolution cache")
            cmd.add_argument("--revision", help="revision id for the cache")
            cmd.add_argument("--print-bundle", action="store_true",
                             help="print the pinned bundle as YAML instead")
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m agent.images") -> int:
    """Run one images command; returns the exit code (argparse exits 2 on bad usage)."""
    args = _parser(prog).parse_args(argv)
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
            if args.print_bundle:
                import yaml

                sys.stdout.write(yaml.safe_dump_all(list(result.bundle), sort_keys=False))
                return 0
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
