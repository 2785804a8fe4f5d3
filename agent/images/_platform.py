"""Node platforms (`linux/arm64`, `linux/arm/v7`) and picking one from an image index.

Names are normalised as containerd's `platforms` package does (`aarch64` and
`arm64/v8` are `arm64`, `armhf` is `arm/v7`, `x86_64` is `amd64`, bare `arm`
is `arm/v7`), and an index entry matches if it is the node's platform or an
older variant of the same architecture the node can run (`arm/v7` runs
`arm/v6`; `amd64/v3` runs plain `amd64`). Other architectures never match,
even where a kernel could emulate them: an arm64 node is not handed a 32-bit
arm build silently.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from agent.images._errors import InvalidPlatformError

_KNOWN_OS = {"linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "illumos",
             "solaris", "aix", "android", "ios", "js", "wasip1", "plan9", "dragonfly"}

# `uname -m` values mapped to (architecture, variant).
_MACHINES: dict[str, tuple[str, str]] = {
    "x86_64": ("amd64", ""), "amd64": ("amd64", ""), "x86-64": ("amd64", ""),
    "aarch64": ("arm64", ""), "arm64": ("arm64", ""), "aarch64_be": ("arm64", ""),
    "armv8l": ("arm", "v8"), "armv7l": ("arm", "v7"), "armv7": ("arm", "v7"),
    "armv6l": ("arm", "v6"), "armv5tel": ("arm", "v5"), "armv5l": ("arm", "v5"),
    "i386": ("386", ""), "i486": ("386", ""), "i586": ("386", ""), "i686": ("386", ""),
    "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""), "riscv64": ("riscv64", ""),
    "mips64": ("mips64", ""), "mips64el": ("mips64le", ""), "loongarch64": ("loong64", ""),
}


@dataclass(frozen=True, order=True)
class Platform:
    """An OS/architecture/variant triple, always stored normalised."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


def normalize(os_name: str, architecture: str, variant: str = "") -> Platform:
    """The canonical spelling of a platform (see the module docstring)."""
    os_name = os_name.lower()
    if os_name == "macos":
        os_name = "darwin"
    arch = architecture.lower()
    variant = variant.lower()
    if arch in ("i386", "x86"):
        arch = "386"
    elif arch in ("x86_64", "x86-64", "amd64"):
        arch = "amd64"
        if variant == "v1":
            variant = ""
    elif arch in ("aarch64", "arm64"):
        arch = "arm64"
        if variant in ("8", "v8", "v8.0"):
            variant = ""
    elif arch == "armhf":
        arch, variant = "arm", "v7"
    elif arch == "armel":
        arch, variant = "arm", "v6"
    elif arch == "arm":
        if variant in ("", "7"):
            variant = "v7"
        elif variant in ("5", "6", "8"):
            variant = f"v{variant}"
    return Platform(os_name, arch, variant)


def parse_platform(text: str) -> Platform:
    """Parse `os/arch[/variant]` (or a bare architecture, meaning Linux)."""
    parts = text.strip().split("/")
    if any(not p for p in parts) or len(parts) > 3:
        raise InvalidPlatformError(f"invalid platform {text!r}: expected os/arch[/variant], "
                                   "e.g. linux/arm64")
    if len(parts) == 1:
        if parts[0].lower() in _KNOWN_OS:
            raise InvalidPlatformError(f"invalid platform {text!r}: name the architecture too, "
                                       f"e.g. {parts[0]}/amd64")
        return normalize("linux", parts[0])
    return normalize(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


def host_platform(machine: str | None = None, os_name: str | None = None) -> Platform:
    """The platform of this machine, from `uname -m` and the running OS."""
    machine = (machine if machine is not None else os.uname().machine).lower()
    os_name = os_name if os_name is not None else sys.platform
    if os_name.startswith("linux"):
        os_name = "linux"
    elif os_name.startswith("win"):
        os_name = "windows"
    try:
        arch, variant = _MACHINES[machine]
    except KeyError:
        raise InvalidPlatformError(f"unknown machine type {machine!r}; set `platform:` in the "
                                   "agent config, e.g. linux/arm64") from None
    return normalize(os_name, arch, variant)


def resolve_platform(configured: str | None) -> Platform:
    """The configured platform if any, else the machine's own."""
    return parse_platform(configured) if configured else host_platform()


def _variant_number(variant: str) -> int | None:
    digits = variant.removeprefix("v")
    return int(digits) if digits.isdigit() else None


def compatible(wanted: Platform) -> list[Platform]:
    """Platforms a node of `wanted` can run, best first (itself, then older variants)."""
    order = [wanted]
    number = _variant_number(wanted.variant)
    if wanted.architecture == "arm" and number is not None:
        order += [Platform(wanted.os, "arm", f"v{n}") for n in range(number - 1, 4, -1)]
    elif wanted.architecture in ("amd64", "arm64") and number is not None:
        # amd64 v2/v3/v4 run the baseline build, arm64 v9 runs v8; the baseline is "".
        floor = 2 if wanted.architecture == "amd64" else 9
        order += [Platform(wanted.os, wanted.architecture, f"v{n}")
                  for n in range(number - 1, floor - 1, -1)]
        order.append(Platform(wanted.os, wanted.architecture, ""))
    return order


def select(wanted: Platform, candidates: Sequence[Platform]) -> int | None:
    """Index of the best candidate for `wanted`, or None when none can run there."""
    for acceptable in compatible(wanted):
        for i, candidate in enumerate(candidates):
            if candidate == acceptable:
                return i
    return None
