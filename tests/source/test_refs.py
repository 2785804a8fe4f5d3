"""Ref selection from one advertisement: branch, tag, semver range, commit."""

from __future__ import annotations

import pytest

from agent.errors import SourceError
from agent.source.refs import parse_advertisement, parse_ref, pick

ADVERT = "\n".join([
    "a" * 40 + "\tHEAD",
    "b" * 40 + "\trefs/heads/main",
    "c" * 40 + "\trefs/tags/v1.1.0",
    "d" * 40 + "\trefs/tags/v1.2.3",
    "e" * 40 + "\trefs/tags/v1.2.3^{}",
    "f" * 40 + "\trefs/tags/v1.9.0",
    "1" * 40 + "\trefs/tags/v2.0.0",
    "2" * 40 + "\trefs/tags/not-a-version",
])


@pytest.mark.parametrize(("ref", "commit", "refname"), [
    ("main", "b" * 40, "refs/heads/main"),
    ("v1.2.3", "e" * 40, "refs/tags/v1.2.3"),  # annotated tag peeled to its commit
    ("tags/v1.1.0", "c" * 40, "refs/tags/v1.1.0"),
    (">=1.2 <2", "f" * 40, "refs/tags/v1.9.0"),
    (">=1.2, <1.9", "e" * 40, "refs/tags/v1.2.3"),
    ("^1.1", "f" * 40, "refs/tags/v1.9.0"),
    ("~1.2", "e" * 40, "refs/tags/v1.2.3"),
    (">=1", "1" * 40, "refs/tags/v2.0.0"),
    ("refs/heads/main", "b" * 40, "refs/heads/main"),
    ("9" * 40, "9" * 40, None),
])
def test_pick_finds_the_named_commit(ref: str, commit: str, refname: str | None) -> None:
    target = pick(parse_ref(ref), parse_advertisement(ADVERT), where="t")
    assert (target.commit, target.refname) == (commit, refname)


@pytest.mark.parametrize(("ref", "message"), [
    ("release", "no branch or tag named 'release'"),
    (">=3", "no tag matches version range '>=3'"),
    ("tags/v9", "ref refs/tags/v9 not found"),
])
def test_pick_names_what_is_missing(ref: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        pick(parse_ref(ref), parse_advertisement(ADVERT), where="t")


def test_kinds() -> None:
    assert parse_ref("main").kind == "branch"
    assert parse_ref(">=1.2 <2").kind == "semver"
    assert parse_ref("0123456789abcdef0123456789abcdef01234567").kind == "commit"
    with pytest.raises(SourceError):
        parse_ref("  ")
