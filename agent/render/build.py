"""Building one kustomization: accumulate resources, generate, transform.

The order of steps is Kustomize's (kusttarget.go): resources, configurations
and CRDs, generators, components, builtin transformers in their fixed order,
plugin transformers, vars. The steps that must see the whole tree (hash
suffixes, name references, var substitution) run once at the top, in render().
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import RenderError
from agent.render import plugins
from agent.render.fieldspec import TransformerConfig, default_config, parse_config
from agent.render.generators import generate
from agent.render.kustfile import load_kustomization
from agent.render.loader import Loader
from agent.render.resource import Res
from agent.render.vars import Var, bind_vars, parse_vars
from agent.render.yamlio import load_all


@dataclass
class Accumulator:
    resources: list[Res] = field(default_factory=list)
    config: TransformerConfig = field(default_factory=default_config)
    vars: dict[str, Var] = field(default_factory=dict)

    def append_all(self, new: list[Res], where: str) -> None:
        seen = {r.key() for r in self.resources}
        for res in new:
            key = res.key()
            if key in seen:
                raise RenderError(f"may not add resource with an already registered id: "
                                  f"{res.cur_id()}", where=where)
            seen.add(key)
            self.resources.append(res)

    def merge(self, other: Accumulator, where: str) -> None:
        self.append_all(other.resources, where)
        self.config.merge(other.config)
        for name, var in other.vars.items():
            if name in self.vars:
                raise RenderError(f"var {name!r} already encountered", where=where)
            self.vars[name] = var

    def absorb(self, new: list[Res], where: str) -> None:
        """Add generated objects, honouring behavior create / merge / replace."""
        for res in new:
            key = res.key()
            matches = [r for r in self.resources
                       if r.key() == key or any(i.key == key for i in r.prev)]
            if not matches:
                if res.behavior in ("merge", "replace"):
                    raise RenderError(f"{res.cur_id()} does not exist; cannot merge or "
                                      "replace", where=where)
                self.append_all([res], where)
                continue
            if len(matches) > 1:
                raise RenderError(f"found multiple objects that could accept merge of "
                                  f"{res.cur_id()}", where=where)
            old = matches[0]
            if res.behavior not in ("merge", "replace"):
                raise RenderError(f"{res.cur_id()} exists; behavior must be merge or replace",
                                  where=where)
            _merge_generated(res, old)
            self.resources[self.resources.index(old)] = res


def _merge_generated(new: Res, old: Res) -> None:
    new_meta, old_meta = new.meta, old.meta
    for key in ("labels", "annotations"):
        merged = dict(old_meta.get(key) or {})
        merged.update(new_meta.get(key) or {})
        if merged:
            new_meta[key] = merged
    new_meta["name"] = old.name
    if old.namespace:
        new_meta["namespace"] = old.namespace
    else:
        new_meta.pop("namespace", None)
    if new.behavior == "merge":
        for key in ("data", "binaryData"):
            merged = dict(old.obj.get(key) or {})
            merged.update(new.obj.get(key) or {})
            if merged:
                new.obj[key] = merged
    hashed = new.needs_hash and old.needs_hash
    new.copy_bookkeeping_from(old)
    # Either generator disabling the suffix disables it (as kubectl renders it).
    new.needs_hash = hashed


@dataclass
class Context:
    """State shared by the whole build: options from the top kustomization."""

    origin_annotations: bool = False
    top: str = ""

    def origin_path(self, path: Path) -> str:
        """A path as Kustomize's origin annotation writes it: relative to the top dir."""
        return os.path.relpath(path, self.top) if self.top else str(path)


def build_dir(loader: Loader, ctx: Context) -> tuple[Accumulator, dict[str, Any]]:
    kust, where = load_kustomization(loader)
    if kust["kind"] == "Component":
        raise RenderError("a Component cannot be built or used as a resource; list it under "
                          "components:", where=where)
    loader = Loader(loader.dir, loader.repo, loader.ancestors, where)
    acc = Accumulator()
    accumulate(kust, loader, acc, ctx)
    return acc, kust


