"""Tokens: high-entropy random strings, stored only as their SHA-256.

A presented token is hashed and looked up by its hash. Whatever timing that
lookup leaks is about the hash of the guess, which tells an attacker nothing
about any stored token, so no secret is ever compared byte by byte.
"""

from __future__ import annotations

import hashlib
import secrets

COOKIE = "fleet_session"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512:
        return None
    return token
