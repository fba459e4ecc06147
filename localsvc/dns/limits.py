"""The DNS server's bounds (what one client may hold) and its counters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DnsLimits:
    """What the DNS server lets clients hold, so that one pod cannot deny DNS to the others.

    TCP connections and forwarded queries have budgets of their own (an idle TCP connection
    never takes a forwarding slot), each with a share per source address:
    - TCP: 1,024 connections in all, 32 per source (a stub resolver needs one or two; 32 leaves
      room for a pod with several resolving processes). A connection must send its first query
      within `tcp_read_timeout` and the next ones within `tcp_idle_timeout` of the last (10 s,
      CoreDNS's idle timeout; unbound's default is 30 s); once a query's length has arrived its
      bytes must follow within `tcp_read_timeout`, and a client must take its reply as fast.
    - Forwarded queries (out-of-zone names and CNAME targets, waiting on an upstream for up to
      the upstream timeout): 1,024 at once in all, 256 per source; beyond that, SERVFAIL at once.
    """

    tcp_max_clients: int = 1024
    tcp_max_per_source: int = 32
    tcp_idle_timeout: float = 10.0
    tcp_read_timeout: float = 3.0
    forward_max: int = 1024
    forward_max_per_source: int = 256


@dataclass
class DnsStats:
    queries: int = 0
    cache_hits: int = 0
    forwarded: int = 0
    malformed: int = 0
    servfail: int = 0
    errors: int = 0  # bugs caught on the hot path (logged)
    forward_refused: int = 0  # forwarded queries answered SERVFAIL for want of a slot
    tcp_refused: int = 0  # TCP connections closed at once for want of a slot
    tcp_timeouts: int = 0  # TCP connections closed for idling or reading/writing too slowly
