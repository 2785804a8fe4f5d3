"""Patches: `patches`, legacy `patchesStrategicMerge` / `patchesJson6902`, and their
builtin plugins. How a patch is read, classified, targeted and applied; the merge
algorithms themselves live in strategic_merge.py and json6902.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agent.errors import RenderError
from agent.render.loader import Loader
from agent.render.resource import Gvk, Res, ResId, effective_ns, matches_selector, split_api_version
from agent.render.yamlio import deep_copy, load_all

_LITERAL = re.compile(r"[A-Za-z0-9_-]+")
_SELECTOR_FIELDS = {"group", "version", "kind", "name", "namespace", "labelSelector",
                    "annotationSelector"}


@dataclass(frozen=True)
class Selector:
    gvk: Gvk = field(default_factory=Gvk)
    name: str = ""
    namespace: str = ""
    label_selector: str = ""
    annotation_selector: str = ""

    def select(self, resources: list[Res], where: str) -> list[Res]:
        """Kustomize's Select: anchored name/namespace regexes on original or current id."""
        name_re = _anchored(self.name, where)
        ns_re = _anchored(self.namespace, where)
        out = []
        kind = self.gvk.kind
        literal = self.name if _LITERAL.fullmatch(self.name) else None
        for res in resources:
            # Cheap checks first: most objects are ruled out by kind or name alone.
            if not res.prev:
                obj = res.obj
                if kind and kind != obj.get("kind"):
                    continue
                if name_re is not None:
                    meta = obj.get("metadata")
                    name = str(meta.get("name") or "") if isinstance(meta, dict) else ""
                    if name != literal if literal is not None else not name_re.match(name):
                        continue
            cur, org = res.cur_id(), res.org_id()
            if ns_re is not None and not (
                    ns_re.match(effective_ns(org.gvk.kind, org.namespace))
                    or ns_re.match(effective_ns(cur.gvk.kind, cur.namespace))):
                continue
            if name_re is not None and not (name_re.match(org.name) or name_re.match(cur.name)):
                continue
            if not self.gvk.selects(cur.gvk):
                continue
            if self.label_selector and not matches_selector(
                    self.label_selector, res.labels(), where=where):
                continue
            if self.annotation_selector and not matches_selector(
                    self.annotation_selector, res.annotations(), where=where):
                continue
            out.append(res)
        return out


def _anchored(pattern: str, where: str) -> re.Pattern[str] | None:
    if not pattern:
        return None
    try:
        return re.compile(f"^(?:{pattern})$")
    except re.error as exc:
        raise RenderError(f"invalid target regex {pattern!r}: {exc}", where=where) from None


def parse_selector(data: Any, where: str, what: str) -> Selector:
    if not isinstance(data, dict):
        raise RenderError(f"{what} must be a mapping", where=where)
    unknown = set(map(str, data)) - _SELECTOR_FIELDS
    if unknown:
        raise RenderError(f"{what}: unknown field(s) {sorted(unknown)}", where=where)
    return Selector(Gvk(str(data.get("group") or ""), str(data.get("version") or ""),
                        str(data.get("kind") or "")),
                    str(data.get("name") or ""), str(data.get("namespace") or ""),
                    str(data.get("labelSelector") or ""),
                    str(data.get("annotationSelector") or ""))


@dataclass
class Patch:
    """One loaded patch: either strategic-merge documents or a JSON 6902 op list."""

    where: str
    sm: list[dict[str, Any]] = field(default_factory=list)
    ops: list[dict[str, Any]] | None = None
    target: Selector | None = None
    allow_name_change: bool = False
    allow_kind_change: bool = False


