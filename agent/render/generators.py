"""configMapGenerator / secretGenerator: build the objects from literals, files and env files."""

from __future__ import annotations

import base64
import os
import re
from typing import Any

from agent.errors import RenderError
from agent.render.loader import Loader
from agent.render.resource import Res

_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")
_ARG_FIELDS = {"name", "namespace", "behavior", "literals", "files", "envs", "env", "options",
               "type", "kvSources"}
_OPTION_FIELDS = {"labels", "annotations", "disableNameSuffixHash", "immutable"}


def _check_options(opts: Any, where: str, field: str) -> dict[str, Any]:
    if opts is None:
        return {}
    if not isinstance(opts, dict):
        raise RenderError(f"{field} must be a mapping", where=where)
    unknown = set(opts) - _OPTION_FIELDS
    if unknown:
        raise RenderError(f"{field}: unknown field(s) {sorted(map(str, unknown))}", where=where)
    return opts


def merge_options(local: Any, global_opts: Any, where: str) -> dict[str, Any]:
    """Kustomize's MergeGlobalOptionsIntoLocal: local labels/annotations win, flags OR."""
    loc = dict(_check_options(local, where, "options"))
    glob = _check_options(global_opts, where, "generatorOptions")
    for key in ("labels", "annotations"):
        if glob.get(key):
            merged = dict(glob[key])
            merged.update(loc.get(key) or {})
            loc[key] = merged
    for flag in ("disableNameSuffixHash", "immutable"):
        if glob.get(flag):
            loc[flag] = True
    return loc


def _strip_quotes(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _env_pairs(text: str, where: str) -> list[tuple[str, str]]:
    pairs = []
    text = text.removeprefix("\ufeff")
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if re.search(r"\s", key):
            raise RenderError(f"line {lineno}: key {key!r} has whitespace", where=where)
        if not sep:
            # Kustomize reads a bare KEY from the environment; a node must not, so we
            # refuse rather than render something that depends on the agent's env.
            raise RenderError(f"line {lineno}: {key!r} has no '=' (values from the "
                              "process environment are not supported)", where=where)
        pairs.append((key, value))
    return pairs


def generate(kind: str, args: Any, global_opts: Any, loader: Loader, *,
             field: str) -> Res:
    """One generated ConfigMap or Secret, marked for the hash suffix unless disabled."""
    where = loader.kust_where()
    if not isinstance(args, dict):
        raise RenderError(f"{field} entries must be mappings", where=where)
    unknown = set(map(str, args)) - _ARG_FIELDS - ({"type"} if kind == "Secret" else set())
    if kind != "Secret":
        unknown |= {"type"} & set(args)
    if unknown:
        raise RenderError(f"{field}: unknown field(s) {sorted(unknown)}", where=where)
    if "kvSources" in args:
        raise RenderError(f"{field}.kvSources: KV source plugins are not supported",
                          where=where)
    name = str(args.get("name") or "")
    if not name:
        raise RenderError(f"{field}: a generator needs a name", where=where)
    what = f"{field}[{name}]"
    behavior = str(args.get("behavior") or "create")
    if behavior not in ("create", "merge", "replace"):
        raise RenderError(f"{what}.behavior must be create, merge or replace, got "
                          f"{behavior!r}", where=where)
    opts = merge_options(args.get("options"), global_opts, where)

    text: dict[str, str] = {}
    binary: dict[str, str] = {}

    def put(key: str, value: str | bytes, source: str) -> None:
        if not _KEY_RE.match(key) or key in (".", "..") or key.startswith(".."):
            raise RenderError(f"{what}: {key!r} is not a valid key name (from {source})",
                              where=where)
        if key in text or key in binary:
            raise RenderError(f"{what}: key {key!r} appears more than once (from {source})",
                              where=where)
        if isinstance(value, bytes):
            try:
                text[key] = value.decode("utf-8")
            except UnicodeDecodeError:
                binary[key] = base64.b64encode(value).decode("ascii")
        else:
            text[key] = value

    env_files = list(args.get("envs") or [])
    if args.get("env"):
        env_files.append(args["env"])
    for env_file in env_files:
        content = loader.read_text(str(env_file), what=f"{what}.envs")
        for key, value in _env_pairs(content, loader.rel(loader.dir / str(env_file))):
            put(key, value, str(env_file))
    for lit in args.get("literals") or []:
        key, sep, value = str(lit).partition("=")
        if not sep:
            raise RenderError(f"{what}.literals: {lit!r} is not key=value", where=where)
        put(key, _strip_quotes(value), "literals")
    for raw in args.get("files") or []:
        entry = str(raw)
        key, sep, path = entry.partition("=")
        if not sep:
            key, path = os.path.basename(entry), entry
        elif not key:
            raise RenderError(f"{what}.files: {entry!r} has an empty key", where=where)
        put(key, loader.read_bytes(path, what=f"{what}.files"), path)

    meta: dict[str, Any] = {"name": name}
    if args.get("namespace"):
        meta["namespace"] = str(args["namespace"])
    if opts.get("labels"):
        meta["labels"] = {str(k): str(v) for k, v in opts["labels"].items()}
    if opts.get("annotations"):
        meta["annotations"] = {str(k): str(v) for k, v in opts["annotations"].items()}
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": meta}
    if kind == "Secret":
        data = {k: base64.b64encode(v.encode("utf-8")).decode("ascii") for k, v in text.items()}
        data.update(binary)
        if data:
            obj["data"] = data
        obj["type"] = str(args.get("type") or "Opaque")
    else:
        if text:
            obj["data"] = text
        if binary:
            obj["binaryData"] = binary
    if opts.get("immutable"):
        obj["immutable"] = True
    res = Res(obj)
    res.behavior = behavior
    res.needs_hash = not opts.get("disableNameSuffixHash")
    return res
