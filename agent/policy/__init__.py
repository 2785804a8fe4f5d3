"""Tier policy checks, run on a rendered bundle before anything is applied.

    violations = check_bundle(bundle, tier)      # never raises
    enforce(bundle, tier)                         # raises PolicyError if any is unwaived

Each rule (see `agent.policy.rules`) can be waived on one object with the
annotation `edgesync.io/waive-<rule-id>: "<reason>"`; a waiver without a reason
does not count, so every exception to the policy says why it exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from agent.errors import PolicyError
from agent.model import Bundle, KubeObject, ObjectKey
from agent.policy.model import WAIVER_PREFIX, Rule, Violation
from agent.policy.rules import RULES
from agent.tiers import Tier

__all__ = ["RULES", "WAIVER_PREFIX", "PolicyError", "Rule", "Violation", "blocking",
           "check_bundle", "check_object", "enforce", "policy_error"]


def _annotations(obj: KubeObject) -> Mapping[str, object]:
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    return annotations if isinstance(annotations, Mapping) else {}


def _subject(obj: KubeObject) -> str:
    try:
        return ObjectKey.of(obj).subject
    except Exception:  # a bundle item that is not even a mapping
        return "<unreadable object>"


def check_object(obj: KubeObject, tier: Tier, rules: Iterable[Rule] = RULES) -> list[Violation]:
    """Every rule's findings on one object, with waivers applied; never raises."""
    subject = _subject(obj)
    if not isinstance(obj, Mapping):
        return [Violation("object", subject, f"is a {type(obj).__name__}, not a mapping")]
    annotations = _annotations(obj)
    out: list[Violation] = []
    for rule in rules:
        try:
            messages = list(rule.check(obj, tier))
        except Exception as exc:  # a rule must not take the whole check down with it
            messages = [f"could not be checked ({type(exc).__name__}: {exc})"]
        if not messages:
            continue
        reason = annotations.get(rule.waiver_annotation)
        waived = reason.strip() if isinstance(reason, str) and reason.strip() else None
        if rule.waiver_annotation in annotations and waived is None:
            out.append(Violation(rule.id, subject,
                                 f"annotation {rule.waiver_annotation} needs a reason as its "
                                 "value; the waiver is ignored"))
        out.extend(Violation(rule.id, subject, m, waived) for m in messages)
    return out


def check_bundle(bundle: Bundle, tier: Tier) -> tuple[Violation, ...]:
    """All violations in the bundle, in bundle order then rule order; never raises."""
    found: list[Violation] = []
    for obj in bundle.objects:
        found.extend(check_object(obj, tier))
    return tuple(found)


def blocking(violations: Iterable[Violation]) -> tuple[Violation, ...]:
    return tuple(v for v in violations if not v.waived)


def policy_error(violations: Iterable[Violation], *, tier: str,
                 where: str | None = None) -> PolicyError | None:
    """The error that blocks a sync, naming every unwaived violation; None when clean."""
    remaining = blocking(violations)
    if not remaining:
        return None
    lines = "\n".join(f"  {v}" for v in remaining)
    noun = "violation" if len(remaining) == 1 else "violations"
    return PolicyError(f"{len(remaining)} tier {tier} policy {noun}:\n{lines}", where=where,
                       action="nothing was applied")


def enforce(bundle: Bundle, tier: Tier, *, where: str | None = None) -> tuple[Violation, ...]:
    """Check the bundle; raise PolicyError if a violation is not waived, else return them all."""
    violations = check_bundle(bundle, tier)
    error = policy_error(violations, tier=tier.name, where=where)
    if error is not None:
        raise error
    return violations
