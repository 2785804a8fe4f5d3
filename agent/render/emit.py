"""A small block-style YAML writer for rendered objects (plain dicts, lists, scalars).

Faster than PyYAML's representer for the shapes Kubernetes objects have, and
careful with quoting: any string a YAML 1.1 or 1.2 reader could take for a
number, boolean, null or date, or that holds an indicator, is double-quoted
(JSON string syntax, which YAML accepts); multi-line text becomes a literal block.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./:@=+-]*")
# Everything a YAML 1.1 (kubectl, PyYAML) or 1.2 reader resolves to a non-string.
_NOT_A_STRING = re.compile(r"""
    (?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF
     |~|null|Null|NULL
     |[-+]?(?:0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*(?::[0-5]?[0-9])*)
     |[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
     |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
     |[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*
     |<<|=)
""", re.VERBOSE)


# Escaped inside double quotes: non-printables, and line separators YAML would fold.
_ESCAPE = re.compile("[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd"
                     "\U00010000-\U0010ffff]")


def _quoted(text: str) -> str:
    out = json.dumps(text, ensure_ascii=False)
    return _ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", out)


def _string(text: str) -> str:
    if _PLAIN.fullmatch(text) and not text.endswith(":") and not _NOT_A_STRING.fullmatch(text):
        return text
    return _quoted(text)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return _string(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text and "." not in text:
            text = text.replace("e", ".0e")
        return text
    return _string(str(value))


def _block(text: str, indent: str) -> str | None:
    """`|` literal block for multi-line text, or None when one would not round-trip."""
    if "\r" in text or _ESCAPE.search(text):
        return None
    lines = text.split("\n")
    body = lines[:-1] if text.endswith("\n") else lines
    if any(line != line.rstrip(" \t") for line in body) or "\t" in text:
        return None
    if body and body[0].startswith(" "):
        return None
    if text.endswith("\n\n") or not any(body):
        return None
    chomp = "" if text.endswith("\n") else "-"
    inner = indent + "  "
    return "|" + chomp + "\n" + "\n".join(inner + line if line else "" for line in body)


def _value(value: Any, indent: str, out: list[str]) -> None:
    """Append the text after `key:` (or `-`) for `value` nested at `indent`."""
    if isinstance(value, dict):
        if not value:
            out.append(" {}\n")
            return
        out.append("\n")
        _mapping(value, indent, out)
    elif isinstance(value, list):
        if not value:
            out.append(" []\n")
            return
        out.append("\n")
        _sequence(value, indent, out)
    elif isinstance(value, str) and "\n" in value:
        block = _block(value, indent)
        out.append(" " + (block if block is not None else _quoted(value)) + "\n")
    else:
        out.append(" " + _scalar(value) + "\n")


def _mapping(obj: dict[Any, Any], indent: str, out: list[str], first: str | None = None) -> None:
    for i, (key, value) in enumerate(obj.items()):
        prefix = first if (first is not None and i == 0) else indent
        out.append(prefix + _scalar(key) + ":")
        _value(value, indent + "  ", out)


def _sequence(items: list[Any], indent: str, out: list[str]) -> None:
    for item in items:
        if isinstance(item, dict) and item:
            _mapping(item, indent + "  ", out, first=indent + "- ")
        elif isinstance(item, list) and item:
            out.append(indent + "-\n")
            _sequence(item, indent + "  ", out)
        else:
            out.append(indent + "-")
            _value(item, indent + "  ", out)


def dump_documents(docs: list[Any]) -> str:
    out: list[str] = []
    for i, doc in enumerate(docs):
        if i:
            out.append("---\n")
        if isinstance(doc, dict) and doc:
            _mapping(doc, "", out)
        else:
            out.append(_scalar(doc) if not isinstance(doc, (dict, list)) else json.dumps(doc))
            out.append("\n")
    return "".join(out)