def parse_patch_text(text: str, where: str) -> tuple[list[dict[str, Any]], list[Any] | None]:
    docs = load_all(text, where)
    if len(docs) == 1 and isinstance(docs[0], list):
        ops = docs[0]
        if not all(isinstance(op, dict) for op in ops):
            raise RenderError("JSON 6902 patch must be a list of operations", where=where)
        return [], ops
    if any(isinstance(d, dict) and "op" in d and "path" in d for d in docs):
        return [], [d for d in docs if isinstance(d, dict)]
    sm = []
    for doc in docs:
        if not isinstance(doc, dict):
            raise RenderError("unable to parse the patch as a strategic merge or JSON 6902 "
                              "patch", where=where)
        sm.append(doc)
    if not sm:
        raise RenderError("patch is empty", where=where)
    return sm, None


def load_patch(entry: Any, loader: Loader, what: str) -> Patch:
    """A `patches:` entry (also the PatchTransformer plugin config)."""
    where = loader.kust_where()
    if not isinstance(entry, dict):
        raise RenderError(f"{what} entries must be mappings with path or patch", where=where)
    unknown = set(map(str, entry)) - {"path", "patch", "target", "options"}
    if unknown:
        raise RenderError(f"{what}: unknown field(s) {sorted(unknown)}", where=where)
    path, inline = entry.get("path"), entry.get("patch")
    if not path and not inline:
        raise RenderError(f"{what}: must specify one of patch and path", where=where)
    if path and inline:
        raise RenderError(f"{what}: patch and path can't be set at the same time", where=where)
    if path:
        text, pwhere = loader.read_text(str(path), what=what), loader.rel(loader.dir / str(path))
    else:
        text, pwhere = str(inline), f"{where} ({what})"
    sm, ops = parse_patch_text(text, pwhere)
    options = entry.get("options") or {}
    if not isinstance(options, dict) or set(options) - {"allowNameChange", "allowKindChange"}:
        raise RenderError(f"{what}.options: only allowNameChange and allowKindChange are "
                          "supported", where=where)
    target = parse_selector(entry["target"], where, f"{what}.target") \
        if entry.get("target") is not None else None
    if ops is not None and target is None:
        raise RenderError(f"{what}: a JSON 6902 patch must specify a target", where=pwhere)
    return Patch(pwhere, sm, ops, target, bool(options.get("allowNameChange")),
                 bool(options.get("allowKindChange")))


def load_legacy_sm(entry: Any, loader: Loader, what: str) -> Patch:
    """A `patchesStrategicMerge` entry: inline YAML if it parses as objects, else a path."""
    text = str(entry)
    where = loader.kust_where()
    try:
        docs = load_all(text, where)
    except RenderError:
        docs = []
    if docs and all(isinstance(d, dict) for d in docs):
        return Patch(f"{where} ({what})", docs)
    ptext = loader.read_text(text, what=what)
    pwhere = loader.rel(loader.dir / text)
    sm, ops = parse_patch_text(ptext, pwhere)
    if ops is not None:
        raise RenderError(f"{what}: {text!r} holds a JSON 6902 patch; use patchesJson6902 "
                          "or patches with a target", where=where)
    return Patch(pwhere, sm)


def load_legacy_json(entry: Any, loader: Loader, what: str) -> Patch:
    where = loader.kust_where()
    if not isinstance(entry, dict):
        raise RenderError(f"{what} entries must be mappings", where=where)
    unknown = set(map(str, entry)) - {"target", "path", "patch", "jsonOp"}
    if unknown:
        raise RenderError(f"{what}: unknown field(s) {sorted(unknown)}", where=where)
    if entry.get("target") is None:
        raise RenderError(f"{what}: must specify a target", where=where)
    target = parse_selector(entry["target"], where, f"{what}.target")
    inline = entry.get("patch") or entry.get("jsonOp")
    if entry.get("path"):
        text = loader.read_text(str(entry["path"]), what=what)
        pwhere = loader.rel(loader.dir / str(entry["path"]))
    elif inline:
        text, pwhere = str(inline), f"{where} ({what})"
    else:
        raise RenderError(f"{what}: must specify one of patch and path", where=where)
    docs = load_all(text, pwhere)
    ops = docs[0] if len(docs) == 1 and isinstance(docs[0], list) else None
    if ops is None or not all(isinstance(o, dict) for o in ops):
        raise RenderError("JSON 6902 patch must be a list of operations", where=pwhere)
    return Patch(pwhere, [], ops, target)


