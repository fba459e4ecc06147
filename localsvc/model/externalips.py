"""Which of a Service's `spec.externalIPs` this machine can answer on (pure).

Both the node's svclb (which forwarders to run) and the host (which host ports an environment
holds) ask this; it lives in model/ so that the host need not import the node's Docker code.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any


def local_external_ips(spec: Mapping[str, Any], host_address: str) -> list[str]:
    """`spec.externalIPs` that this machine can answer on: loopback or the host address."""
    out = []
    for text in spec.get("externalIPs") or []:
        try:
            ip = ipaddress.ip_address(str(text))
        except ValueError:
            continue
        if ip.is_loopback or str(ip) == host_address:
            out.append(str(ip))
    return out
