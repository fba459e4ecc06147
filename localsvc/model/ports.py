"""A container port by number or by name: the one lookup Services, probes and port-forward share.

Kubernetes lets a Service's targetPort, a probe's port and `port-forward`'s remote port name a
container port (`ports[].name`) instead of giving its number; all three resolve it here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def container_port(
    port: Any, containers: Iterable[dict[str, Any]], protocol: str | None = None
) -> int | None:
    """`port` as a number: an int, a string of digits, or the name of a port of one of
    `containers` (of `protocol`, when given; a port without one is TCP). None when no container
    has a port of that name."""
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for container in containers:
        for p in container.get("ports") or []:
            if p.get("name") != port:
                continue
            if protocol is None or (p.get("protocol") or "TCP") == protocol:
                return int(p["containerPort"])
    return None
