"""Report validation: text the store cannot keep is refused however it is encoded."""

from __future__ import annotations

import json

import pytest

from fleet.api.schema import SchemaError, parse_body

BASE = {"idempotency_key": "8c1b3f0e-7d7a-4c1e-9a55-0d7e2b9c1a11", "kind": "heartbeat",
        "created_at": "2026-01-01T00:00:00Z", "node": "n", "tier": "t"}


def _body(report: dict[str, object]) -> bytes:
    return b'{"reports":[' + json.dumps(report).encode() + b"]}"


def test_clean_report_passes_with_defaults() -> None:
    [report] = parse_body(_body(BASE))
    assert report["tier"] == "t" and report["failures"] == [] and report["bytes_fetched"] == 0


@pytest.mark.parametrize("raw", [
    _body(dict(BASE, health="ok\u0000")),  # NUL as an escape
    _body(BASE).replace(b'"t"}', b'"\xed\xa0\x80"}'),  # raw UTF-8 bytes of a surrogate
    _body(BASE).replace(b'"t"}', b'"\\udc80"}'),  # surrogate as an escape
    json.dumps({"reports": [dict(BASE, tier="\ud800")]}, ensure_ascii=False)
    .encode("utf-16-le", "surrogatepass"),  # another encoding altogether
], ids=["nul-escape", "raw-surrogate", "surrogate-escape", "utf-16"])
def test_text_the_store_cannot_keep_is_refused(raw: bytes) -> None:
    with pytest.raises(SchemaError, match=r"reports\[0\]\.(health|tier)"):
        parse_body(raw)


@pytest.mark.parametrize(("change", "field"), [
    ({"idempotency_key": "8c1b3f0e-7d7a-4c1e-9a55-0d7e2b9c1a1"}, "idempotency_key"),
    ({"node": " "}, "node"),
    ({"node": "x" * 254}, "node"),
    ({"bytes_fetched": True}, "bytes_fetched"),
    ({"bytes_fetched": 2**63}, "bytes_fetched"),
    ({"kind": "result"}, "result"),
    ({"durations": {"apply": float("1e10")}}, "durations.apply"),
])
def test_each_rule_names_its_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(SchemaError) as caught:
        parse_body(_body(dict(BASE, **change)))
    assert caught.value.field == f"reports[0].{field}"


def test_nan_and_infinity_are_not_json() -> None:
    with pytest.raises(SchemaError, match="body"):
        parse_body(b'{"reports":[{"durations":{"a":NaN}}]}')
