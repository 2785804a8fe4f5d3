"""`edge-agent images resolve` and `edge-agent images resolve-bundle`."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.cli import app
from agent.commands._output import OUTPUT_OPTION, Output, emit_json, fail
from agent.errors import EdgesyncError

images_app = typer.Typer(help="Resolve and pin container images for this node's platform.",
                         no_args_is_help=True)
app.add_typer(images_app, name="images")

CONFIG_OPTION = typer.Option(None, "--config", "-c",
                             help="agent config file (images.* keys and platform)")
PLATFORM_OPTION = typer.Option(None, "--platform",
                               help="os/arch or os/arch/variant, e.g. linux/arm64 "
                                    "(default: config, then this machine)")
INSECURE_OPTION = typer.Option(False, "--insecure-http",
                               help="talk plain HTTP to registries (lab registries only)")
TIER_OPTION = typer.Option(None, "--tier", help="rewrite to this tier's registry")
REPO_OPTION = typer.Option(Path("."), "--repo", help="fleet repo holding tiers.yaml")
CACHE_DIR_OPTION = typer.Option(None, "--cache-dir",
                                help="per-revision resolution cache directory")
REVISION_OPTION = typer.Option(None, "--revision", help="revision id for the cache")
PRINT_BUNDLE_OPTION = typer.Option(False, "--print-bundle",
                                   help="print the pinned bundle as YAML instead")


@images_app.command("resolve")
def resolve(
    ref: str = typer.Argument(..., help="image reference, e.g. registry.local/app:1.0"),
    platform: str | None = PLATFORM_OPTION,
    config: str | None = CONFIG_OPTION,
    insecure_http: bool = INSECURE_OPTION,
    output: Output = OUTPUT_OPTION,
) -> None:
    """Print the digest-pinned reference of REF for a platform."""
    from agent.images._commands import resolve_one

    try:
        data = resolve_one(ref, platform=platform, config=config, insecure_http=insecure_http)
    except EdgesyncError as exc:
        fail(exc, output=output)
    if output is Output.json:
        emit_json(data)
    else:
        typer.echo(data["pinned"])


@images_app.command("resolve-bundle")
def resolve_bundle(
    *,
    file: str = typer.Argument(..., help="rendered bundle (multi-document YAML, - for stdin)"),
    tier: str | None = TIER_OPTION,
    repo: Path = REPO_OPTION,
    platform: str | None = PLATFORM_OPTION,
    config: str | None = CONFIG_OPTION,
    insecure_http: bool = INSECURE_OPTION,
    cache_dir: Path | None = CACHE_DIR_OPTION,
    revision: str | None = REVISION_OPTION,
    print_bundle: bool = PRINT_BUNDLE_OPTION,
    output: Output = OUTPUT_OPTION,
) -> None:
    """Pre-flight every image of a bundle: pin them all, or list each one that fails."""
    from agent.images._commands import pins_json, resolve_bundle_file

    try:
        result = resolve_bundle_file(file, tier=tier, repo=repo, platform=platform,
                                     config=config, insecure_http=insecure_http,
                                     cache_dir=cache_dir, revision=revision)
    except EdgesyncError as exc:
        fail(exc, output=output)
    if print_bundle:
        import yaml

        typer.echo(yaml.safe_dump_all(list(result.bundle), sort_keys=False), nl=False)
    elif output is Output.json:
        emit_json(pins_json(result))
    else:
        for p in result.pins:
            typer.echo(f"{p.source} -> {p.pinned}")
        typer.echo(f"{len(result.pins)} image(s) pinned, {result.requests} registry request(s)")
