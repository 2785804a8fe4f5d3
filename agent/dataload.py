"""Build frozen dataclasses from parsed YAML, naming the offending key on error.

A small strict loader: unknown keys, wrong types and missing required keys
are all errors that carry the dotted path of the key (`source.auth.username`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from agent.errors import ConfigError

T = TypeVar("T")

_NONE = type(None)


def load_dataclass(cls: type[T], data: Any, *, path: str = "", where: str | None = None) -> T:
    """Return `cls(**data)` after checking every key and value against `cls`'s hints."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or 'document'} must be a mapping, got {type(data).__name__}",
                          where=where)
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        keys = ", ".join(_join(path, k) for k in unknown)
        raise ConfigError(f"unknown key {keys}", where=where)
    values: dict[str, Any] = {}
    for name, f in fields.items():
        key = _join(path, name)
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"missing required key {key}", where=where)
            continue
        values[name] = _convert(hints[name], data[name], key, where)
    return cls(**values)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _convert(hint: Any, value: Any, key: str, where: str | None) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        args = get_args(hint)
        if value is None and _NONE in args:
            return None
        errors: list[str] = []
        for arg in args:
            if arg is _NONE:
                continue
            try:
                return _convert(arg, value, key, where)
            except ConfigError as exc:
                errors.append(exc.message)
        raise ConfigError(errors[0] if errors else f"{key} has an invalid value", where=where)
    if origin is typing.Literal:
        allowed = get_args(hint)
        if value not in allowed:
            choices = ", ".join(repr(a) for a in allowed)
            raise ConfigError(f"{key} must be one of {choices}, got {value!r}", where=where)
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(f"{key} must be a list, got {type(value).__name__}", where=where)
        (item,) = get_args(hint)[:1]
        return tuple(_convert(item, v, f"{key}[{i}]", where) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a mapping", where=where)
        _, vt = get_args(hint)
        return {str(k): _convert(vt, v, f"{key}.{k}", where) for k, v in value.items()}
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return load_dataclass(hint, value, path=key, where=where)
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(f"{key} must be {hint.__name__}, got {type(value).__name__}",
                          where=where)
    if hint is int and isinstance(value, bool):
        raise ConfigError(f"{key} must be int, got bool", where=where)
    return value


def parse_duration(text: str | int | float, *, key: str = "duration") -> float:
    """`30s`, `5m`, `1h`, `1h30m`, `250ms` or a bare number of seconds -> seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
    s = str(text).strip()
    total, number = 0.0, ""
    i = 0
    if not s:
        raise ConfigError(f"{key} is empty")
    while i < len(s):
        ch = s[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if s.startswith("ms", i) else ch
        if unit not in units or not number:
            raise ConfigError(f"{key}: cannot read duration {text!r} (use e.g. 30s, 5m, 1h)")
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        total += float(number)
    return total
