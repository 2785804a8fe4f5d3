"""`edge-agent diff`: a server-side dry run of the bundle, as a unified diff per object."""

from __future__ import annotations

import difflib
from typing import Any

from agent.kube.apply import describe
from agent.kube.changeset import Action, ChangeSetEntry
from agent.kube.manager import Desired, ResourceManager, comparable


def _yaml(obj: dict[str, Any] | None) -> list[str]:
    import yaml

    if obj is None:
        return []
    body = comparable(obj)
    meta = body.get("metadata") or {}
    for k in ("uid", "creationTimestamp"):
        meta.pop(k, None)
    return yaml.safe_dump(body, sort_keys=True, default_flow_style=False).splitlines(keepends=True)


def diff_bundle(mgr: ResourceManager, desired: list[Desired]) -> list[ChangeSetEntry]:
    """What a sync would change, without writing: one entry per object with its diff."""
    live = mgr.list_owned_many(d.resource for d in desired if d.resource)
    ready = [d for d in desired if d.resource is not None]
    new_namespaces = {d.key.name for d in desired if d.key.kind == "Namespace"}

    def dry_run(d: Desired) -> dict[str, Any]:
        return mgr.validate(d, force=d.key in live, new_namespaces=new_namespaces)

    results = mgr.client.map(dry_run, ready)
    entries: list[ChangeSetEntry] = []
    for d in desired:
        if d.resource is None:
            entries.append(ChangeSetEntry(d.subject, Action.created,
                                          note="its CRD is created by this bundle"))
    for d, result in zip(ready, results, strict=True):
        if isinstance(result, BaseException):
            entries.append(ChangeSetEntry(d.subject, Action.skipped,
                                          note=f"dry run failed: {describe(result)}"))
            continue
        cur = live.get(d.key)
        if cur is not None and comparable(cur) == comparable(result):
            entries.append(ChangeSetEntry(d.subject, Action.unchanged))
            continue
        probed_elsewhere = (result.get("metadata") or {}).get("name") != d.key.name
        shown = d.obj if probed_elsewhere else result
        text = "".join(difflib.unified_diff(_yaml(cur), _yaml(shown),
                                            fromfile=f"live/{d.subject}",
                                            tofile=f"desired/{d.subject}"))
        entries.append(ChangeSetEntry(d.subject, Action.configured if cur is not None
                                      else Action.created, diff=text))
    return entries
