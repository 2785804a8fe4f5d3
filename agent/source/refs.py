"""Which commit a configured ref names, chosen from one ref advertisement.

`source.ref` may be a branch (`main`), a tag (`v1.4.0`), a semver range of
tags (`>=1.2 <2`), an exact commit (40 hex digits) or a full ref name
(`refs/heads/main`). Everything here is pure: the caller fetches the
advertisement (`git ls-remote`) once and asks `pick` which commit to sync.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from agent.errors import SourceError

RefKind = Literal["branch", "tag", "semver", "commit", "full"]

_COMMIT = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_RANGE_START = re.compile(r"^\s*(~=|==|!=|<=|>=|<|>|\^|~)")


@dataclass(frozen=True)
class RefSpec:
    kind: RefKind
    text: str


@dataclass(frozen=True)
class Target:
    """The commit to sync and the ref it came from (None for an exact commit)."""

    commit: str
    refname: str | None


def parse_ref(text: str) -> RefSpec:
    ref = text.strip()
    if not ref:
        raise SourceError("source.ref is empty")
    if _COMMIT.match(ref):
        return RefSpec("commit", ref)
    if ref.startswith("refs/"):
        return RefSpec("full", ref)
    if ref.startswith("tags/"):
        return RefSpec("tag", ref.removeprefix("tags/"))
    if _RANGE_START.match(ref) or "," in ref or ref == "*":
        return RefSpec("semver", ref)
    return RefSpec("branch", ref)


def wanted_patterns(spec: RefSpec) -> list[str]:
    """The ref names an advertisement must contain to answer `spec` (ls-remote patterns)."""
    if spec.kind == "commit":
        return []
    if spec.kind == "full":
        return [spec.text]
    if spec.kind == "semver":
        return ["refs/tags/*"]
    if spec.kind == "tag":
        return [f"refs/tags/{spec.text}", f"refs/tags/{spec.text}^{{}}"]
    # A bare name may be a branch or a tag; branches win, as in `git checkout NAME`.
    return [f"refs/heads/{spec.text}", f"refs/tags/{spec.text}", f"refs/tags/{spec.text}^{{}}"]


def parse_advertisement(text: str) -> dict[str, str]:
    """`git ls-remote` output -> {refname: commit}, peeled tags (`^{}`) resolved to commits."""
    refs: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in text.splitlines():
        sha, _, name = line.strip().partition("\t")
        if not name:
            continue
        if name.endswith("^{}"):
            peeled[name[:-3]] = sha
        else:
            refs[name] = sha
    refs.update(peeled)
    return refs


def pick(spec: RefSpec, refs: dict[str, str], *, where: str) -> Target:
    """The commit `spec` names among `refs`, or a SourceError saying what was there instead."""
    if spec.kind == "commit":
        return Target(spec.text, None)
    if spec.kind == "full":
        return _exact(spec.text, refs, where)
    if spec.kind == "tag":
        return _exact(f"refs/tags/{spec.text}", refs, where)
    if spec.kind == "branch":
        for name in (f"refs/heads/{spec.text}", f"refs/tags/{spec.text}"):
            if name in refs:
                return Target(refs[name], name)
        raise SourceError(f"no branch or tag named {spec.text!r} on the remote", where=where)
    return _best_version(spec.text, refs, where)


def _exact(name: str, refs: dict[str, str], where: str) -> Target:
    if name not in refs:
        raise SourceError(f"ref {name} not found on the remote", where=where)
    return Target(refs[name], name)


def _best_version(text: str, refs: dict[str, str], where: str) -> Target:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        spec = SpecifierSet(_normalise_range(text))
    except InvalidSpecifier as exc:
        raise SourceError(f"source.ref {text!r} is not a version range: {exc}",
                          where=where) from exc
    best: tuple[Version, str] | None = None
    for name in refs:
        if not name.startswith("refs/tags/"):
            continue
        tag = name.removeprefix("refs/tags/")
        try:
            version = Version(tag.removeprefix("v"))
        except InvalidVersion:
            continue
        if version in spec and (best is None or version > best[0]):
            best = (version, name)
    if best is None:
        raise SourceError(f"no tag matches version range {text!r}", where=where)
    return Target(refs[best[1]], best[1])


def _normalise_range(text: str) -> str:
    """npm-ish `>=1.2 <2`, `^1.2`, `~1.2` -> a PEP 440 specifier set `>=1.2,<2`."""
    if text.strip() == "*":
        return ""
    parts: list[str] = []
    for token in re.split(r"[\s,]+", text.strip()):
        if not token:
            continue
        if token.startswith("^"):
            v = token[1:].removeprefix("v")
            nums = [*(int(x) for x in v.split(".") if x.isdigit()), 0, 0]
            parts += [f">={v}", f"<{nums[0] + 1}" if nums[0] else f"<0.{nums[1] + 1}"]
        elif token.startswith("~") and not token.startswith("~="):
            v = token[1:].removeprefix("v")
            nums = [*(int(x) for x in v.split(".") if x.isdigit()), 0]
            parts += [f">={v}", f"<{nums[0]}.{nums[1] + 1}"]
        else:
            op = _RANGE_START.match(token)
            if op:
                parts.append(op.group(1) + token[op.end():].removeprefix("v"))
            else:
                parts.append("==" + token.removeprefix("v"))
    return ",".join(parts)
