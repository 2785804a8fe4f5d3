"""Name references: after prefixes, suffixes, namespaces and hash suffixes changed
names, repair every field that referred to an object by its old name.

Mirrors Kustomize's nameref filter: candidates are objects of the referral kind
whose previous names include the value, narrowed by namespace, by roleRef kind,
then by matching name prefixes/suffixes; more than one different survivor is an
error rather than a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.errors import RenderError
from agent.render.fieldspec import FieldSpec, NameRefRule, walk
from agent.render.resource import CLUSTER_SCOPED, Gvk, Res, effective_ns, same_ending


def fix_name_references(resources: list[Res], rules: list[NameRefRule]) -> None:
    by_kind: dict[str, list[Res]] = {}
    for res in resources:
        for kind in {res.kind, *(rid.gvk.kind for rid in res.prev)}:
            by_kind.setdefault(kind, []).append(res)
    pools: list[tuple[NameRefRule, list[Res]]] = []
    for rule in rules:
        kinds = [rule.gvk.kind] if rule.gvk.kind else list(by_kind)
        pool = [r for k in kinds for r in by_kind.get(k, ())]
        if pool:
            pools.append((rule, pool))
    plans: dict[Gvk, list[tuple[NameRefRule, list[Res], list[FieldSpec]]]] = {}
    for referrer in resources:
        org_gvk = referrer.org_id().gvk
        plan = plans.get(org_gvk)
        if plan is None:
            plan = []
            for rule, pool in pools:
                specs = [fs for fs in rule.referrers if fs.gvk.selects(org_gvk)]
                if specs:
                    plan.append((rule, pool, specs))
            plans[org_gvk] = plan
        in_scope = None
        for rule, pool, specs in plan:
            if in_scope is None:
                in_scope = _scope(referrer)
            candidates = [r for r in pool if in_scope(r)]
            for fs in specs:
                fixer = _Fixer(referrer, rule.gvk, fs.path, candidates)
                walk(referrer.obj, fs.segments, False, False, fixer.visit,
                     where=f"{referrer.kind}/{referrer.name}")


def _scope(referrer: Res) -> Callable[[Res], bool]:
    """Kustomize's SubsetThatCouldBeReferencedByResource, as a predicate."""
    kind = referrer.kind
    if kind in CLUSTER_SCOPED:
        return lambda res: True
    ref_ns = effective_ns(kind, referrer.namespace)
    rb_namespaces: set[str] = set()
    if kind == "RoleBinding":
        for subject in referrer.obj.get("subjects") or []:
            if (isinstance(subject, dict) and subject.get("kind") == "ServiceAccount"
                    and "namespace" in subject):
                rb_namespaces.add(str(subject["namespace"]))

    def check(res: Res) -> bool:
        return (res.kind in CLUSTER_SCOPED or effective_ns(res.kind, res.namespace) == ref_ns
                or res.namespace in rb_namespaces)
    return check


class _Fixer:
    def __init__(self, referrer: Res, target: Gvk, path: str, candidates: list[Res]) -> None:
        self.referrer = referrer
        self.target = target
        self.path = path
        self.candidates = candidates

    def visit(self, container: Any, key: Any) -> None:
        value = container.get(key)
        if value is None:
            return
        if isinstance(value, str):
            self._scalar(container, key)
        elif isinstance(value, dict):
            self._mapping(value)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    self._scalar(value, i)
                elif isinstance(item, dict):
                    self._mapping(item)

    def _scalar(self, container: Any, key: Any) -> None:
        old = container[key]
        referral = self._select(old, self.candidates, same_ns=False)
        if referral is not None and referral.name != old:
            container[key] = referral.name

    def _mapping(self, node: dict[str, Any]) -> None:
        if "name" not in node:
            raise RenderError(f"name reference path {self.path} does not lead to a "
                              "mapping with a 'name' field", where=str(self.referrer.cur_id()))
        candidates = self.candidates
        if "namespace" in node:
            ns = str(node["namespace"])
            by_org = [r for r in candidates
                      if effective_ns(r.org_id().gvk.kind, r.org_id().namespace) == ns]
            candidates = by_org or [r for r in candidates
                                    if effective_ns(r.kind, r.namespace) == ns]
        old = str(node["name"])
        referral = self._select(old, candidates, same_ns=True)
        if referral is None:
            return
        if referral.name == old and not referral.namespace:
            return
        node["name"] = referral.name
        if referral.namespace:
            node["namespace"] = referral.namespace

    def _select(self, old: str, candidates: list[Res], *, same_ns: bool) -> Res | None:
        hits = [r for r in candidates if any(p.name == old for p in r.prev)]
        hits = [r for r in hits if any(self.target.selects(p.gvk) for p in r.prev)]
        if self.path.endswith("roleRef/name"):
            role_ref = self.referrer.obj.get("roleRef")
            if isinstance(role_ref, dict) and role_ref.get("apiGroup") is not None \
                    and role_ref.get("kind") is not None:
                sel = Gvk(str(role_ref["apiGroup"]), "", str(role_ref["kind"]))
                hits = [r for r in hits if any(sel.selects(p.gvk) for p in r.prev)]
        hits = [r for r in hits if self._same_namespace(r)]
        if len(hits) == 1:
            return hits[0]
        hits = [r for r in hits if same_ending(r.prefixes, self.referrer.prefixes)
                and same_ending(r.suffixes, self.referrer.suffixes)]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            return None
        first = hits[0]
        if all(r.name == first.name and (not same_ns or r.namespace == first.namespace)
               for r in hits):
            return first
        ids = ", ".join(str(r.cur_id()) for r in hits)
        raise RenderError(f"found multiple possible referrals for {old!r} in {self.path}: "
                          f"{ids}", where=str(self.referrer.cur_id()))

    def _same_namespace(self, res: Res) -> bool:
        if self.referrer.kind in CLUSTER_SCOPED:
            return True
        if res.kind in CLUSTER_SCOPED or res.kind == "ServiceAccount":
            return True
        return (effective_ns(self.referrer.kind, self.referrer.namespace)
                == effective_ns(res.kind, res.namespace))
