"""The node's durable state under `state_dir`.

    state.json          what the node runs: applied / last good / failed revision, last result
    inventory.json      the objects of the applied revision (see `Inventory`)
    bundles/<rev>.json  rendered bundles of the applied and the last good revision
    sync.lock           held while one sync runs, so two never interleave

Every file is replaced atomically; `applying` is set before the first write to
the cluster and cleared after, so a run killed in between is reported by the next.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from agent.errors import StateError
from agent.model import Bundle
from agent.state.atomic import read_json, write_json
from agent.state.inventory import Inventory

_SAFE = re.compile(r"[^A-Za-z0-9_.:-]")


@dataclass(frozen=True)
class NodeState:
    node: str | None = None
    tier: str | None = None
    applied_revision: str | None = None
    last_good_revision: str | None = None
    failed_revision: str | None = None
    failed_reason: str | None = None
    result: str | None = None
    error: str | None = None
    last_sync: str | None = None
    applying: str | None = None
    health_timeout: float | None = None  # the tier's, kept for offline runs

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> NodeState:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def update(self, **changes: Any) -> NodeState:
        return replace(self, **changes)


class StateStore:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    # -- state.json
    def load(self) -> NodeState:
        data = read_json(self.root / "state.json")
        if data is None:
            return NodeState()
        if not isinstance(data, dict):
            raise StateError("state file must hold an object", where=str(self.root / "state.json"))
        return NodeState.from_json(data)

    def save(self, state: NodeState) -> None:
        write_json(self.root / "state.json", state.to_json())

    # -- inventory.json
    def load_inventory(self) -> Inventory | None:
        data = read_json(self.root / "inventory.json")
        if data is None:
            return None
        try:
            return Inventory.from_json(data)
        except (TypeError, ValueError, AttributeError) as exc:
            raise StateError(f"inventory is malformed: {exc}",
                             where=str(self.root / "inventory.json")) from exc

    def save_inventory(self, inventory: Inventory) -> None:
        write_json(self.root / "inventory.json", inventory.to_json())

    # -- bundles/<rev>.json
    def _bundle_path(self, revision: str) -> Path:
        return self.root / "bundles" / f"{_SAFE.sub('_', revision)}.json"

    def save_bundle(self, revision: str, bundle: Bundle) -> None:
        path = self._bundle_path(revision)
        if not path.exists():
            write_json(path, {"revision": revision, "objects": list(bundle.objects)})

    def load_bundle(self, revision: str) -> Bundle | None:
        data = read_json(self._bundle_path(revision))
        if data is None:
            return None
        return Bundle(tuple(data["objects"]))

    def keep_bundles(self, *revisions: str | None) -> None:
        """Drop stored bundles of every revision but these."""
        keep = {self._bundle_path(r).name for r in revisions if r}
        folder = self.root / "bundles"
        if folder.is_dir():
            for p in folder.glob("*.json"):
                if p.name not in keep:
                    p.unlink(missing_ok=True)

    def _sweep_temp_files(self) -> None:
        """Temp files of a write killed before its rename; safe to drop under the lock."""
        for folder in (self.root, self.root / "bundles"):
            for p in folder.glob(".*.tmp"):
                p.unlink(missing_ok=True)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold `sync.lock` so two syncs on one node never interleave."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root / "sync.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StateError(f"cannot open lock: {exc.strerror}", where=str(self.root)) from exc
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StateError("another sync is running on this node",
                                 where=str(self.root / "sync.lock")) from None
            self._sweep_temp_files()
            yield
        finally:
            os.close(fd)
