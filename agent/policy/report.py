"""`edge-agent validate`: check every tier of a fleet repo and report as text, JSON or JUnit.

A fleet repo's CI runs this before anything reaches a node, so it reports every
problem of every tier at once (a render error in one tier does not hide another
tier's violations) and its exit status says whether the commit may ship.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from xml.etree import ElementTree as ET

from agent.errors import EdgesyncError
from agent.model import Bundle, ObjectKey
from agent.policy import Violation, blocking, check_bundle
from agent.tiers import TierPolicy, load_tiers

Renderer = Callable[[Path, str], Bundle]


@dataclass(frozen=True)
class TierReport:
    tier: str
    subjects: tuple[str, ...] = ()
    violations: tuple[Violation, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not blocking(self.violations)


@dataclass(frozen=True)
class RepoReport:
    repo: str
    tiers: tuple[TierReport, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tiers)


def default_renderer() -> Renderer:
    """`agent.render.render_tier`, looked up when first needed (the CLI stays fast)."""
    module = importlib.import_module("agent.render")
    render = getattr(module, "render_tier", None)
    if render is None:
        raise EdgesyncError("this build has no overlay renderer (agent.render.render_tier)")
    return cast(Renderer, render)


def validate_repo(repo: str | Path, tiers: Iterable[str] | None = None, *,
                  render: Renderer | None = None) -> RepoReport:
    """Render each tier (all of them when `tiers` is None) and check it against its policy.

    Raises ConfigError only when the tier policy itself cannot be read: without it
    there is nothing to check.
    """
    root = Path(repo)
    policy: TierPolicy = load_tiers(root)
    names = list(tiers) if tiers is not None else sorted(policy.tiers)
    reports = []
    for name in names:
        try:
            tier = policy.get(name)
            bundle = (render or default_renderer())(root, name)
        except EdgesyncError as exc:
            reports.append(TierReport(name, error=str(exc)))
            continue
        subjects = tuple(ObjectKey.of(o).subject for o in bundle.objects)
        reports.append(TierReport(name, subjects, check_bundle(bundle, tier)))
    return RepoReport(str(root), tuple(reports))


def to_json(report: RepoReport) -> dict[str, Any]:
    return {
        "repo": report.repo,
        "ok": report.ok,
        "tiers": [{
            "tier": t.tier,
            "ok": t.ok,
            "objects": len(t.subjects),
            "error": t.error,
            "violations": [{"rule": v.rule, "subject": v.subject, "message": v.message,
                            "waived": v.waived, "waived_reason": v.waived_reason}
                           for v in t.violations],
        } for t in report.tiers],
    }


def to_text(report: RepoReport) -> str:
    lines = []
    for t in report.tiers:
        if t.error is not None:
            lines.append(f"{t.tier}: cannot render: {t.error}")
            continue
        for v in t.violations:
            lines.append(f"{t.tier}: {v}")
        bad = len(blocking(t.violations))
        waived = len(t.violations) - bad
        status = "ok" if t.ok else f"{bad} violation{'s' if bad != 1 else ''}"
        lines.append(f"{t.tier}: {status} ({len(t.subjects)} objects, {waived} waived)")
    lines.append("policy: ok" if report.ok else "policy: FAILED")
    return "\n".join(lines) + "\n"


def to_junit(report: RepoReport) -> str:
    """One testsuite per tier, one testcase per object; a render error is an <error>."""
    suites = ET.Element("testsuites", name="edgesync policy")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for t in report.tiers:
        suite = ET.SubElement(suites, "testsuite", name=f"tier {t.tier}")
        counts = {"tests": 0, "failures": 0, "errors": 0}
        if t.error is not None:
            case = ET.SubElement(suite, "testcase", classname=t.tier, name="render")
            ET.SubElement(case, "error", message=t.error, type="RenderError").text = t.error
            counts["tests"] += 1
            counts["errors"] += 1
        for subject in t.subjects:
            case = ET.SubElement(suite, "testcase", classname=t.tier, name=subject)
            counts["tests"] += 1
            mine = [v for v in t.violations if v.subject == subject]
            failing = blocking(mine)
            if failing:
                counts["failures"] += 1
                failure = ET.SubElement(case, "failure", type=",".join(sorted({v.rule for v in
                                                                              failing})),
                                        message=failing[0].message)
                failure.text = "\n".join(f"[{v.rule}] {v.message}" for v in failing)
            waived = [v for v in mine if v.waived]
            if waived:
                ET.SubElement(case, "system-out").text = "\n".join(
                    f"waived [{v.rule}] {v.message}: {v.waived_reason}" for v in waived)
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n{body}\n'
