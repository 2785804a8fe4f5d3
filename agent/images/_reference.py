"""Image references, parsed and normalised the way the container ecosystem does it.

The grammar is the one of distribution's `reference` package (what Docker,
containerd and the kubelet accept):

    reference      := name [ ":" tag ] [ "@" digest ]
    name           := [domain "/"] path-component ["/" path-component]*
    domain         := host [":" port]          host: DNS name or [IPv6]
    path-component := [a-z0-9]+ (separator [a-z0-9]+)*   separator: . _ __ or dashes
    tag            := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
    digest         := algorithm ":" hex{32,}   (sha256/sha384/sha512 checked strictly)

Normalisation follows `ParseNormalizedNamed`: a first component without a dot,
a colon, uppercase and that is not `localhost` is a Docker Hub path, so
`busybox` becomes `docker.io/library/busybox` and `index.docker.io` becomes
`docker.io`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from agent.images._errors import InvalidReferenceError

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
NAME_TOTAL_LENGTH_MAX = 255
DEFAULT_TAG = "latest"

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = rf"(?:{_DOMAIN_NAME}|{_IPV6})(?::[0-9]+)?"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH}"
# Go's \w is ASCII-only; spell it out so Python's Unicode \w does not widen the grammar.
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE_RE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?")
_NAME_RE = re.compile(rf"(?:({_DOMAIN})/)?({_PATH})")
_TAG_RE = re.compile(_TAG)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")

# Algorithms go-digest knows, with the length of their lowercase hex encoding.
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}
_LOWER_HEX_RE = re.compile(r"[a-f0-9]+")


@dataclass(frozen=True, order=True)
class ImageRef:
    """A parsed reference: `domain/path[:tag][@digest]`.

    `domain` is empty only for references parsed without normalisation.
    """

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """`domain/path` (the repository name as registries and the kubelet see it)."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def repository(self) -> str:
        """The path part, as it appears in `/v2/<repository>/manifests/...`."""
        return self.path

    @property
    def manifest_reference(self) -> str:
        """What to ask the registry for: the digest if pinned, else the tag (`latest` default)."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def familiar(self) -> str:
        """The short form Docker prints (`busybox:1.36` for `docker.io/library/busybox:1.36`)."""
        name = self.name
        # Keep `docker.io/` where dropping it would make the first path component read
        # as a host (`docker.io/my.org/app`), so the short form parses back to the same.
        if self.domain == DEFAULT_DOMAIN and split_docker_domain(self.path)[0] == DEFAULT_DOMAIN:
            name = self.path
            rest = name.removeprefix(OFFICIAL_PREFIX)
            if rest != name and "/" not in rest:
                name = rest
        return _format(name, self.tag, self.digest)

    def with_digest(self, digest: str) -> ImageRef:
        """The pinned form `name@digest` (the tag is dropped: the digest is what runs)."""
        return replace(self, tag=None, digest=_check_digest(digest, digest))

    def with_name(self, name: str) -> ImageRef:
        """The same tag/digest under another (already valid) repository name."""
        moved = parse_reference(name)
        return replace(self, domain=moved.domain, path=moved.path)

    def __str__(self) -> str:
        return _format(self.name, self.tag, self.digest)


def _format(name: str, tag: str | None, digest: str | None) -> str:
    text = name
    if tag:
        text += f":{tag}"
    if digest:
        text += f"@{digest}"
    return text


def split_docker_domain(name: str) -> tuple[str, str]:
    """Split a familiar name into (domain, remainder) with Docker Hub defaults applied."""
    first, slash, rest = name.partition("/")
    if not slash or (not any(c in first for c in ".:") and first != "localhost"
                     and first.lower() == first):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_PREFIX + remainder
    return domain, remainder


def parse_reference(text: str, *, normalize: bool = True) -> ImageRef:
    """Parse `text` as an image reference; normalised (Docker Hub defaults) unless told not to.

    Raises `InvalidReferenceError` naming the reference and what is wrong with it.
    """
    if not isinstance(text, str):
        raise InvalidReferenceError(f"image reference must be a string, got {type(text).__name__}")
    if not text:
        raise InvalidReferenceError("image reference is empty")
    if not normalize:
        return _parse(text, text)
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidReferenceError("a 64-character hexadecimal string is an image ID, not a "
                                    "reference; name the repository", where=text)
    domain, remainder = split_docker_domain(text)
    remote_name = remainder.split(":", 1)[0]
    if remote_name.lower() != remote_name:
        raise InvalidReferenceError("repository name must be lowercase", where=text)
    ref = _parse(f"{domain}/{remainder}", text)
    return ref


def _parse(text: str, original: str) -> ImageRef:
    match = _REFERENCE_RE.fullmatch(text)
    if match is None:
        if not text:
            raise InvalidReferenceError("image reference is empty")
        if _REFERENCE_RE.fullmatch(text.lower()):
            raise InvalidReferenceError("repository name must be lowercase", where=original)
        raise InvalidReferenceError("invalid reference format", where=original)
    name, tag, digest = match.group(1), match.group(2), match.group(3)
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReferenceError(f"repository name is longer than {NAME_TOTAL_LENGTH_MAX} "
                                    "characters", where=original)
    name_match = _NAME_RE.fullmatch(name)
    assert name_match is not None  # the name matched as part of the whole reference
    domain = name_match.group(1) or ""
    path = name_match.group(2)
    return ImageRef(domain=domain, path=path, tag=tag,
                    digest=_check_digest(digest, original) if digest else None)


def _check_digest(digest: str, where: str) -> str:
    algorithm, sep, encoded = digest.partition(":")
    if not sep or not algorithm or not encoded:
        raise InvalidReferenceError(f"invalid digest {digest!r}", where=where)
    length = _DIGEST_HEX_LENGTH.get(algorithm)
    if length is None:
        raise InvalidReferenceError(f"unsupported digest algorithm {algorithm!r}", where=where)
    if len(encoded) != length:
        raise InvalidReferenceError(f"{algorithm} digest must have {length} hex characters, "
                                    f"got {len(encoded)}", where=where)
    if not _LOWER_HEX_RE.fullmatch(encoded):
        raise InvalidReferenceError(f"{algorithm} digest must be lowercase hex", where=where)
    return digest


def is_valid_tag(tag: str) -> bool:
    return _TAG_RE.fullmatch(tag) is not None


def check_digest(digest: str) -> str:
    """Return `digest` if it is a well-formed, supported digest; else `InvalidReferenceError`."""
    return _check_digest(digest, digest)
