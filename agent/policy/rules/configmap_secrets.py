"""`configmap-secrets`: no credentials in ConfigMaps.

ConfigMaps are readable by anyone who may read the namespace's config, printed by
`kubectl describe`, and copied into reports; credentials belong in Secrets. A value
is flagged when it looks like a private key or a well-known token format, or when
its key is secret-ish (`password`, `token`, `api_key`, ...) and the value is long
and random-looking. Keys inside embedded files (`app.properties`, YAML, .env) count
too. Messages name the key and what it looks like, never the value.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from agent.model import KubeObject
from agent.policy.model import Rule
from agent.policy.pods import mapping
from agent.tiers import Tier

_TOKEN_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{22,})")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("a JSON Web Token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[\w-]{8,}")),
    ("a Stripe secret key", re.compile(r"\b[rs]k_live_[A-Za-z0-9]{20,}")),
    ("credentials in a URL", re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]+:[^\s:/@]{3,}@")),
)

# One pass over a value finds every kind at once (values can be whole embedded files).
_ANY_TOKEN = re.compile("|".join(f"(?P<t{i}>{pattern.pattern})"
                                 for i, (_, pattern) in enumerate(_TOKEN_PATTERNS)))

_SECRET_KEY = re.compile(
    r"(pass(word|wd|phrase)?|pwd|secret|token|api[_.-]?key|apikey|access[_.-]?key|"
    r"private[_.-]?key|credential|auth|bearer|session[_.-]?key|signing[_.-]?key|"
    r"client[_.-]?secret|encryption[_.-]?key)",
    re.IGNORECASE,
)
# Settings *about* a secret (where it is, how long it lives) are not the secret.
_ABOUT_SECRET = re.compile(
    r"[_.-]?(file|path|dir|url|uri|endpoint|host|port|ttl|timeout|expiry|expires|mode|"
    r"enabled|header|name|type|method|provider|issuer|audience|realm|length|size)$",
    re.IGNORECASE,
)
# `key = value`, `key: value`, `export KEY="value"` lines inside an embedded file.
_ASSIGNMENT = re.compile(
    r"""^\s*(?:export\s+)?["']?(?P<key>[\w.-]+)["']?\s*[:=]\s*["']?(?P<value>[^\s"']+)["']?\s*,?\s*$"""
)
# Values that point at a secret rather than hold one.
_REFERENCE = re.compile(r"^(\$\{.*\}|\$\(.*\)|\{\{.*\}\}|<.*>|/\S*|file:.*|env:.*|vault:.*)$")

MIN_SECRET_LENGTH = 12
MIN_ENTROPY_BITS = 3.0  # per character; English words and config values sit below this


def shannon_entropy(text: str) -> float:
    """Bits per character of `text`'s own symbol distribution."""
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key)) and not _ABOUT_SECRET.search(key)


def _looks_random(value: str) -> bool:
    return (len(value) >= MIN_SECRET_LENGTH and not _REFERENCE.match(value)
            and "://" not in value and shannon_entropy(value) >= MIN_ENTROPY_BITS)


def findings(key: str, value: str) -> Iterator[str]:
    """What in one ConfigMap entry looks like a credential, as phrases naming where."""
    seen: list[str] = []
    for token in _ANY_TOKEN.finditer(value):
        what = _TOKEN_PATTERNS[int(str(token.lastgroup)[1:])][0]
        if what not in seen:
            seen.append(what)
            yield f"key {key!r} holds what looks like {what}"
    if seen:
        return
    if _secret_key(key) and _looks_random(value.strip()):
        yield f"key {key!r} has a secret-like name and a random-looking value"
        return
    for lineno, line in enumerate(value.splitlines(), start=1):
        match = _ASSIGNMENT.match(line)
        if match and _secret_key(match["key"]) and _looks_random(match["value"]):
            yield (f"key {key!r} line {lineno} sets {match['key']!r} to a random-looking "
                   "value")


def _entries(obj: KubeObject) -> Iterator[tuple[str, str]]:
    for key, value in mapping(obj.get("data")).items():
        if isinstance(value, str):
            yield str(key), value
    binary: Mapping[str, Any] = mapping(obj.get("binaryData"))
    for key, value in binary.items():
        try:
            text = base64.b64decode(str(value), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue  # really binary: nothing a text pattern could match
        yield str(key), text


def _check(obj: KubeObject, tier: Tier) -> Iterator[str]:
    if obj.get("kind") != "ConfigMap":
        return
    for key, value in _entries(obj):
        for finding in findings(key, value):
            yield f"{finding}; move it to a Secret"


RULE = Rule("configmap-secrets", "ConfigMaps hold no credentials (keys, tokens, passwords)",
            _check)
