"""Node platforms: machine names, config strings, and picking an index entry."""

from __future__ import annotations

import pytest

from agent.images import InvalidPlatformError, Platform, host_platform, parse_platform
from agent.images._platform import normalize, select


@pytest.mark.parametrize(("machine", "expected"), [
    ("x86_64", "linux/amd64"), ("AMD64", "linux/amd64"), ("aarch64", "linux/arm64"),
    ("arm64", "linux/arm64"), ("armv7l", "linux/arm/v7"), ("armv6l", "linux/arm/v6"),
    ("armv5tel", "linux/arm/v5"), ("i686", "linux/386"), ("i386", "linux/386"),
    ("ppc64le", "linux/ppc64le"), ("s390x", "linux/s390x"), ("riscv64", "linux/riscv64"),
])
def test_machine_names(machine: str, expected: str) -> None:
    assert str(host_platform(machine, "linux")) == expected


def test_unknown_machine_asks_for_config() -> None:
    with pytest.raises(InvalidPlatformError, match="set `platform:`"):
        host_platform("pdp11", "linux")


@pytest.mark.parametrize(("text", "expected"), [
    ("linux/arm64", Platform("linux", "arm64")),
    ("linux/arm64/v8", Platform("linux", "arm64")),
    ("linux/aarch64", Platform("linux", "arm64")),
    ("linux/arm", Platform("linux", "arm", "v7")),
    ("linux/armhf", Platform("linux", "arm", "v7")),
    ("linux/armel", Platform("linux", "arm", "v6")),
    ("linux/arm/7", Platform("linux", "arm", "v7")),
    ("linux/x86_64", Platform("linux", "amd64")),
    ("Linux/AMD64/v1", Platform("linux", "amd64")),
    ("linux/amd64/v3", Platform("linux", "amd64", "v3")),
    ("arm64", Platform("linux", "arm64")),
])
def test_parse_normalises(text: str, expected: Platform) -> None:
    assert parse_platform(text) == expected


@pytest.mark.parametrize("text", ["", "linux/", "/amd64", "a/b/c/d", "linux"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidPlatformError, match="platform"):
        parse_platform(text)


def P(text: str) -> Platform:  # noqa: N802
    return parse_platform(text)


@pytest.mark.parametrize(("wanted", "offered", "picked"), [
    ("linux/arm64", ["linux/amd64", "linux/arm64/v8"], 1),
    ("linux/arm64/v8", ["linux/amd64", "linux/arm64"], 1),
    ("linux/amd64", ["linux/arm64", "linux/amd64"], 1),
    # An arm/v7 node runs v6 builds, preferring v7 when both exist.
    ("linux/arm/v7", ["linux/arm/v6", "linux/arm/v7"], 1),
    ("linux/arm/v7", ["linux/arm/v6", "linux/arm64"], 0),
    ("linux/arm/v6", ["linux/arm/v7"], None),
    # amd64/v3 runs the baseline build.
    ("linux/amd64/v3", ["linux/amd64"], 0),
    ("linux/amd64", ["linux/amd64/v3"], None),
    # Never across architectures or OSes.
    ("linux/arm64", ["linux/amd64"], None),
    ("linux/arm64", ["linux/arm/v7"], None),
    ("linux/amd64", ["windows/amd64", "linux/386"], None),
    ("linux/arm64", [], None),
])
def test_select(wanted: str, offered: list[str], picked: int | None) -> None:
    assert select(P(wanted), [P(o) for o in offered]) == picked


def test_normalise_keeps_unknown_names() -> None:
    assert normalize("unknown", "unknown") == Platform("unknown", "unknown")
