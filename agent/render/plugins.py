"""Transformers configured by kustomization fields, and `apiVersion: builtin` plugin
configs listed under `generators:` / `transformers:`. Exec, Go, KRM-function and
Helm plugins are refused by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.errors import RenderError
from agent.render.affix import apply_affix
from agent.render.fieldspec import FieldSpec, parse_fieldspecs
from agent.render.hashing import hash_suffix
from agent.render.images import apply_images, parse_rule
from agent.render.labels import apply_map_entries, merge_specs
from agent.render.loader import Loader
from agent.render.namespace import apply_namespace
from agent.render.patches import (
    Patch,
    apply_patch,
    apply_patches,
    load_legacy_json,
    load_legacy_sm,
    load_patch,
)
from agent.render.replacements import apply_replacements, load_replacements
from agent.render.replicas import apply_replicas
from agent.render.resource import Gvk, Res
from agent.render.yamlio import load_all

if TYPE_CHECKING:
    from agent.render.build import Accumulator, Context

TRANSFORMER_KINDS = frozenset({
    "AnnotationsTransformer", "LabelTransformer", "NamespaceTransformer",
    "PrefixSuffixTransformer", "PrefixTransformer", "SuffixTransformer",
    "ImageTagTransformer", "ReplicaCountTransformer", "PatchTransformer",
    "PatchStrategicMergeTransformer", "PatchJson6902Transformer", "ReplacementTransformer",
    "HashTransformer",
})
GENERATOR_KINDS = frozenset({"ConfigMapGenerator", "SecretGenerator"})
REFUSED_BUILTINS = {
    "HelmChartInflationGenerator": "Helm chart inflation is not supported",
    "IAMPolicyGenerator": "IAM policy generation is not supported",
    "ValueAddTransformer": "ValueAddTransformer is not supported",
    "SortOrderTransformer": "SortOrderTransformer is not supported; use sortOptions",
}


def run_builtin_transformers(kust: dict[str, Any], loader: Loader,
                             acc: Accumulator) -> list[Res]:
    """The fixed order of Kustomize's configureBuiltinTransformers."""
    where = loader.kust_where()
    tc = acc.config
    res = acc.resources
    sm = [load_legacy_sm(p, loader, f"patchesStrategicMerge[{i}]")
          for i, p in enumerate(kust["patchesStrategicMerge"])]
    patches = [load_patch(p, loader, f"patches[{i}]") for i, p in enumerate(kust["patches"])]
    json_patches = [load_legacy_json(p, loader, f"patchesJson6902[{i}]")
                    for i, p in enumerate(kust["patchesJson6902"])]
    res = apply_patches(res, sm + patches)
    if kust["namespace"]:
        apply_namespace(res, kust["namespace"], tc.namespace, where=where)
    if kust["namePrefix"]:
        apply_affix(res, kust["namePrefix"], "", tc.name_prefix, where=where)
    if kust["nameSuffix"]:
        apply_affix(res, "", kust["nameSuffix"], tc.name_suffix, where=where)
    for i, label in enumerate(kust["labels"]):
        pairs, specs = _label_entry(label, tc, where, f"labels[{i}]")
        apply_map_entries(res, pairs, specs, where=where)
    apply_map_entries(res, kust["commonLabels"], tc.common_labels, where=where)
    apply_map_entries(res, kust["commonAnnotations"], tc.common_annotations, where=where)
    res = apply_patches(res, json_patches)
    for i, rep in enumerate(kust["replicas"]):
        if not isinstance(rep, dict) or "name" not in rep:
            raise RenderError(f"replicas[{i}] needs a name and a count", where=where)
        apply_replicas(res, str(rep["name"]), rep.get("count"), tc.replicas, where=where)
    rules = [parse_rule(img, where) for img in kust["images"]]
    apply_images(res, rules, tc.images, where=where)
    if kust["replacements"]:
        apply_replacements(res, load_replacements(kust["replacements"], loader,
                                                  "replacements"), where=where)
    return res


def _label_entry(label: Any, tc: Any, where: str,
                 what: str) -> tuple[dict[str, Any], list[FieldSpec]]:
    if not isinstance(label, dict):
        raise RenderError(f"{what} must be a mapping", where=where)
    unknown = set(map(str, label)) - {"pairs", "includeSelectors", "includeTemplates",
                                      "fields"}
    if unknown:
        raise RenderError(f"{what}: unknown field(s) {sorted(unknown)}", where=where)
    specs = parse_fieldspecs(label.get("fields"), where)
    if label.get("includeSelectors"):
        specs = merge_specs(specs, tc.common_labels, where=where)
    else:
        specs = merge_specs(specs, [FieldSpec(Gvk(), "metadata/labels", True)], where=where)
        if label.get("includeTemplates"):
            specs = merge_specs(specs, tc.template_labels, where=where)
    pairs = label.get("pairs") or {}
    if not isinstance(pairs, dict):
        raise RenderError(f"{what}.pairs must be a mapping", where=where)
    for key, value in pairs.items():
        if not isinstance(value, str):
            raise RenderError(f"{what}.pairs.{key} must be a string, got {value!r} (quote it)",
                              where=where)
    return pairs, specs


