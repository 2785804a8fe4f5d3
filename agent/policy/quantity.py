"""Kubernetes resource quantities (`500m`, `1`, `2Gi`, `512Mi`, `1e3`) as exact decimals.

The grammar is the one of `k8s.io/apimachinery/pkg/api/resource`: a signed
decimal number followed by a binary-SI suffix, a decimal-SI suffix or a
decimal exponent. Decimals, not floats, so `0.1 + 0.2` CPUs compare exactly.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
    "P": Decimal("1e15"), "E": Decimal("1e18"),
}
# The exponent alternative comes first: `1E3` is 1000, while a bare `1E` is one exa.
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?:(?P<exponent>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)"
)


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


@lru_cache(maxsize=1024)
def _parse_text(text: str) -> Decimal:
    match = _QUANTITY.fullmatch(text.strip())
    if match is None:
        raise QuantityError(f"{text!r} is not a Kubernetes quantity (e.g. 500m, 1, 2Gi, 1e3)")
    try:
        number = Decimal(match["number"])
        if match["exponent"]:
            return number * Decimal(10) ** int(match["exponent"][1:])
        suffix = match["suffix"] or ""
        if suffix in _BINARY:
            return number * _BINARY[suffix]
        return number * _DECIMAL[suffix]
    except InvalidOperation as exc:  # an exponent too large for the decimal context
        raise QuantityError(f"{text!r} is out of range") from exc


def parse_quantity(value: object) -> Decimal:
    """Return the quantity's value in base units (cores, bytes); raise QuantityError if invalid.

    YAML may hand over a number (`cpu: 1`, `cpu: 0.5`) as well as a string.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise QuantityError(f"{value!r} is not a Kubernetes quantity")
    return _parse_text(value if isinstance(value, str) else repr(value))

