"""Prune: delete what left the bundle, in reverse apply order, and only what the agent owns."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby

from agent.kube.apply import ApplyError, describe
from agent.kube.changeset import Action, ChangeSet, ChangeSetEntry
from agent.kube.client import ApiError, UnreachableError
from agent.kube.discovery import Resource
from agent.kube.manager import OWNER_LABEL, PRUNE_ANNOTATION, ResourceManager, listing
from agent.kube.sort import rank
from agent.model import KubeObject
from agent.state.inventory import InventoryEntry


def prune(mgr: ResourceManager, stale: Iterable[InventoryEntry]) -> ChangeSet:
    """Delete each stale inventory entry that is live, labelled as ours and not protected."""
    entries: list[ChangeSetEntry] = []
    resolved: list[tuple[InventoryEntry, Resource]] = []
    for e in stale:
        res = mgr.discovery.find(e.api_version, e.kind)
        if res is None:
            entries.append(ChangeSetEntry(e.key.subject, Action.skipped,
                                          note="kind no longer served; nothing to delete"))
            continue
        resolved.append((e, res))
    live = mgr.list_owned_many(res for _, res in resolved)
    victims: list[tuple[InventoryEntry, Resource, KubeObject]] = []
    for e, res in resolved:
        obj = live.get(e.key)
        if obj is None:
            continue  # already gone, or never ours
        meta = obj.get("metadata") or {}
        if (meta.get("labels") or {}).get(OWNER_LABEL) != mgr.owner:
            continue
        if (meta.get("annotations") or {}).get(PRUNE_ANNOTATION) == "disabled":
            entries.append(ChangeSetEntry(e.key.subject, Action.skipped,
                                          note=f"{PRUNE_ANNOTATION}: disabled"))
            continue
        victims.append((e, res, obj))

    def order(v: tuple[InventoryEntry, Resource, KubeObject]) -> int:
        return -rank(v[2], v[1].namespaced)

    for _, group in groupby(sorted(victims, key=order), key=order):
        batch = list(group)
        results = mgr.client.map(lambda v: _delete(mgr, v[0], v[1], v[2]), batch)
        failures = []
        for (e, _, _), result in zip(batch, results, strict=True):
            if isinstance(result, UnreachableError):
                raise result
            if isinstance(result, BaseException):
                failures.append(f"{e.key.subject}: {describe(result)}")
            else:
                entries.append(ChangeSetEntry(e.key.subject, Action.pruned))
        if failures:
            raise ApplyError("prune stopped:" + listing(failures),
                             changeset=ChangeSet.of(entries))
    return ChangeSet.of(entries)


def _delete(mgr: ResourceManager, e: InventoryEntry, res: Resource, obj: KubeObject) -> None:
    uid = (obj.get("metadata") or {}).get("uid")
    # The uid precondition makes sure the object deleted is the one just checked for the label.
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background",
            **({"preconditions": {"uid": uid}} if uid else {})}
    try:
        mgr.client.request("DELETE", res.path(e.namespace, e.name), body=body,
                           where=e.key.subject)
    except ApiError as exc:
        if exc.status != 404:
            raise
