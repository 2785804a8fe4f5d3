"""Safe YAML in and out for the renderer.

Loading follows YAML 1.2 core scalars (as Kustomize's YAML library does):
only `true`/`false` are booleans, no timestamps, no sexagesimal numbers, so
`on`, `yes` and `2024-01-01` stay strings. Anchors and aliases are allowed,
as Kustomize allows them, but every alias is expanded into its own copy and
the expansion is budgeted, so a "billion laughs" document fails fast instead
of eating the node's memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import yaml

from agent.errors import RenderError

MAX_FILE_BYTES = 8 * 1024 * 1024
# Nodes an alias-using document may expand to, beyond its own size in characters.
ALIAS_NODE_BUDGET = 200_000

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader with YAML 1.2 core implicit types."""


_Loader.yaml_implicit_resolvers = {}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+.0123456789"))
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                       r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_BOOLS = frozenset({"true", "True", "TRUE", "false", "False", "FALSE"})
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


def _fast_resolve(self: Any, kind: Any, value: Any, implicit: Any) -> str:
    """The same answers as the implicit resolvers above, without the generic machinery."""
    if kind is yaml.ScalarNode:
        if not implicit[0]:
            return "tag:yaml.org,2002:str"
        if value in _NULLS:
            return "tag:yaml.org,2002:null"
        first = value[0]
        if first in "tTfF" and value in _BOOLS:
            return "tag:yaml.org,2002:bool"
        if first in "-+.0123456789":
            if _INT_RE.match(value):
                return "tag:yaml.org,2002:int"
            if _FLOAT_RE.match(value):
                return "tag:yaml.org,2002:float"
        if value == "<<":
            return "tag:yaml.org,2002:merge"
        return "tag:yaml.org,2002:str"
    if kind is yaml.SequenceNode:
        return "tag:yaml.org,2002:seq"
    return "tag:yaml.org,2002:map"


_Loader.resolve = _fast_resolve


def _construct_int(loader: Any, node: Any) -> int:
    text = str(loader.construct_scalar(node)).replace("_", "")
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
# Explicitly tagged timestamps stay text, like every other scalar Kustomize passes through.
_Loader.add_constructor("tag:yaml.org,2002:timestamp",
                        lambda loader, node: loader.construct_scalar(node))


class _Dumper(_BaseDumper):  # type: ignore[misc]
    """Block style, multi-line strings as literal blocks, insertion key order."""


def _represent_str(dumper: Any, data: str) -> Any:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _represent_str)


_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"


def _float(text: str) -> float:
    low = text.lower()
    if low.endswith(".inf"):
        return float("-inf") if low.startswith("-") else float("inf")
    if low == ".nan":
        return float("nan")
    return float(text.replace("_", ""))


def _convert(node: Any, budget: list[int], where: str) -> Any:
    """Composed node -> plain data. An alias is the same node object seen again, so it is
    expanded into a copy each time, and every node counts against the budget."""
    budget[0] -= 1
    if budget[0] < 0:
        raise RenderError("YAML aliases expand beyond the allowed size (alias bomb?)",
                          where=where)
    cls = node.__class__
    if cls is yaml.ScalarNode:
        tag, value = node.tag, node.value
        if tag == _STR:
            return value
        if tag == _INT:
            text = value.replace("_", "")
            if text.startswith("0o"):
                return int(text[2:], 8)
            if text.startswith("0x"):
                return int(text[2:], 16)
            return int(text, 10)
        if tag == _BOOL:
            return value in ("true", "True", "TRUE")
        if tag == _NULL:
            return None
        if tag == _FLOAT:
            return _float(value)
        return value
    if cls is yaml.SequenceNode:
        return [_convert(item, budget, where) for item in node.value]
    out: dict[Any, Any] = {}
    merged: list[dict[Any, Any]] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE and key_node.__class__ is yaml.ScalarNode:
            # `<<: *base` (or a list of them): the explicit keys win, then earlier maps.
            value = _convert(value_node, budget, where)
            maps = value if isinstance(value, list) else [value]
            if not all(isinstance(m, dict) for m in maps):
                raise RenderError("a merge key (<<) needs a mapping or a list of mappings",
                                  where=where)
            merged.extend(maps)
            continue
        key = _convert(key_node, budget, where)
        if isinstance(key, (dict, list)):
            raise RenderError("a mapping key must be a scalar", where=where)
        out[key] = _convert(value_node, budget, where)
    if merged:
        base: dict[Any, Any] = {}
        for m in reversed(merged):
            base.update(m)
        base.update(out)
        return base
    return out


def load_all(text: str, where: str) -> list[Any]:
    """Parse every document of a YAML stream; empty documents are dropped."""
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
        budget = [ALIAS_NODE_BUDGET + len(text)]
        docs = [_convert(n, budget, where) for n in nodes if n is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise RenderError(f"malformed YAML{at}: {problem}", where=where) from None
    except (RecursionError, ValueError) as exc:
        raise RenderError(f"cannot read YAML: {exc}", where=where) from None
    return [d for d in docs if d is not None]


def load_one(text: str, where: str) -> Any:
    docs = load_all(text, where)
    if not docs:
        return None
    if len(docs) > 1:
        raise RenderError("expected a single YAML document", where=where)
    return docs[0]


def dump_all(docs: list[Any]) -> str:
    if not docs:
        return ""
    from agent.render.emit import dump_documents

    return dump_documents(docs)


def dump_all_pyyaml(docs: list[Any]) -> str:
    """PyYAML's writer (kept as the reference the fast writer is tested against)."""
    if not docs:
        return ""
    out: str = yaml.dump_all(docs, Dumper=_Dumper, default_flow_style=False,
                             sort_keys=False, allow_unicode=True, width=1 << 30)
    return out.removeprefix("---\n") if out.startswith("---\n") else out


def deep_copy(value: Any) -> Any:
    """Copy JSON-like data (faster than copy.deepcopy for plain dicts/lists)."""
    if isinstance(value, dict):
        return {k: deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [deep_copy(v) for v in value]
    return value


Copier = Callable[[Any], Any]