def _patch_id(doc: dict[str, Any]) -> ResId:
    group, version = split_api_version(str(doc.get("apiVersion") or ""))
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    assert isinstance(meta, dict)
    return ResId(Gvk(group, version, str(doc.get("kind") or "")), str(meta.get("name") or ""),
                 str(meta.get("namespace") or ""))


class _KindNameIndex:
    """Objects by (kind, name) for targets naming both literally; objects that were
    renamed before are always candidates since a target may name an old name."""

    def __init__(self, resources: list[Res]) -> None:
        self.position = {id(r): i for i, r in enumerate(resources)}
        self.by_key: dict[tuple[str, str], list[Res]] = {}
        self.renamed: list[Res] = []
        for res in resources:
            if res.prev:
                self.renamed.append(res)
            else:
                self.by_key.setdefault((res.kind, res.name), []).append(res)

    def candidates(self, kind: str, name: str) -> list[Res]:
        found = self.by_key.get((kind, name), []) + self.renamed
        return sorted(found, key=lambda r: self.position[id(r)])


def apply_patches(resources: list[Res], patches: list[Patch]) -> list[Res]:
    """Apply patches in order; JSON 6902 patches aimed at one kind/name use an index."""
    index: _KindNameIndex | None = None
    for patch in patches:
        target = patch.target
        if (patch.ops is not None and target is not None and target.gvk.kind
                and _LITERAL.fullmatch(target.name)):
            from agent.render.json6902 import apply_json6902

            if index is None:
                index = _KindNameIndex(resources)
            pool = index.candidates(target.gvk.kind, target.name)
            for res in target.select(pool, patch.where):
                before = res.key()
                res.obj = apply_json6902(res.obj, patch.ops, where=patch.where)
                if res.key() != before:
                    index = None
            continue
        resources = apply_patch(resources, patch)
        index = None
    return resources


def apply_patch(resources: list[Res], patch: Patch) -> list[Res]:
    """Apply one loaded patch; returns the (possibly shorter) resource list."""
    if patch.ops is not None:
        from agent.render.json6902 import apply_json6902

        assert patch.target is not None
        for res in patch.target.select(resources, patch.where):
            res.obj = apply_json6902(res.obj, patch.ops, where=patch.where)
        return resources
    for doc in patch.sm:
        if patch.target is None:
            pid = _patch_id(doc)
            key = pid.key
            hits = [r for r in resources
                    if r.key() == key or any(i.key == key for i in r.prev)]
            if len(hits) != 1:
                state = "no matches" if not hits else "multiple matches"
                raise RenderError(f"{state} for Id {pid}; failed to find unique target for "
                                  "patch", where=patch.where)
            selected = hits
        else:
            selected = patch.target.select(resources, patch.where)
        chosen = {id(r) for r in selected}
        kept = []
        for res in resources:
            if id(res) in chosen and not _apply_sm(res, doc, patch):
                continue
            kept.append(res)
        resources = kept
    return resources


def _apply_sm(res: Res, doc: dict[str, Any], patch: Patch) -> bool:
    """Strategic-merge `doc` into `res`; False when the patch deleted the object."""
    from agent.render.strategic_merge import strategic_merge

    body = deep_copy(doc)
    body["apiVersion"] = res.obj.get("apiVersion")
    if "kind" not in doc:
        body["kind"] = res.kind
    name, namespace, kind = res.name, res.namespace, res.kind
    if patch.allow_name_change or patch.allow_kind_change:
        res.store_previous_id()
    merged = strategic_merge(res.obj, body)
    if not merged:
        return False
    res.obj = merged
    if not patch.allow_kind_change:
        res.obj["kind"] = kind
    if not patch.allow_name_change:
        res.meta["name"] = name
    if namespace:
        res.meta["namespace"] = namespace
    elif isinstance(res.obj.get("metadata"), dict):
        res.obj["metadata"].pop("namespace", None)
    return True
