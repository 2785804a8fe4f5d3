"""The content-hash name suffix Kustomize gives generated ConfigMaps and Secrets.

sha256 over Go's `json.Marshal` of {kind, name: "", data[, binaryData]} (plus
`type` for Secrets), first ten hex digits, with the vowel-like digits swapped
for letters so the suffix never spells words.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

_SWAP = str.maketrans({"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"})


def go_json(value: Any) -> str:
    """json.Marshal output: sorted keys, no spaces, HTML-safe escapes."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): _scalar_text(v) for k, v in value.items()}


def _scalar_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return ""
    return str(v)


def hash_suffix(obj: dict[str, Any]) -> str:
    kind = obj.get("kind")
    encoded: dict[str, Any] = {"kind": kind, "name": "", "data": _string_map(obj.get("data"))}
    if kind == "ConfigMap":
        binary = _string_map(obj.get("binaryData"))
        if binary:
            encoded["binaryData"] = binary
    elif kind == "Secret":
        encoded["type"] = _scalar_text(obj.get("type"))
    else:
        encoded = obj
    digest = hashlib.sha256(go_json(encoded).encode("utf-8")).hexdigest()
    return digest[:10].translate(_SWAP)
