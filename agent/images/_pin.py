"""The images stage: rewrite to the tier registry, resolve for the node, pin, or refuse.

`pin_bundle` is what the pipeline calls between render and plan. Either every
image of the bundle resolves for this node's platform and the bundle comes
back with `registry/repo@sha256:...` references, or `PreflightError` lists
each image that does not and why, before anything reaches the cluster.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.config import ImagesConfig
from agent.errors import ImageError
from agent.images import _cache
from agent.images._bundle import ImageUse, image_uses, map_images
from agent.images._client import ClientOptions, RegistryPool
from agent.images._credentials import Credential, Credentials, DockerConfig, read_password_file
from agent.images._errors import ImageFailure, PreflightError, reason_of
from agent.images._platform import Platform, resolve_platform
from agent.images._reference import ImageRef, parse_reference
from agent.images._resolve import Resolution, Resolver
from agent.images._rewrite import RegistryRewrite
from agent.images._store import ManifestStore
from agent.model import Bundle

if TYPE_CHECKING:
    from agent.images._prepull import PrepullReport
    from agent.tiers import Tier

log = logging.getLogger("edgesync.images")

DEFAULT_WORKERS = 16


@dataclass(frozen=True)
class ImagePin:
    """One image of the bundle: as written, as rewritten for the tier, and as pinned."""

    source: str
    rewritten: str
    pinned: str
    digest: str | None
    platform: str
    index_digest: str | None


@dataclass(frozen=True)
class PinResult:
    bundle: Bundle
    pins: tuple[ImagePin, ...]
    requests: int
    prepull: PrepullReport | None = None


def credentials_for(cfg: ImagesConfig, hosts: Iterable[str] = ()) -> Credentials:
    """Agent-config credentials for `hosts` (the tier's own registry), Docker's for the rest."""
    static: dict[str, Credential] = {}
    if cfg.username:
        password = read_password_file(cfg.password_file) if cfg.password_file else ""
        static = {host: Credential(cfg.username, password) for host in hosts}
    return Credentials(static=static, docker=DockerConfig.load(cfg.docker_config))


def client_options(cfg: ImagesConfig, *, insecure_http: bool | None = None) -> ClientOptions:
    return ClientOptions(insecure_http=cfg.insecure_http if insecure_http is None
                         else insecure_http, ca_file=cfg.ca_file)


def _ping_hosts(pool: RegistryPool, hosts: Iterable[str], workers: int
                ) -> dict[str, ImageError]:
    """Ping each registry once; returns the hosts every request to which would fail."""
    def ping(host: str) -> tuple[str, ImageError | None]:
        try:
            pool.client(host).ping()
        except ImageError as exc:
            return host, exc
        return host, None

    unique = list(dict.fromkeys(hosts))
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(unique))),
                            thread_name_prefix="image-ping") as executor:
        return {h: e for h, e in executor.map(ping, unique) if e is not None}


def resolve_all(refs: Iterable[ImageRef], *, pool: RegistryPool, platform: Platform,
                pin: str = "platform", workers: int = DEFAULT_WORKERS,
                store: ManifestStore | None = None
                ) -> tuple[dict[ImageRef, Resolution], dict[ImageRef, ImageError]]:
    """Resolve distinct references concurrently; failures are collected, not raised.

    Each registry is pinged first, so the concurrent requests carry credentials from
    the start and an unreachable or refusing registry fails its images at once.
    """
    resolver = Resolver(pool, platform, "index" if pin == "index" else "platform", store)
    unique = list(dict.fromkeys(refs))
    resolved: dict[ImageRef, Resolution] = {}
    failed: dict[ImageRef, ImageError] = {}
    if not unique:
        return resolved, failed
    down = _ping_hosts(pool, (r.domain for r in unique), workers)
    for ref in unique:
        if ref.domain in down:
            failed[ref] = down[ref.domain]
    unique = [r for r in unique if r.domain not in down]

    def one(ref: ImageRef) -> tuple[ImageRef, Resolution | ImageError]:
        try:
            return ref, resolver.resolve(ref)
        except ImageError as exc:
            return ref, exc

    if not unique:
        return resolved, failed
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(unique))),
                            thread_name_prefix="image-resolve") as executor:
        for ref, outcome in executor.map(one, unique):
            if isinstance(outcome, Resolution):
                resolved[ref] = outcome
            else:
                failed[ref] = outcome
    return resolved, failed


def _cache_key(rewritten: ImageRef, platform: Platform, pin: str) -> str:
    return f"{rewritten}|{platform}|{pin}"


def _pin_from_cache(source: str, rewritten: ImageRef, entry: dict[str, object]
                    ) -> ImagePin | None:
    try:
        pin = ImagePin(source=source, rewritten=str(rewritten), pinned=str(entry["pinned"]),
                       digest=str(entry["digest"]), platform=str(entry["platform"]),
                       index_digest=None if entry.get("index_digest") is None
                       else str(entry["index_digest"]))
        parse_reference(pin.pinned)
    except (KeyError, ImageError):
        return None
    return pin


def pin_bundle(bundle: Bundle, *, tier: Tier | None, cfg: ImagesConfig, platform: str | None,
               cache_dir: Path | None, revision: str | None,
               options: ClientOptions | None = None,
               workers: int = DEFAULT_WORKERS) -> PinResult:
    """Rewrite every image to the tier registry and pin it to this node's platform digest.

    `tier` None applies no tier rules: images keep their registry, and the override
    (if any) is the registry the configured credentials are for.

    Raises `PreflightError` listing every image that is malformed or does not
    resolve (no such tag, no manifest for the platform, 401, registry
    unreachable, ...); nothing is returned half-pinned.
    """
    rewrite = RegistryRewrite.for_tier(tier, cfg.registry_override)
    uses = image_uses(bundle)
    node = resolve_platform(platform)
    by_source: dict[str, list[ImageUse]] = {}
    for use in uses:
        by_source.setdefault(use.image, []).append(use)

    failures: list[ImageFailure] = []
    rewritten: dict[str, ImageRef] = {}
    for source, users in by_source.items():
        try:
            rewritten[source] = rewrite.apply(parse_reference(source))
        except ImageError as exc:
            failures.append(ImageFailure(source, "malformed reference", exc.message,
                                         tuple(u.where for u in users)))

    if not cfg.check:
        if failures:
            raise PreflightError(tuple(failures), platform=str(node), total=len(by_source))
        unchecked = tuple(ImagePin(s, str(r), str(r), None, str(node), None)
                          for s, r in rewritten.items())
        return PinResult(bundle=map_images(bundle, lambda s: str(rewritten[s])),
                         pins=unchecked, requests=0)

    cached: dict[str, dict[str, object]] = {}
    if cache_dir is not None and revision:
        cached = _cache.load(cache_dir, revision)
    pins: dict[str, ImagePin] = {}
    todo: dict[str, ImageRef] = {}
    for source, ref in rewritten.items():
        entry = cached.get(_cache_key(ref, node, cfg.pin))
        hit = _pin_from_cache(source, ref, entry) if entry is not None else None
        if hit is not None:
            pins[source] = hit
        else:
            todo[source] = ref

    requests = 0
    if todo:
        credentials = credentials_for(cfg, hosts=[rewrite.effective_host])
        with RegistryPool(credentials, options or client_options(cfg)) as pool:
            store = ManifestStore(cache_dir / "manifests") if cache_dir is not None else None
            resolved, failed = resolve_all(todo.values(), pool=pool, platform=node,
                                           pin=cfg.pin, workers=workers, store=store)
            requests = pool.requests
            if store is not None:
                store.prune()
        for source, ref in todo.items():
            if ref in resolved:
                r = resolved[ref]
                pins[source] = ImagePin(source, str(ref), str(r.pinned), r.digest, r.platform,
                                        r.index_digest)
            else:
                error = failed[ref]
                failures.append(ImageFailure(str(ref), reason_of(error), error.message,
                                             tuple(u.where for u in by_source[source])))
    if failures:
        raise PreflightError(tuple(failures), platform=str(node), total=len(by_source))

    if cache_dir is not None and revision and todo:
        entries = {_cache_key(rewritten[s], node, cfg.pin):
                   {k: v for k, v in asdict(p).items() if k not in ("source", "rewritten")}
                   for s, p in pins.items()}
        _cache.store(cache_dir, revision, entries)
    log.info("images: %d pinned for %s (%d from cache, %d registry requests)",
             len(pins), node, len(pins) - len(todo), requests)

    ordered = tuple(pins[s] for s in by_source)
    report = None
    if cfg.prepull:
        # Only nodes that pre-pull pay for loading it.
        from agent.images._prepull import plan_prepull, prepull

        report = prepull(plan_prepull([p.pinned for p in ordered], enabled=True))
    return PinResult(bundle=map_images(bundle, lambda s: pins[s].pinned), pins=ordered,
                     requests=requests, prepull=report)


def resolve_rendered(bundle: Bundle, tier: Tier, cfg: ImagesConfig | None = None, *,
                     platform: str | None = None, insecure_http: bool | None = None) -> Bundle:
    """The rendered bundle with rewritten, pinned images (for `edge-agent render`)."""
    cfg = cfg or ImagesConfig()
    options = client_options(cfg, insecure_http=insecure_http)
    return pin_bundle(bundle, tier=tier, cfg=cfg, platform=platform, cache_dir=None,
                      revision=None, options=options).bundle
