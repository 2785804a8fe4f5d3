"""The values every policy rule produces and the shape of a rule."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from agent.model import KubeObject
from agent.tiers import Tier

WAIVER_PREFIX = "edgesync.io/waive-"


@dataclass(frozen=True)
class Violation:
    """One broken rule on one object; `waived_reason` is set when an annotation waives it."""

    rule: str
    subject: str
    message: str
    waived_reason: str | None = None

    @property
    def waived(self) -> bool:
        return self.waived_reason is not None

    def __str__(self) -> str:
        text = f"{self.subject}: [{self.rule}] {self.message}"
        if self.waived_reason is not None:
            text += f" (waived: {self.waived_reason})"
        return text


# A check reads one object and says, in sentences, what is wrong with it (nothing if fine).
Check = Callable[[KubeObject, Tier], Iterable[str]]


@dataclass(frozen=True)
class Rule:
    id: str
    summary: str
    check: Check

    @property
    def waiver_annotation(self) -> str:
        return WAIVER_PREFIX + self.id
