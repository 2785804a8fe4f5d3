"""Strict validation of `POST /v1/reports` bodies.

Every rule lives in `REPORT_FIELDS`, which also writes the OpenAPI schema, so
what the service checks and what it documents cannot drift apart. A failure
names the field (`reports[3].created_at`) and the batch stores nothing.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fleet.store.model import IngestReport

MAX_BATCH = 500
RESULTS = ("applied", "unchanged", "deferred", "failed", "rolled_back")
KINDS = ("result", "heartbeat")


class SchemaError(ValueError):
    def __init__(self, field: str, message: str, index: int | None = None) -> None:
        self.field = field
        self.message = message
        self.index = index
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Rule:
    kind: str  # string | enum | time | uuid | int | failures | strings | durations
    required: bool = False
    nullable: bool = True
    max_len: int = 256
    choices: tuple[str, ...] = ()


REPORT_FIELDS: dict[str, Rule] = {
    "idempotency_key": Rule("uuid", required=True, nullable=False),
    "kind": Rule("enum", required=True, nullable=False, choices=KINDS),
    "created_at": Rule("time", required=True, nullable=False),
    "node": Rule("string", required=True, nullable=False, max_len=253),
    "tier": Rule("string", required=True, nullable=False, max_len=63),
    "region": Rule("string", max_len=63),
    "platform": Rule("string", max_len=64),
    "agent_version": Rule("string", max_len=64),
    "desired_revision": Rule("string", max_len=128),
    "applied_revision": Rule("string", max_len=128),
    "commit_time": Rule("time"),
    "apply_time": Rule("time"),
    "result": Rule("enum", choices=RESULTS),
    "health": Rule("string", max_len=64),
    "failures": Rule("failures", nullable=False, max_len=1000),
    "deferred_reason": Rule("string", max_len=1024),
    "images": Rule("strings", nullable=False, max_len=500),
    "durations": Rule("durations", nullable=False, max_len=50),
    "bytes_fetched": Rule("int", nullable=False),
    "spool_dropped": Rule("int", nullable=False),
}


def parse_body(raw: bytes) -> list[dict[str, Any]]:
    """The `reports` list of a batch body, each report checked against `REPORT_FIELDS`."""
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise SchemaError("body", f"not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise SchemaError("body", "must be a JSON object with a reports list")
    extra = sorted(set(data) - {"reports"})
    if extra:
        raise SchemaError(_safe(extra[0]), "unknown field")
    reports = data.get("reports")
    if not isinstance(reports, list):
        raise SchemaError("reports", "required, must be a list")
    if not 1 <= len(reports) <= MAX_BATCH:
        raise SchemaError("reports", f"must hold 1 to {MAX_BATCH} reports, got {len(reports)}")
    # In a UTF-8 body, NUL can only arrive as a \u escape and a lone surrogate as an
    # escape or as its raw three bytes (json decodes with surrogatepass); without
    # any of those every string is clean text and the per-string checks can go.
    deep = json.detect_encoding(raw) != "utf-8" or _SUSPECT.search(raw) is not None
    seen: set[str] = set()
    checked = []
    for index, item in enumerate(reports):
        report = check_report(item, f"reports[{index}]", index, deep=deep)
        if report["idempotency_key"] in seen:
            raise SchemaError(f"reports[{index}].idempotency_key", "repeated within the batch",
                              index)
        seen.add(report["idempotency_key"])
        checked.append(report)
    return checked


_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})|\xed[\xa0-\xbf]")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}")
_ALLOWED = frozenset(REPORT_FIELDS)


def _fast(rule: Rule, value: Any) -> bool:
    """True when `value` obviously satisfies `rule` (the common case, checked cheaply)."""
    kind = rule.kind
    if type(value) is str:
        if len(value) > rule.max_len:
            return False
        if kind == "string":
            return not rule.required or bool(value.strip())
        if kind == "enum":
            return value in rule.choices
        if kind == "uuid":
            return _UUID.fullmatch(value) is not None
        return False  # times are parsed by the full check
    if kind == "int":
        return type(value) is int and 0 <= value < 2**63
    return False


def check_report(item: Any, where: str, index: int, *, deep: bool = True) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise SchemaError(where, "must be an object", index)
    if not _ALLOWED.issuperset(item):
        extra = sorted(set(item) - _ALLOWED)
        raise SchemaError(f"{where}.{_safe(extra[0])}", "unknown field", index)
    out: dict[str, Any] = {}
    for name, rule in REPORT_FIELDS.items():
        if name not in item:
            if rule.required:
                raise SchemaError(f"{where}.{name}", "required", index)
            out[name] = _default(rule)
            continue
        value = item[name]
        if value is None:
            if not rule.nullable:
                raise SchemaError(f"{where}.{name}", "must not be null", index)
            out[name] = None
        elif not deep and _fast(rule, value):
            out[name] = value
        else:
            out[name] = _check_value(rule, value, f"{where}.{name}", index)
    if out["kind"] == "result" and out["result"] is None:
        raise SchemaError(f"{where}.result", "required when kind is result", index)
    return out


def _default(rule: Rule) -> Any:
    kind = rule.kind
    if kind == "int":
        return 0
    if kind == "durations":
        return {}
    return [] if kind in ("failures", "strings") else None


def _check_value(rule: Rule, value: Any, field: str, index: int) -> Any:
    if rule.kind in ("string", "enum", "time", "uuid"):
        text = _string(value, field, index, rule.max_len)
        if rule.kind == "enum" and text not in rule.choices:
            raise SchemaError(field, f"must be one of {', '.join(rule.choices)}", index)
        if rule.kind == "time":
            _timestamp(text, field, index)
        if rule.kind == "uuid":
            try:
                uuid.UUID(text)
            except ValueError:
                raise SchemaError(field, "must be a UUID", index) from None
        if rule.kind == "string" and rule.required and not text.strip():
            raise SchemaError(field, "must not be empty", index)
        return text
    if rule.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise SchemaError(field, "must be a non-negative integer", index)
        return value
    if rule.kind == "strings":
        items = _list(value, field, index, rule.max_len)
        return [_string(v, f"{field}[{i}]", index, 512) for i, v in enumerate(items)]
    if rule.kind == "failures":
        items = _list(value, field, index, rule.max_len)
        failures = []
        for i, entry in enumerate(items):
            where = f"{field}[{i}]"
            if not isinstance(entry, dict) or set(entry) != {"subject", "message"}:
                raise SchemaError(where, "must be an object with subject and message", index)
            failures.append({"subject": _string(entry["subject"], f"{where}.subject", index, 512),
                             "message": _string(entry["message"], f"{where}.message", index,
                                                4096)})
        return failures
    # durations: seconds per stage
    if not isinstance(value, dict):
        raise SchemaError(field, "must be an object of stage: seconds", index)
    if len(value) > rule.max_len:
        raise SchemaError(field, f"at most {rule.max_len} entries", index)
    durations: dict[str, float] = {}
    for key, seconds in value.items():
        name = _string(key, f"{field} key", index, 64)
        if (isinstance(seconds, bool) or not isinstance(seconds, int | float)
                or not math.isfinite(seconds) or seconds < 0 or seconds > 1e9):
            raise SchemaError(f"{field}.{_safe(name)}", "must be seconds >= 0", index)
        durations[name] = float(seconds)
    return durations


def _string(value: Any, field: str, index: int, max_len: int) -> str:
    if not isinstance(value, str):
        raise SchemaError(field, "must be a string", index)
    if len(value) > max_len:
        raise SchemaError(field, f"longer than {max_len} characters", index)
    if "\x00" in value:
        raise SchemaError(field, "must not contain NUL", index)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SchemaError(field, "must be valid Unicode (no lone surrogates)", index) from None
    return value


def _list(value: Any, field: str, index: int, max_len: int) -> list[Any]:
    if not isinstance(value, list):
        raise SchemaError(field, "must be a list", index)
    if len(value) > max_len:
        raise SchemaError(field, f"at most {max_len} entries", index)
    return value


def _timestamp(text: str, field: str, index: int) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SchemaError(field, "must be an RFC 3339 timestamp", index) from None
    if moment.tzinfo is None:
        raise SchemaError(field, "must carry a time zone (e.g. Z)", index)
    try:
        return moment.timestamp()
    except (OverflowError, OSError, ValueError):
        raise SchemaError(field, "out of range", index) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _safe(text: str) -> str:
    """A field name from the request, cut short and printable, for the error message."""
    return "".join(c if c.isprintable() else "?" for c in str(text)[:64])


def to_ingest(report: Mapping[str, Any]) -> IngestReport:
    def ts(name: str) -> float | None:
        value = report[name]
        return None if value is None else datetime.fromisoformat(value).timestamp()

    return IngestReport(
        idempotency_key=report["idempotency_key"], node=report["node"], tier=report["tier"],
        kind=report["kind"], created_at=ts("created_at") or 0.0,
        desired_revision=report["desired_revision"],
        applied_revision=report["applied_revision"], commit_time=ts("commit_time"),
        apply_time=ts("apply_time"), result=report["result"], health=report["health"],
        deferred_reason=report["deferred_reason"], failures=len(report["failures"]),
        platform=report["platform"], agent_version=report["agent_version"],
        body=json.dumps(report, separators=(",", ":"), ensure_ascii=False))
