"""The images stage: regional registries, multi-arch resolution and digest pinning.

The public surface is small; everything else lives in private modules.

    pin_bundle(bundle, tier=..., cfg=..., platform=..., cache_dir=..., revision=...)
        -> PinResult(bundle, pins, requests)      # the pipeline stage
    resolve_rendered(bundle, tier, cfg)           # rewritten + pinned bundle, no cache
    resolve_rendered_tier(bundle, repo=, tier=, config=)  # `edge-agent render --resolve-images`
    parse_reference("busybox")                    # -> ImageRef(docker.io, library/busybox)
    parse_platform("linux/arm/v7"), host_platform()

Errors all derive from `agent.errors.ImageError`.
"""

from agent.images import _httpx  # noqa: F401, I001  (before anything imports httpx)
from agent.errors import ImageError
from agent.images._bundle import ImageUse, image_uses, map_images
from agent.images._client import ClientOptions, RegistryClient, RegistryPool, RetryPolicy
from agent.images._commands import resolve_rendered_tier
from agent.images._credentials import Credential, Credentials, DockerConfig
from agent.images._errors import (
    DigestMismatchError,
    ForbiddenError,
    ImageFailure,
    InvalidPlatformError,
    InvalidReferenceError,
    ManifestInvalidError,
    ManifestTooLargeError,
    ManifestUnknownError,
    PlatformNotFoundError,
    PreflightError,
    RateLimitedError,
    RegistryError,
    RegistryUnreachableError,
    UnauthorizedError,
)
from agent.images._pin import (
    ImagePin,
    PinResult,
    client_options,
    credentials_for,
    pin_bundle,
    resolve_all,
    resolve_rendered,
)
from agent.images._platform import Platform, host_platform, parse_platform, resolve_platform
from agent.images._reference import ImageRef, parse_reference
from agent.images._resolve import Resolution, Resolver
from agent.images._rewrite import RegistryRewrite

__all__ = [
    "ClientOptions",
    "Credential",
    "Credentials",
    "DigestMismatchError",
    "DockerConfig",
    "ForbiddenError",
    "ImageError",
    "ImageFailure",
    "ImagePin",
    "ImageRef",
    "ImageUse",
    "InvalidPlatformError",
    "InvalidReferenceError",
    "ManifestInvalidError",
    "ManifestTooLargeError",
    "ManifestUnknownError",
    "PinResult",
    "Platform",
    "PlatformNotFoundError",
    "PreflightError",
    "RateLimitedError",
    "RegistryClient",
    "RegistryError",
    "RegistryPool",
    "RegistryRewrite",
    "RegistryUnreachableError",
    "Resolution",
    "Resolver",
    "RetryPolicy",
    "UnauthorizedError",
    "client_options",
    "credentials_for",
    "host_platform",
    "image_uses",
    "map_images",
    "parse_platform",
    "parse_reference",
    "pin_bundle",
    "resolve_all",
    "resolve_platform",
    "resolve_rendered",
    "resolve_rendered_tier",
]
