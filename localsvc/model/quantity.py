"""Kubernetes resource quantities (`500m`, `1.5`, `128Mi`, `1G`) as numbers. Pure."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_SUFFIX = {
    "": Decimal(1),
    "n": Decimal("0.000000001"),
    "u": Decimal("0.000001"),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")


def parse_quantity(value: object) -> Decimal:
    """`"500m"` -> 0.5, `"128Mi"` -> 134217728. Raises ValueError for anything else."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a quantity")
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a quantity")
    match = _QUANTITY.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a quantity such as 500m, 2, 128Mi or 1G")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation as err:
        raise ValueError(f"{value!r} is not a quantity") from err
    return number * _SUFFIX[match.group(2) or ""]


def cpu_to_nano_cpus(value: object) -> int:
    return int(parse_quantity(value) * Decimal(10) ** 9)


def memory_to_bytes(value: object) -> int:
    return int(parse_quantity(value))
