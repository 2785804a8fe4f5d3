"""The render stage: a Kustomize-compatible overlay engine.

    render(path, root=repo)      -> Bundle   (like `kubectl kustomize path`)
    render_tier(repo, tier)      -> Bundle   (the tier's overlay from tiers.yaml)
    to_yaml(bundle)              -> str      (multi-document YAML)

Behaviour follows Kustomize v5.5.0; output order is its legacy sort.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.model import Bundle

if TYPE_CHECKING:
    from agent.tiers import Tier

__all__ = ["render", "render_tier", "to_json", "to_yaml"]

_LOCAL_CONFIG = "config.kubernetes.io/local-config"
_ORIGIN = "config.kubernetes.io/origin"
_MANAGED_BY = "app.kubernetes.io/managed-by"
# What kubectl's embedded Kustomize (the reference) writes into the managed-by label.
MANAGED_BY_VALUE = "kustomize-(devel)"


def render(path: str | Path, *, root: Path | None = None) -> Bundle:
    """Build the kustomization at `path`; files may never leave `root` (when given)."""
    from agent.errors import RenderError
    from agent.render.build import Context, build_dir
    from agent.render.kustfile import load_kustomization
    from agent.render.loader import Loader
    from agent.render.nameref import fix_name_references
    from agent.render.order import sort_resources
    from agent.render.plugins import add_hash_suffixes
    from agent.render.vars import resolve_vars

    directory = Path(path)
    if not directory.is_dir():
        raise RenderError("not a directory (expected a kustomization directory)",
                          where=str(path))
    loader = Loader.at(directory, root if root is not None else Path("/"))
    top, where = load_kustomization(loader)
    ctx = Context(origin_annotations="originAnnotations" in top["buildMetadata"],
                  top=str(loader.dir))
    acc, kust = build_dir(loader, ctx)
    resources = acc.resources
    add_hash_suffixes(resources)
    fix_name_references(resources, acc.config.name_reference)
    resolve_vars(resources, acc.vars, acc.config.var_reference)
    resources = [r for r in resources
                 if str(r.annotations().get(_LOCAL_CONFIG, "")).lower() != "true"]
    managed = "managedByLabel" in kust["buildMetadata"]
    for res in resources:
        # Kustomize keeps internal annotations on every object while it works and
        # clears the field when none are left, so an empty `annotations` disappears.
        meta = res.obj.get("metadata")
        if isinstance(meta, dict) and "annotations" in meta and not meta["annotations"]:
            del meta["annotations"]
        if ctx.origin_annotations and res.origin:
            res.meta.setdefault("annotations", {})[_ORIGIN] = res.origin
        if managed:
            labels = res.meta.get("labels")
            if not isinstance(labels, dict):
                labels = res.meta["labels"] = {}
            labels[_MANAGED_BY] = MANAGED_BY_VALUE
    ordered = sort_resources(resources, kust.get("sortOptions"), where)
    return Bundle(tuple(r.obj for r in ordered))


def render_tier(repo: str | Path, tier: str | Tier) -> Bundle:
    """Render the overlay that `tiers.yaml` names for `tier`, bounded by the repo root."""
    from agent.tiers import load_tiers

    name = tier if isinstance(tier, str) else tier.name
    policy = load_tiers(repo)
    return render(policy.overlay_dir(name), root=Path(repo))


def to_yaml(bundle: Bundle | Any) -> str:
    from agent.render.yamlio import dump_all

    return dump_all(list(bundle))


def to_json(bundle: Bundle | Any) -> str:
    import json

    return json.dumps(list(bundle), indent=2) + "\n"
