"""Tests of localsvc.model.kubelet_probes: when the kubelet probes a container (its probe
worker's ticker started with the pod, the readiness probe triggered once the PLEG relist noticed
the start, the initial delay in whole seconds)."""

from __future__ import annotations

import pytest

from localsvc.model.kubelet_probes import (
    RELIST_PERIOD,
    ProbeClock,
    next_tick,
    noticed_at,
    past_initial_delay,
)

T0 = 1_000.0  # when the pod's probe workers were made


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (T0 - 5, T0 + 2),  # a ticker's first tick is one period after it starts
        (T0, T0 + 2),
        (T0 + 1.9, T0 + 2),
        (T0 + 2, T0 + 4),  # strictly after
        (T0 + 2.01, T0 + 4),
        (T0 + 7.5, T0 + 8),
    ],
)
def test_ticks_come_every_period_from_the_ticker_start(after: float, expected: float) -> None:
    assert next_tick(T0, 2.0, after) == pytest.approx(expected)


def test_a_tick_is_never_the_moment_asked_about_even_with_float_rounding() -> None:
    start, period = 0.1, 0.1
    for k in range(1, 200):
        moment = start + k * period
        assert next_tick(start, period, moment) > moment


def test_a_period_must_be_positive() -> None:
    with pytest.raises(ValueError):
        next_tick(T0, 0.0, T0)


@pytest.mark.parametrize(
    ("started", "expected"),
    [
        (T0 + 0.2, T0 + 1),  # seen by the next relist
        (T0 + 0.999, T0 + 1),
        (T0 + 1.0, T0 + 2),  # a relist at the very moment did not see it yet
        (T0 + 3.4, T0 + 4),
        (T0 - 100, T0),  # started before the kubelet: its first relist sees it
    ],
)
def test_the_pleg_notices_a_start_at_its_next_relist(started: float, expected: float) -> None:
    assert noticed_at(started, T0) == pytest.approx(expected)
    assert 0 <= noticed_at(started, T0) - max(started, T0) <= RELIST_PERIOD


@pytest.mark.parametrize(
    ("elapsed", "delay", "probes"),
    [(0.0, 0, True), (4.99, 5, False), (5.0, 5, True), (5.7, 5, True), (100, 0, True)],
)
def test_the_initial_delay_counts_whole_seconds(elapsed: float, delay: float, probes: bool) -> None:
    assert past_initial_delay(T0, delay, T0 + elapsed) is probes


def test_an_app_listening_within_the_first_period_is_ready_at_the_next_tick() -> None:
    """The pod's workers were made at T0; its container started 0.6 s later (sandbox, image,
    create); the kubelet noticed it at the next relist and triggered the readiness probe; the
    app was not listening yet: the next probe is the ticker's, T0 + period, not start + period."""
    started = T0 + 0.6
    clock = ProbeClock(ticker_start=T0, period=2.0, initial_delay=0, started_at=started)
    triggered = noticed_at(started, relist_start=T0 - 0.3)
    assert triggered == pytest.approx(T0 + 0.7)
    first = clock.first_probe(triggered)
    assert first == triggered
    assert clock.next_probe(first) == pytest.approx(T0 + 2.0)
    assert clock.next_probe(T0 + 2.0) == pytest.approx(T0 + 4.0)


def test_a_restarted_container_keeps_the_pods_ticks() -> None:
    clock = ProbeClock(ticker_start=T0, period=10.0, initial_delay=0, started_at=T0 + 33.0)
    assert clock.first_probe(T0 + 33.5) == T0 + 33.5  # triggered
    assert clock.next_probe(T0 + 33.5) == pytest.approx(T0 + 40.0)


def test_inside_the_initial_delay_the_first_probe_is_the_first_tick_after_it() -> None:
    clock = ProbeClock(ticker_start=T0, period=2.0, initial_delay=5, started_at=T0 + 0.5)
    # The trigger at T0 + 1 falls inside the delay, and so do the ticks at T0 + 2 and T0 + 4
    # (3.5 s after the start); T0 + 6 is 5.5 s after it.
    assert clock.first_probe(T0 + 1.0) == pytest.approx(T0 + 6.0)
    assert clock.tick_after(T0 + 1.0) == pytest.approx(T0 + 6.0)


def test_an_initial_delay_ending_on_a_tick_probes_on_that_tick() -> None:
    clock = ProbeClock(ticker_start=T0, period=1.0, initial_delay=3, started_at=T0)
    assert clock.first_probe(T0 + 0.5) == pytest.approx(T0 + 3.0)


def test_without_a_trigger_the_ticks_alone_time_the_probes() -> None:
    """Liveness and startup probes are never triggered: their first run is a tick."""
    clock = ProbeClock(ticker_start=T0, period=3.0, initial_delay=0, started_at=T0 + 1.0)
    assert clock.tick_after(T0 + 1.0) == pytest.approx(T0 + 3.0)


@pytest.mark.parametrize(
    "wall_time, wall_now, expected",
    [
        (1_000.0, 1_000.0, 500.0),  # now
        (997.5, 1_000.0, 497.5),  # 2.5 s ago on both clocks
        (4_600.0, 1_000.0, 500.0),  # the wall clock was set back an hour since: not in the future
    ],
)
def test_schedule_time_puts_a_wall_clock_moment_on_the_schedules_clock(
        wall_time: float, wall_now: float, expected: float) -> None:
    from localsvc.model.kubelet_probes import schedule_time

    assert schedule_time(wall_time, wall_now, schedule_now=500.0) == expected
