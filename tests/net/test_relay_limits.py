"""Bounds on what clients can make the node's relays hold (issue 10, cases 6 and 10).

The budget and the limits are pure (first section); the relays are then tested on loopback:
the userspace proxy and the svclb forwarder on 127.0.0.1, clients from 127.0.0.2/127.0.0.3 (Linux
routes all of 127/8 to lo), upstreams that are plain servers on 127.0.0.1."""

from __future__ import annotations

import pytest

from localsvc.net.limits import RelayLimits, SourceBudget

# ------------------------------------------------------------------------------ pure: budget


def test_budget_caps_each_source_and_the_total() -> None:
    budget = SourceBudget(total=5, per_source=2)
    assert [budget.acquire("a") for _ in range(3)] == [True, True, False]
    assert [budget.acquire("b") for _ in range(2)] == [True, True]
    assert budget.acquire("c") is True  # the fifth and last slot
    assert budget.acquire("d") is False  # total spent, although d holds nothing
    assert (budget.in_use, budget.refused) == (5, 2)
    assert (budget.held("a"), budget.held("b"), budget.held("c"), budget.held("d")) == (2, 2, 1, 0)


def test_budget_release_gives_the_slot_back_to_everyone() -> None:
    budget = SourceBudget(total=2, per_source=2)
    assert budget.acquire("a") and budget.acquire("a")
    assert not budget.acquire("b")
    budget.release("a")
    assert budget.acquire("b")
    budget.release("a")
    budget.release("b")
    assert budget.in_use == 0 and budget.held("a") == 0
    with pytest.raises(ValueError, match="holds no slot"):
        budget.release("a")  # an unmatched release is a bug, not a free slot


def test_budget_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SourceBudget(total=0, per_source=1)
    with pytest.raises(ValueError):
        SourceBudget(total=1, per_source=0)


def test_relay_limits_defaults_and_validation() -> None:
    limits = RelayLimits()
    assert limits.tcp_max_per_source < limits.tcp_max_connections
    assert limits.udp_max_flows_per_source < limits.udp_max_flows
    assert limits.tcp_idle_timeout == 3600.0 and limits.udp_idle_timeout == 30.0
    assert RelayLimits(tcp_idle_timeout=None).tcp_idle_timeout is None
    with pytest.raises(ValueError, match="RelayLimits.tcp_max_per_source must be at least 1"):
        RelayLimits(tcp_max_per_source=0)
    with pytest.raises(ValueError, match="RelayLimits.udp_idle_timeout must be positive"):
        RelayLimits(udp_idle_timeout=0)
    with pytest.raises(ValueError, match="RelayLimits.tcp_idle_timeout must be positive or None"):
        RelayLimits(tcp_idle_timeout=-1)
