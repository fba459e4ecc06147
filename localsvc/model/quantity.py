"""Kubernetes resource quantities as Docker limits. Pure.

Parsing is `names.parse_quantity`, the same function validation uses, so a limit that validated
always converts.
"""

from __future__ import annotations

from decimal import Decimal

from localsvc.model.names import parse_quantity


def _value(value: object) -> Decimal:
    parsed = None if isinstance(value, bool) else parse_quantity(str(value))
    if parsed is None:
        raise ValueError(f"{value!r} is not a quantity such as 500m, 2, 128Mi or 1G")
    return parsed


def cpu_to_nano_cpus(value: object) -> int:
    return int(_value(value) * Decimal(10) ** 9)


def memory_to_bytes(value: object) -> int:
    return int(_value(value))
