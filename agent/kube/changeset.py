"""What a sync did, one entry per object; every caller prints it the same way."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    created = "created"
    configured = "configured"
    unchanged = "unchanged"
    pruned = "pruned"
    skipped = "skipped"


@dataclass(frozen=True)
class ChangeSetEntry:
    subject: str
    action: Action
    drift: bool = False
    diff: str = ""
    note: str = ""

    def __str__(self) -> str:
        text = f"{self.subject} {self.action.value}"
        if self.drift:
            text += " (drift corrected)"
        if self.note:
            text += f" ({self.note})"
        return text


@dataclass(frozen=True)
class ChangeSet:
    entries: tuple[ChangeSetEntry, ...] = ()

    def __add__(self, other: ChangeSet) -> ChangeSet:
        return ChangeSet(self.entries + other.entries)

    @classmethod
    def of(cls, entries: Iterable[ChangeSetEntry]) -> ChangeSet:
        return cls(tuple(entries))

    @property
    def changed(self) -> bool:
        return any(e.action not in (Action.unchanged, Action.skipped) for e in self.entries)

    def counts(self) -> dict[str, int]:
        """created/configured leave out drift corrections, which have their own count."""
        c: Counter[str] = Counter()
        for e in self.entries:
            c["drift_corrected" if e.drift else e.action.value] += 1
        return {k: c[k] for k in ("created", "configured", "unchanged", "pruned",
                                  "drift_corrected")}

    def to_json(self) -> list[dict[str, object]]:
        return [{"subject": e.subject, "action": e.action.value, "drift": e.drift,
                 **({"note": e.note} if e.note else {})} for e in self.entries]