def accumulate(kust: dict[str, Any], loader: Loader, acc: Accumulator, ctx: Context) -> None:
    where = loader.kust_where()
    batch: list[Res] = []  # consecutive files are appended at once: one id index, not n
    for entry in kust["resources"]:
        loaded = load_resource_entry(str(entry), loader, ctx, "resources")
        if isinstance(loaded, Accumulator):
            acc.append_all(batch, where)
            batch = []
            acc.merge(loaded, where)
        else:
            batch.extend(loaded)
    acc.append_all(batch, where)
    for name in kust["configurations"]:
        cwhere = loader.rel(loader.dir / str(name))
        for doc in load_all(loader.read_text(str(name), what="configurations"), cwhere):
            acc.config.merge(parse_config(doc, cwhere))
    for name in kust["crds"]:
        from agent.render.crds import config_from_crd
        cwhere = loader.rel(loader.dir / str(name))
        for doc in load_all(loader.read_text(str(name), what="crds"), cwhere):
            acc.config.merge(config_from_crd(doc, cwhere))
    run_generators(kust, loader, acc, ctx)
    for entry in kust["components"]:
        child = loader.child(str(entry), what="components")
        ckust, cwhere = load_kustomization(child)
        if ckust["kind"] != "Component":
            raise RenderError(f"components: {entry!r} is a {ckust['kind']}, expected kind "
                              "Component", where=where)
        accumulate(ckust, Loader(child.dir, child.repo, child.ancestors, cwhere), acc, ctx)
    acc.resources = plugins.run_builtin_transformers(kust, loader, acc)
    for config in plugins.load_plugin_configs(kust["transformers"], loader, ctx,
                                              "transformers"):
        acc.resources = plugins.run_transformer_plugin(config, loader, acc)
    if kust["vars"]:
        bind_vars(acc.resources, parse_vars(kust["vars"], where), acc.vars, where)


def run_generators(kust: dict[str, Any], loader: Loader, acc: Accumulator,
                   ctx: Context) -> None:
    where = loader.kust_where()
    opts = kust.get("generatorOptions")
    for kind, key in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for args in kust[key]:
            res = generate(kind, args, opts, loader, field=key)
            if ctx.origin_annotations:
                res.origin = (f"configuredIn: {ctx.origin_path(loader.dir / _kfile(where))}\n"
                              f"configuredBy:\n  apiVersion: builtin\n  kind: {kind}Generator\n")
            acc.absorb([res], where)
    for config in plugins.load_plugin_configs(kust["generators"], loader, ctx, "generators"):
        acc.absorb(plugins.run_generator_plugin(config, loader), where)


def _kfile(where: str) -> str:
    return where.rsplit("/", 1)[-1]


def load_resource_entry(entry: str, loader: Loader, ctx: Context,
                        what: str) -> list[Res] | Accumulator:
    """A `resources:` entry: a file of objects, or a kustomization directory."""
    if loader.is_file_candidate(entry):
        text = loader.read_text(entry, what=what)
        fwhere = loader.rel(loader.dir / entry)
        out = []
        for obj in objects_from_docs(load_all(text, fwhere), fwhere):
            origin = f"path: {ctx.origin_path(loader.dir / entry)}\n" \
                if ctx.origin_annotations else None
            out.append(Res(obj, origin))
        return out
    child = loader.child(entry, what=what)
    sub, _ = build_dir(child, ctx)
    return sub


def objects_from_docs(docs: list[Any], where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for doc in docs:
        if not isinstance(doc, dict):
            raise RenderError(f"expected a Kubernetes object (a mapping), got "
                              f"{type(doc).__name__}", where=where)
        kind = doc.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"),
                                                                           list):
            out.extend(objects_from_docs(doc["items"], where))
            continue
        if not kind:
            raise RenderError("object is missing 'kind'", where=where)
        meta = doc.get("metadata")
        if not isinstance(meta, dict) or not meta.get("name"):
            raise RenderError(f"{kind} object is missing metadata.name", where=where)
        out.append(doc)
    return out
