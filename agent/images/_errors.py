"""The images stage's errors: one tree under `agent.errors.ImageError`.

Callers that only care whether an image is usable catch `ImageError`; the
pre-flight and the CLI read the subclass to say *why* in one short phrase.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.errors import ImageError


class InvalidReferenceError(ImageError):
    """A string is not a valid image reference (grammar, case, length)."""


class InvalidPlatformError(ImageError):
    """A platform string such as `linux/arm64/v8` could not be understood."""


class RegistryError(ImageError):
    """Talking to a registry failed; `reason` is the short phrase reports show."""

    reason = "registry error"


class RegistryUnreachableError(RegistryError):
    """No HTTP answer at all: connection refused, DNS, TLS, timeout."""

    reason = "registry unreachable"


class UnauthorizedError(RegistryError):
    """The registry answered 401: no credentials, or they were rejected."""

    reason = "unauthorized (401)"


class ForbiddenError(RegistryError):
    """The registry answered 403: the credentials lack pull access."""

    reason = "forbidden (403)"


class RateLimitedError(RegistryError):
    """The registry kept answering 429 (or asked us to wait too long)."""

    reason = "rate limited (429)"


class ManifestUnknownError(RegistryError):
    """The tag, digest or repository does not exist (404)."""

    reason = "no such tag"


class ManifestInvalidError(RegistryError):
    """The registry returned something that is not a usable manifest."""

    reason = "invalid manifest"


class ManifestTooLargeError(ManifestInvalidError):
    """A manifest or config blob is larger than the configured limit."""

    reason = "manifest too large"


class DigestMismatchError(RegistryError):
    """Downloaded bytes do not hash to the digest the registry or the reference named."""

    reason = "digest mismatch"


class PlatformNotFoundError(ImageError):
    """The image exists but has no manifest for the node's platform."""

    reason = "no manifest for platform"


@dataclass(frozen=True)
class ImageFailure:
    """One image that failed pre-flight, and where the bundle uses it."""

    image: str
    reason: str
    detail: str
    used_by: tuple[str, ...] = ()

    def describe(self) -> str:
        users = f" (used by {', '.join(self.used_by)})" if self.used_by else ""
        return f"{self.image}: {self.reason}: {self.detail}{users}"


class PreflightError(ImageError):
    """Some images of a bundle do not resolve for this node; lists every one of them."""

    def __init__(self, failures: tuple[ImageFailure, ...], *, platform: str, total: int):
        self.failures = failures
        self.platform = platform
        lines = "\n".join(f"  - {f.describe()}" for f in failures)
        super().__init__(
            f"{len(failures)} of {total} image(s) cannot be resolved for {platform}:\n{lines}",
            where="images pre-flight",
            action="revision rejected, nothing applied",
        )


def reason_of(exc: ImageError) -> str:
    """The short phrase naming what kind of failure `exc` is."""
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, str) else "invalid image"
