"""Bounds on what clients can make the node (and svclb containers) hold: the numbers, and the
budget that enforces "so many in all, so many per source" (pure, no I/O).

Every relay and server that accepts input from pods or the host takes a slot from a
SourceBudget before it holds anything (a socket, a task, a flow) and gives it back when done, so
that one client, however many connections or flows it opens, can use only its share and the
others are still served.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RelayLimits:
    """The bounds of the userspace service proxy and of the svclb forwarder (one set for both).

    TCP relays hold two sockets each. 4,096 in all keeps a relay process well under the common
    soft limit of open files once its listeners are counted; 1,024 per source leaves three
    quarters of them to the others when one client (a load test, a leak) fills its share.
    Seen from an svclb container, connections to a published port from the host's loopback all
    come from the bridge gateway (Docker's proxy), hence the generous per-source share.

    An established TCP relay with no byte either way for an hour is closed, like a conntrack
    entry expiring (kube-proxy sets 24 h for nf_conntrack's established timeout, the kernel
    default is 5 days; an hour is longer than the idle limit of common connection pools and load
    balancers, and frees what dead peers hold far sooner). Set tcp_idle_timeout to None for none.

    UDP flows hold one socket each and, like conntrack's UDP entries (30 s unreplied), end after
    30 s without a datagram either way. New flows beyond the caps are dropped, as a full
    conntrack table drops packets of new flows; existing flows carry on.
    """

    connect_timeout: float = 5.0
    tcp_max_connections: int = 4096
    tcp_max_per_source: int = 1024
    tcp_idle_timeout: float | None = 3600.0
    udp_idle_timeout: float = 30.0
    udp_max_flows: int = 4096
    udp_max_flows_per_source: int = 1024

    def __post_init__(self) -> None:
        for name in ("tcp_max_connections", "tcp_max_per_source", "udp_max_flows",
                     "udp_max_flows_per_source"):
            if getattr(self, name) < 1:
                raise ValueError(f"RelayLimits.{name} must be at least 1 (got {getattr(self, name)})")
        for name in ("connect_timeout", "udp_idle_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"RelayLimits.{name} must be positive (got {getattr(self, name)})")
        if self.tcp_idle_timeout is not None and self.tcp_idle_timeout <= 0:
            raise ValueError(
                f"RelayLimits.tcp_idle_timeout must be positive or None (got {self.tcp_idle_timeout})"
            )

    def with_timeouts(self, udp_idle_timeout: float | None = None,
                      connect_timeout: float | None = None) -> RelayLimits:
        """These limits with either timeout replaced where one is given (the relays' keyword
        arguments that predate RelayLimits)."""
        given: dict[str, Any] = {"udp_idle_timeout": udp_idle_timeout,
                                 "connect_timeout": connect_timeout}
        changes = {name: value for name, value in given.items() if value is not None}
        return dataclasses.replace(self, **changes) if changes else self

    def budgets(self) -> tuple[SourceBudget, SourceBudget]:
        """Fresh budgets of (TCP connections, UDP flows): one pair per relay, shared by all of
        its listeners, so the caps hold for the relay as a whole."""
        return (SourceBudget(self.tcp_max_connections, self.tcp_max_per_source),
                SourceBudget(self.udp_max_flows, self.udp_max_flows_per_source))


class SourceBudget:
    """`total` slots shared by every source, at most `per_source` of them held by any one.

    acquire() says whether a source may take one more slot (and takes it); release() gives one
    back. Counts are exact: each successful acquire() must be matched by exactly one release().
    """

    def __init__(self, total: int, per_source: int) -> None:
        if total < 1 or per_source < 1:
            raise ValueError(f"budget sizes must be at least 1 (got {total}, {per_source})")
        self.total = total
        self.per_source = per_source
        self.in_use = 0
        self.refused = 0  # acquire() calls that found no slot, ever
        self._held: Counter[str] = Counter()

    def held(self, source: str) -> int:
        return self._held[source]

    def acquire(self, source: str) -> bool:
        if self.in_use >= self.total or self._held[source] >= self.per_source:
            self.refused += 1
            return False
        self.in_use += 1
        self._held[source] += 1
        return True

    def release(self, source: str) -> None:
        count = self._held[source]
        if count <= 0:
            raise ValueError(f"release() for {source!r}, which holds no slot")
        if count == 1:
            del self._held[source]  # keep the table as small as the set of active sources
        else:
            self._held[source] = count - 1
        self.in_use -= 1
