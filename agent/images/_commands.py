"""What `edge-agent images ...` and `python -m agent.images ...` do, without any CLI framework.

Both shells call these functions and print their JSON-ready results the same
way; the plain `python -m agent.images` entry exists because it starts in a
fraction of the time (no Typer), which matters on small edge CPUs and in
scripts that resolve often.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent.config import ImagesConfig, load_config
from agent.errors import ImageError
from agent.images._client import RegistryPool
from agent.images._pin import (
    PinResult,
    client_options,
    credentials_for,
    pin_bundle,
    resolve_all,
    resolve_rendered,
)
from agent.images._platform import resolve_platform
from agent.images._reference import parse_reference
from agent.model import Bundle


def images_config(config: str | None, insecure_http: bool) -> tuple[ImagesConfig, str | None]:
    """The `images:` section and `platform` of an agent config (defaults without one)."""
    if config is None:
        cfg, platform = ImagesConfig(), None
    else:
        loaded = load_config(config)
        cfg, platform = loaded.images, loaded.platform
    if insecure_http:
        cfg = replace(cfg, insecure_http=True)
    return cfg, platform


def resolve_one(ref: str, *, platform: str | None, config: str | None,
                insecure_http: bool) -> dict[str, str | None]:
    """Resolve one reference; the JSON of `images resolve` (ref, pinned, digest, ...)."""
    cfg, configured_platform = images_config(config, insecure_http)
    parsed = parse_reference(ref)
    node = resolve_platform(platform or configured_platform)
    # Credentials from the agent config are for the registry the user names here.
    with RegistryPool(credentials_for(cfg, hosts=[parsed.domain]), client_options(cfg)) as pool:
        resolved, failed = resolve_all([parsed], pool=pool, platform=node, pin=cfg.pin)
    if parsed in failed:
        raise failed[parsed]
    r = resolved[parsed]
    return {"ref": str(r.ref), "pinned": str(r.pinned), "digest": r.digest,
            "platform": r.platform, "index_digest": r.index_digest}


def load_bundle(source: str) -> Bundle:
    """Objects from a multi-document YAML file (or `-` for stdin); `kind: List` is flattened."""
    import yaml

    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        # libyaml's loader when present: a bundle of hundreds of objects parses 10x faster.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        docs = [d for d in yaml.load_all(text, Loader=loader) if d is not None]
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


def resolve_bundle_file(source: str, *, tier: str | None, repo: Path, platform: str | None,
                        config: str | None, insecure_http: bool, cache_dir: Path | None,
                        revision: str | None) -> PinResult:
    """Pre-flight and pin every image of a bundle file (rewritten for `tier` if given)."""
    cfg, configured_platform = images_config(config, insecure_http)
    bundle = load_bundle(source)
    policy_tier = None
    if tier is not None:
        from agent.tiers import load_tiers

        policy_tier = load_tiers(repo).get(tier)
    return pin_bundle(bundle, tier=policy_tier, cfg=cfg, platform=platform or configured_platform,
                      cache_dir=cache_dir, revision=revision)


def pins_json(result: PinResult) -> dict[str, Any]:
    return {"pins": [{"source": p.source, "rewritten": p.rewritten, "pinned": p.pinned,
                      "digest": p.digest, "platform": p.platform,
                      "index_digest": p.index_digest} for p in result.pins],
            "requests": result.requests}


def resolve_rendered_tier(bundle: Bundle, *, repo: Path, tier: str, config: str | None,
                          platform: str | None = None) -> Bundle:
    """`edge-agent render --tier T --resolve-images`: the rendered bundle, rewritten to the
    tier's registry and pinned for this node (settings from the agent config, if given)."""
    from agent.tiers import load_tiers

    cfg, configured_platform = images_config(config, False)
    return resolve_rendered(bundle, load_tiers(repo).get(tier), cfg,
                            platform=platform or configured_platform)
