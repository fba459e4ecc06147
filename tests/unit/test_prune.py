"""Which environments `prune` removes: only those whose node has been gone for a while."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from localsvc.runtime.prune import PRUNE_AGE, EnvState, Pruned, docker_time, is_orphan

NOW = 1_800_000_000.0


@pytest.mark.parametrize("status", ["running", "restarting", "paused", "removing"])
def test_active_node_is_never_pruned(status: str) -> None:
    assert not is_orphan(EnvState("e", status, NOW - 86400), NOW)


@pytest.mark.parametrize("status", ["missing", "exited", "dead", "created"])
def test_gone_node_is_pruned_after_the_age(status: str) -> None:
    assert is_orphan(EnvState("e", status, NOW - PRUNE_AGE), NOW)
    assert is_orphan(EnvState("e", status, NOW - 3600), NOW)


def test_environment_being_created_is_left_alone() -> None:
    """Regression (issue 10 case 8): prune removed an environment whose network `up` had just
    created, before the node existed."""
    assert not is_orphan(EnvState("e", "missing", NOW - 2), NOW)
    assert not is_orphan(EnvState("e", "created", NOW - 0.5), NOW)


def test_node_that_just_exited_is_left_alone() -> None:
    assert not is_orphan(EnvState("e", "exited", NOW - 10), NOW)
    assert not is_orphan(EnvState("e", "exited", NOW - 10), NOW, min_age=30)
    assert is_orphan(EnvState("e", "exited", NOW - 10), NOW, min_age=5)


def test_docker_times() -> None:
    expected = datetime(2026, 12, 7, 3, 7, 14, 123456, tzinfo=timezone.utc).timestamp()
    assert docker_time("2026-12-07T03:07:14.123456789Z") == pytest.approx(expected)
    assert docker_time("2026-12-07T03:07:14Z") == pytest.approx(expected - 0.123456)
    assert docker_time("2026-12-07T04:07:14.5+01:00") == pytest.approx(expected - 0.123456 + 0.5)
    assert docker_time(1_700_000_000) == 1_700_000_000.0
    assert docker_time("0001-01-01T00:00:00Z") is None  # never finished
    assert docker_time("") is None
    assert docker_time(None) is None
    assert docker_time("yesterday") is None
    assert docker_time(0) is None


def test_message_is_the_cli_line() -> None:
    pruned = Pruned("old", "exited", {"containers": 3, "networks": 1, "volumes": 2})
    assert pruned.message() == \
        "environment old (node exited) removed: 3 containers, 1 networks, 2 volumes"


def test_an_environment_that_cannot_be_removed_says_why() -> None:
    pruned = Pruned("old", "exited", {}, "network localsvc-old has active endpoints")
    assert pruned.message() == \
        "environment old (node exited) not removed: network localsvc-old has active endpoints"
