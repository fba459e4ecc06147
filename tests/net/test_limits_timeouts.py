"""RelayLimits' timeout overrides and budgets (net/limits.py), as the service proxy and the
svclb forwarder both take them."""

from __future__ import annotations

import pytest

from localsvc.net.forwarder import Forwarder
from localsvc.net.limits import RelayLimits
from localsvc.net.proxy import UserspaceProxy


def test_no_override_keeps_the_limits() -> None:
    limits = RelayLimits(tcp_max_connections=7)
    assert limits.with_timeouts() is limits


def test_each_given_timeout_replaces_only_itself() -> None:
    limits = RelayLimits(udp_idle_timeout=9.0, connect_timeout=2.0, tcp_max_per_source=3)
    assert limits.with_timeouts(udp_idle_timeout=1.5) == RelayLimits(
        udp_idle_timeout=1.5, connect_timeout=2.0, tcp_max_per_source=3)
    assert limits.with_timeouts(connect_timeout=0.5) == RelayLimits(
        udp_idle_timeout=9.0, connect_timeout=0.5, tcp_max_per_source=3)


def test_an_override_is_checked_like_the_limits() -> None:
    with pytest.raises(ValueError, match="connect_timeout must be positive"):
        RelayLimits().with_timeouts(connect_timeout=0)


def test_budgets_are_fresh_and_sized_by_the_limits() -> None:
    limits = RelayLimits(tcp_max_connections=5, tcp_max_per_source=2, udp_max_flows=4,
                         udp_max_flows_per_source=1)
    tcp, udp = limits.budgets()
    assert (tcp.total, tcp.per_source, udp.total, udp.per_source) == (5, 2, 4, 1)
    assert tcp.acquire("a")
    again, _ = limits.budgets()
    assert again.in_use == 0


def test_both_relays_apply_overrides_and_size_their_budgets() -> None:
    limits = RelayLimits(tcp_max_connections=11, udp_max_flows=13)
    for made in (Forwarder([], limits=limits, udp_idle_timeout=3.0, connect_timeout=4.0),
                 UserspaceProxy(limits=limits, udp_idle_timeout=3.0, connect_timeout=4.0)):
        check(made, limits)


def check(made: Forwarder | UserspaceProxy, limits: RelayLimits) -> None:
    assert made.limits == limits.with_timeouts(3.0, 4.0)
    assert (made.udp_idle_timeout, made.connect_timeout) == (3.0, 4.0)
    assert (made.tcp_budget.total, made.udp_budget.total) == (11, 13)
