"""Moving images to the tier's regional registry.

A tier lists source prefixes (`rewrite: [registry.example.com]`) and its
registry (`harbor-edge-a.local`, optionally with a project path). An image
whose normalised name starts with a prefix, on a path-component boundary,
moves there: `registry.example.com/team/app:1.0` becomes
`harbor-edge-a.local/team/app:1.0`. Then `images.registry_override` (a lab's
`host:port`) replaces the tier registry's host in every image that points at
it, so the example fleet repo runs unchanged against a local registry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from agent.images._errors import InvalidReferenceError
from agent.images._reference import (
    DEFAULT_DOMAIN,
    LEGACY_DEFAULT_DOMAIN,
    ImageRef,
    parse_reference,
)

if TYPE_CHECKING:
    from agent.tiers import Tier


@dataclass(frozen=True)
class RegistryRewrite:
    """The rewrite rules of one tier, checked once."""

    prefixes: tuple[str, ...]
    registry: str
    override: str | None = None

    @classmethod
    def for_tier(cls, tier: Tier | None, override: str | None = None) -> RegistryRewrite:
        """The rules of `tier`; None: no prefixes, the override alone names the registry."""
        prefixes: tuple[str, ...] = ()
        if tier is None:
            registry = (override or "localhost").strip().rstrip("/")
        else:
            registry = tier.registry.strip().rstrip("/")
            _check_name(registry, where=f"tiers.{tier.name}.registry")
            prefixes = tuple(_normalise_prefix(p, where=f"tiers.{tier.name}.rewrite")
                             for p in tier.rewrite)
        if override is not None:
            override = override.strip().rstrip("/")
            if "/" in override:
                raise InvalidReferenceError("must be a host[:port] without a path",
                                            where=f"images.registry_override {override!r}")
            _check_name(override, where="images.registry_override")
        return cls(prefixes=prefixes, registry=registry, override=override or None)

    @property
    def registry_host(self) -> str:
        return self.registry.split("/", 1)[0]

    @property
    def effective_host(self) -> str:
        """The host images of this tier are really pulled from (override applied)."""
        return self.override or self.registry_host

    def apply(self, ref: ImageRef) -> ImageRef:
        """`ref` moved to the tier registry (if a prefix matches), override applied."""
        name = ref.name
        # Longest prefix first, so `example.com/team` beats `example.com`.
        for prefix in sorted(self.prefixes, key=len, reverse=True):
            if name == prefix or name.startswith(prefix + "/"):
                rest = name[len(prefix):].lstrip("/")
                if not rest:
                    raise InvalidReferenceError(f"rewrite prefix {prefix!r} is the whole image "
                                                "name; prefixes must name a registry or a path "
                                                "above the repository", where=str(ref))
                ref = ref.with_name(f"{self.registry}/{rest}")
                break
        if self.override and ref.domain == self.registry_host:
            ref = replace(ref, domain=self.override)
        return ref


def _check_name(registry: str, *, where: str) -> None:
    # A registry (with optional project path) is valid if it can prefix a repository.
    try:
        ref = parse_reference(f"{registry}/x")
    except InvalidReferenceError as exc:
        raise InvalidReferenceError(f"{registry!r} is not a valid registry: {exc.message}",
                                    where=where) from None
    if ref.domain == DEFAULT_DOMAIN and not registry.startswith(DEFAULT_DOMAIN):
        raise InvalidReferenceError(f"{registry!r} is not a registry host (no dot, port or "
                                    "localhost)", where=where)


def _normalise_prefix(prefix: str, *, where: str) -> str:
    prefix = prefix.strip().rstrip("/")
    if not prefix:
        raise InvalidReferenceError("empty rewrite prefix", where=where)
    first, _, rest = prefix.partition("/")
    if first == LEGACY_DEFAULT_DOMAIN:
        prefix = f"{DEFAULT_DOMAIN}/{rest}" if rest else DEFAULT_DOMAIN
    elif not any(c in first for c in ".:") and first != "localhost":
        # A bare path such as `library` or `team/app` is a Docker Hub path.
        prefix = f"{DEFAULT_DOMAIN}/{prefix}"
    return prefix
