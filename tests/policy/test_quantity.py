"""Kubernetes quantity parsing, checked against values the API server itself accepts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.policy.quantity import QuantityError, parse_quantity


@pytest.mark.parametrize(("text", "value"), [
    ("500m", Decimal("0.5")), ("1", Decimal(1)), (1, Decimal(1)), (0.25, Decimal("0.25")),
    ("2Gi", Decimal(2 * 1024**3)), ("512Mi", Decimal(512 * 1024**2)), ("1e3", Decimal(1000)),
    ("1E3", Decimal(1000)), ("1E", Decimal(10**18)), ("1.5Gi", Decimal(3 * 512 * 1024**2)),
    (".5", Decimal("0.5")), ("100k", Decimal(100_000)), ("128974848", Decimal(128974848)),
    ("129M", Decimal(129_000_000)), ("123Mi", Decimal(123 * 1024**2)), ("+2", Decimal(2)),
    ("250u", Decimal("0.00025")), ("1e-3", Decimal("0.001")), (" 64Mi ", Decimal(64 * 1024**2)),
])
def test_quantities_parse_to_base_units(text: object, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Gi", "2GB", "1.2.3", "1 Gi", "0x10", "1e", "abc",
                                  True, None, [1]])
def test_non_quantities_are_rejected_with_the_value_named(text: object) -> None:
    with pytest.raises(QuantityError, match="not a Kubernetes quantity"):
        parse_quantity(text)


@given(st.integers(min_value=0, max_value=10**6),
       st.sampled_from(["Ki", "Mi", "Gi", "m", "k", "M", "G"]))
def test_suffixes_scale_integers_exactly(n: int, suffix: str) -> None:
    scale = {"Ki": Decimal(1024), "Mi": Decimal(1024**2), "Gi": Decimal(1024**3),
             "m": Decimal("0.001"), "k": Decimal(1000), "M": Decimal(10**6),
             "G": Decimal(10**9)}[suffix]
    assert parse_quantity(f"{n}{suffix}") == n * scale