# --- plugin configs -------------------------------------------------------------
def load_plugin_configs(entries: list[Any], loader: Loader, ctx: Context,
                        what: str) -> list[dict[str, Any]]:
    """Each entry is inline YAML, a file of configs, or a kustomization producing configs."""
    from agent.render.build import Accumulator, load_resource_entry

    where = loader.kust_where()
    configs: list[dict[str, Any]] = []
    for entry in entries:
        text = str(entry)
        docs: list[Any] = []
        if "\n" in text or text.lstrip().startswith("{"):
            docs = load_all(text, f"{where} ({what})")
        if docs and all(isinstance(d, dict) for d in docs):
            configs.extend(docs)
            continue
        loaded = load_resource_entry(text, loader, ctx, what)
        items = loaded.resources if isinstance(loaded, Accumulator) else loaded
        configs.extend(r.obj for r in items)
    for config in configs:
        _check_plugin(config, where, what)
    return configs


def _check_plugin(config: dict[str, Any], where: str, what: str) -> None:
    kind = str(config.get("kind") or "")
    api = str(config.get("apiVersion") or "")
    annotations = (config.get("metadata") or {}).get("annotations") or {}
    if "config.kubernetes.io/function" in annotations or "config.k8s.io/function" in annotations:
        raise RenderError(f"{what}: KRM function plugin {kind!r} ({api}) is not supported",
                          where=where)
    if kind in REFUSED_BUILTINS:
        raise RenderError(f"{what}: {REFUSED_BUILTINS[kind]}", where=where)
    if api != "builtin":
        raise RenderError(f"{what}: plugin {kind!r} with apiVersion {api!r} is not supported "
                          "(exec and Go plugins are refused; only apiVersion: builtin)",
                          where=where)
    allowed = TRANSFORMER_KINDS if what == "transformers" else GENERATOR_KINDS
    if kind not in allowed:
        raise RenderError(f"{what}: unknown builtin plugin kind {kind!r}", where=where)


def run_generator_plugin(config: dict[str, Any], loader: Loader) -> list[Res]:
    from agent.render.generators import generate

    kind = config["kind"]
    meta = config.get("metadata") or {}
    args = {k: v for k, v in config.items() if k not in ("apiVersion", "kind", "metadata")}
    if not args.get("name"):
        args["name"] = meta.get("name")
    if not args.get("namespace") and meta.get("namespace"):
        args["namespace"] = meta.get("namespace")
    return [generate(kind.removesuffix("Generator"), args, None, loader, field=kind)]


def run_transformer_plugin(config: dict[str, Any], loader: Loader,
                           acc: Accumulator) -> list[Res]:
    kind = config["kind"]
    where = f"{loader.kust_where()} ({kind})"
    res = acc.resources
    specs = parse_fieldspecs(config.get("fieldSpecs"), where)
    meta = config.get("metadata") or {}
    if kind == "AnnotationsTransformer":
        apply_map_entries(res, config.get("annotations") or {}, specs, where=where)
    elif kind == "LabelTransformer":
        apply_map_entries(res, config.get("labels") or {}, specs, where=where)
    elif kind == "NamespaceTransformer":
        namespace = str(meta.get("namespace") or "")
        if namespace:
            apply_namespace(res, namespace, specs, unset_only=bool(config.get("unsetOnly")),
                            subjects=str(config.get("setRoleBindingSubjects") or
                                         "defaultOnly"), where=where)
    elif kind in ("PrefixSuffixTransformer", "PrefixTransformer", "SuffixTransformer"):
        prefix = str(config.get("prefix") or "")
        suffix = str(config.get("suffix") or "")
        apply_affix(res, prefix, suffix, specs, where=where)
    elif kind == "ImageTagTransformer":
        apply_images(res, [parse_rule(config.get("imageTag"), where, "imageTag")], specs,
                     where=where)
    elif kind == "ReplicaCountTransformer":
        replica = config.get("replica") or {}
        apply_replicas(res, str(replica.get("name") or ""), replica.get("count"), specs,
                       where=where)
    elif kind == "PatchTransformer":
        body = {k: v for k, v in config.items() if k in ("path", "patch", "target", "options")}
        res = apply_patch(res, load_patch(body, loader, kind))
    elif kind == "PatchStrategicMergeTransformer":
        loaded: list[Patch] = [load_legacy_sm(p, loader, kind) for p in config.get("paths") or []]
        if config.get("patches"):
            loaded.append(load_legacy_sm(str(config["patches"]), loader, kind))
        if not loaded:
            raise RenderError("empty file path and empty patch content", where=where)
        for patch in loaded:
            res = apply_patch(res, patch)
    elif kind == "PatchJson6902Transformer":
        body = {k: v for k, v in config.items() if k in ("target", "path", "jsonOp", "patch")}
        res = apply_patch(res, load_legacy_json(body, loader, kind))
    elif kind == "ReplacementTransformer":
        apply_replacements(res, load_replacements(config.get("replacements") or [], loader,
                                                  kind), where=where)
    elif kind == "HashTransformer":
        add_hash_suffixes(res)
    return res


def add_hash_suffixes(resources: list[Res]) -> None:
    for res in resources:
        if res.needs_hash:
            res.store_previous_id()
            res.name = f"{res.name}-{hash_suffix(res.obj)}"
