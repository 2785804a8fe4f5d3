"""`edge-agent images resolve` and `edge-agent images resolve-bundle`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from agent.cli import app
from agent.commands._output import OUTPUT_OPTION, Output, emit_json, fail
from agent.errors import EdgesyncError

if TYPE_CHECKING:
    from agent.config import ImagesConfig
    from agent.model import Bundle

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


def _images_config(config: str | None, insecure_http: bool) -> tuple[ImagesConfig, str | None]:
    from dataclasses import replace

    from agent.config import ImagesConfig, load_config

    if config is None:
        cfg, platform = ImagesConfig(), None
    else:
        loaded = load_config(config)
        cfg, platform = loaded.images, loaded.platform
    if insecure_http:
        cfg = replace(cfg, insecure_http=True)
    return cfg, platform


@images_app.command("resolve")
def resolve(
    ref: str = typer.Argument(..., help="image reference, e.g. registry.local/app:1.0"),
    platform: str | None = PLATFORM_OPTION,
    config: str | None = CONFIG_OPTION,
    insecure_http: bool = INSECURE_OPTION,
    output: Output = OUTPUT_OPTION,
) -> None:
    """Print the digest-pinned reference of REF for a platform."""
    from agent.images import (
        RegistryPool,
        client_options,
        credentials_for,
        parse_reference,
        resolve_all,
        resolve_platform,
    )

    try:
        cfg, configured_platform = _images_config(config, insecure_http)
        parsed = parse_reference(ref)
        node = resolve_platform(platform or configured_platform)
        # Credentials from the agent config are for the registry the user names here.
        with RegistryPool(credentials_for(cfg, hosts=[parsed.domain]),
                          client_options(cfg)) as pool:
            resolved, failed = resolve_all([parsed], pool=pool, platform=node, pin=cfg.pin)
        if parsed in failed:
            raise failed[parsed]
    except EdgesyncError as exc:
        fail(exc, output=output)
    r = resolved[parsed]
    data = {"ref": str(r.ref), "pinned": str(r.pinned), "digest": r.digest,
            "platform": r.platform, "index_digest": r.index_digest}
    if output is Output.json:
        emit_json(data)
    else:
        typer.echo(data["pinned"])


def _load_bundle(source: str) -> Bundle:
    import yaml

    from agent.errors import ImageError
    from agent.model import Bundle

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except OSError as exc:
        raise ImageError(f"cannot read bundle: {exc.strerror}", where=source) from None
    except yaml.YAMLError as exc:
        raise ImageError(f"bundle is not valid YAML: {exc}", where=source) from None
    objects: list[dict[str, Any]] = []
    for i, doc in enumerate(docs):
        items = doc.get("items") if isinstance(doc, dict) and doc.get("kind") == "List" \
            else [doc]
        for item in items or []:
            if not isinstance(item, dict):
                raise ImageError(f"document {i} is not a Kubernetes object", where=source)
            objects.append(item)
    return Bundle(tuple(objects))


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
    from agent.images import pin_bundle
    from agent.tiers import Tier, load_tiers

    try:
        cfg, configured_platform = _images_config(config, insecure_http)
        bundle = _load_bundle(file)
        if tier is not None:
            policy_tier = load_tiers(repo).get(tier)
        else:
            # No tier: nothing to rewrite; the override (if any) is its own registry.
            policy_tier = Tier(name="-", overlay=".",
                               registry=cfg.registry_override or "localhost")
        result = pin_bundle(bundle, tier=policy_tier, cfg=cfg,
                            platform=platform or configured_platform,
                            cache_dir=cache_dir, revision=revision)
    except EdgesyncError as exc:
        fail(exc, output=output)
    if print_bundle:
        import yaml

        typer.echo(yaml.safe_dump_all(list(result.bundle), sort_keys=False), nl=False)
        return
    pins = [{"source": p.source, "rewritten": p.rewritten, "pinned": p.pinned,
             "digest": p.digest, "platform": p.platform, "index_digest": p.index_digest}
            for p in result.pins]
    if output is Output.json:
        emit_json({"pins": pins, "requests": result.requests})
    else:
        for p in result.pins:
            typer.echo(f"{p.source} -> {p.pinned}")
        typer.echo(f"{len(pins)} image(s) pinned, {result.requests} registry request(s)")
