"""Apply a bundle with server-side apply: validate everything, then write only what differs.

The order of a sync:

1. Read what the agent owns: one LIST per kind, label-selected.
2. Objects whose desired digest and live resourceVersion both match the last
   sync are unchanged without asking the server anything more.
3. Every other object is applied with `dryRun=All`. This validates the whole
   bundle before the first write, and the dry-run result compared with the
   live object (managedFields, resourceVersion and generation aside) tells
   "unchanged" from "configured", as flux does.
4. The validation rule for prerequisites. An object whose Namespace the same
   bundle creates cannot be dry-run where it will live (the namespace does not
   exist yet), so it is dry-run as a create in `default` under a generated
   name: schema, defaulting and admission still run; only checks tied to its
   final name and namespace wait for the real write. A custom resource whose
   CRD the same bundle creates cannot be validated at all before the CRD is
   served: when every other object validated, the bundle's CRDs alone are
   written first, waited on until Established, and those custom resources
   dry-run before anything else is written. Any failure, anywhere, and nothing
   more is written (at worst: only the bundle's new CRDs).
5. Writes go in dependency order (sort.rank), each rank in parallel.

`force` is set only for objects the agent already owns (they carry its owner
label): for anything else a field owned by another manager is a 409 conflict
that names that manager, never a silent takeover.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import groupby

from agent.errors import KubeError
from agent.kube.changeset import Action, ChangeSet, ChangeSetEntry
from agent.kube.client import ApiError, UnreachableError
from agent.kube.manager import Desired, ResourceManager, comparable, listing
from agent.kube.sort import rank
from agent.model import KubeObject, ObjectKey


class ApplyError(KubeError):
    """Applying stopped part way; `changeset` says what was written before it did."""

    def __init__(self, message: str, *, changeset: ChangeSet, action: str | None = None):
        self.changeset = changeset
        super().__init__(message, action=action)


@dataclass(frozen=True)
class ApplyResult:
    changeset: ChangeSet
    desired: tuple[Desired, ...]
    live: Mapping[ObjectKey, KubeObject] = field(default_factory=dict)


def describe(exc: BaseException) -> str:
    """One line an operator can act on; conflicts name the other field manager."""
    if isinstance(exc, ApiError):
        text = exc.message
        if exc.status == 409 and exc.causes:
            text = "conflict with another field manager: " + "; ".join(exc.causes)
        return text
    if isinstance(exc, KubeError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def _rank(d: Desired) -> int:
    return rank(d.obj, d.resource.namespaced if d.resource else bool(d.key.namespace))


def apply_bundle(mgr: ResourceManager, desired: list[Desired], *,
                 fingerprints: Mapping[str, tuple[str, str]] | None = None,
                 crd_timeout: float = 60.0) -> ApplyResult:
    fingerprints = fingerprints or {}
    live = mgr.list_owned_many(d.resource for d in desired if d.resource)
    unchanged: list[Desired] = []
    todo: list[Desired] = []
    for d in desired:
        cur = live.get(d.key)
        fp = fingerprints.get(d.subject)
        rv = str((cur or {}).get("metadata", {}).get("resourceVersion", ""))
        if cur is not None and fp is not None and fp == (d.digest, rv):
            unchanged.append(d)
        else:
            todo.append(d)

    bundle_namespaces = {d.key.name for d in desired if d.key.kind == "Namespace"
                         and d.key.group == ""}
    checked, deferred, errors = _dry_run(mgr, todo, live, bundle_namespaces)
    if errors:
        raise KubeError("the server rejected the bundle in a dry run:" + listing(errors),
                        action="nothing was written")

    entries: list[ChangeSetEntry] = []
    to_write: list[Desired] = []
    for d, result in checked:
        cur = live.get(d.key)
        if cur is not None and comparable(result) == comparable(cur):
            unchanged.append(d)
        else:
            to_write.append(d)

    if deferred:
        crds = [d for d in to_write if d.key.kind == "CustomResourceDefinition"]
        entries += _write(mgr, crds, live, fingerprints, crd_timeout=crd_timeout,
                          done=entries)
        to_write = [d for d in to_write if d.key.kind != "CustomResourceDefinition"]
        mgr.discovery.refresh()
        try:
            deferred = [mgr.with_resource(d) for d in deferred]
        except KubeError as exc:
            raise ApplyError(str(exc), changeset=ChangeSet.of(entries),
                             action="only the bundle's CRDs were written") from exc
        checked2, still, errors = _dry_run(mgr, deferred, live, bundle_namespaces)
        errors += [f"{d.subject}: still cannot be validated" for d in still]
        if errors:
            raise ApplyError("the server rejected the bundle in a dry run:" + listing(errors),
                             changeset=ChangeSet.of(entries),
                             action="only the bundle's CRDs were written")
        to_write += [d for d, _ in checked2]

    entries += _write(mgr, to_write, live, fingerprints, crd_timeout=crd_timeout,
                      done=entries)
    entries += [ChangeSetEntry(d.subject, Action.unchanged) for d in unchanged]
    order = {d.key: i for i, d in enumerate(desired)}
    by_subject = {d.subject: d.key for d in desired}
    entries.sort(key=lambda e: order.get(by_subject.get(e.subject, ObjectKey("", "", "", "")),
                                         len(order)))
    return ApplyResult(ChangeSet.of(entries), tuple(mgr.with_resource(d) if d.resource is None
                                                    else d for d in desired), live)


def _dry_run(mgr: ResourceManager, todo: list[Desired], live: Mapping[ObjectKey, KubeObject],
             bundle_namespaces: set[str]
             ) -> tuple[list[tuple[Desired, KubeObject]], list[Desired], list[str]]:
    ready = [d for d in todo if d.resource is not None]
    deferred = [d for d in todo if d.resource is None]
    errors: list[str] = []
    checked: list[tuple[Desired, KubeObject]] = []

    def check(d: Desired) -> KubeObject:
        return mgr.validate(d, force=d.key in live, new_namespaces=bundle_namespaces)

    results = mgr.client.map(check, ready)
    for d, result in zip(ready, results, strict=True):
        if isinstance(result, UnreachableError):
            raise result
        if isinstance(result, BaseException):
            if not isinstance(result, KubeError):
                raise result
            errors.append(f"{d.subject}: {describe(result)}")
        else:
            checked.append((d, result))
    return checked, deferred, errors


def _write(mgr: ResourceManager, todo: list[Desired], live: dict[ObjectKey, KubeObject],
           fingerprints: Mapping[str, tuple[str, str]], *, crd_timeout: float,
           done: list[ChangeSetEntry]) -> list[ChangeSetEntry]:
    entries: list[ChangeSetEntry] = []
    for _, group in groupby(sorted(todo, key=_rank), key=_rank):
        batch = list(group)
        results = mgr.client.map(
            lambda d: mgr.apply(d, dry_run=False, force=d.key in live), batch)
        failures: list[str] = []
        for d, result in zip(batch, results, strict=True):
            if isinstance(result, UnreachableError):
                raise result  # nothing is known about the rest: the caller must not judge it
            if isinstance(result, BaseException):
                failures.append(f"{d.subject}: {describe(result)}")
                continue
            created = result.get("__status__") == 201
            fp = fingerprints.get(d.subject)
            drift = fp is not None and fp[0] == d.digest
            entries.append(ChangeSetEntry(d.subject, Action.created if created
                                          else Action.configured, drift=drift))
            live[d.key] = result
        if failures:
            raise ApplyError("applying stopped:" + listing(failures),
                             changeset=ChangeSet.of(done + entries),
                             action="objects before it in the apply order were written")
        crds = [d for d in batch if d.key.kind == "CustomResourceDefinition"]
        if crds:
            wait_established(mgr, crds, crd_timeout)
            mgr.discovery.refresh()
    return entries


def wait_established(mgr: ResourceManager, crds: list[Desired], timeout: float) -> None:
    from agent.kube.health import HealthStatus, assess

    deadline = time.monotonic() + timeout
    pending = list(crds)
    while pending:
        still: list[Desired] = []
        for d in pending:
            assert d.resource is not None
            obj = mgr.client.request("GET", d.resource.path("", d.key.name), where=d.subject)
            h = assess(obj)
            if h.status is HealthStatus.degraded:
                raise KubeError(h.message, where=d.subject)
            if h.status is not HealthStatus.healthy:
                still.append(d)
        if still and time.monotonic() > deadline:
            raise KubeError(f"CRD not established after {timeout:.0f}s",
                            where=", ".join(d.subject for d in still))
        pending = still
        if pending:
            time.sleep(0.2)
