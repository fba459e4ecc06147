"""When the kubelet runs a container's probes: pure timing rules, no I/O.

Read from kubernetes v1.32 pkg/kubelet/prober (worker.go, prober_manager.go) and pkg/kubelet/pleg:

- Each probe of each container has a worker, made when the pod is added to the prober manager
  (the pod's first sync, before its sandbox exists). Its ticker starts then and ticks every
  periodSeconds, for the pod's life: a container started (or restarted) later is probed on the
  ticks of that same ticker, not on a period counted from its own start.
- Besides the ticks, a probe runs when the worker is *triggered*: on every pod sync while a
  started container is not ready, prober_manager.UpdatePodStatus triggers its readiness worker.
  A pod syncs when the kubelet notices one of its containers started: the generic PLEG (the
  default; evented PLEG is off) relists the runtime every second, so the start is noticed at
  the first relist after it. A readiness verdict that changes makes the pod sync too, so one
  turning not-ready (or a startup probe passing) triggers a readiness probe at once as well.
- A probe inside initialDelaySeconds (whole seconds since the container started, as Go's
  int32(...Seconds()) truncates) does nothing: the first real probe is the first tick or
  trigger once the delay is over.

Times are seconds on the caller's clock: the node schedules probes on the monotonic clock, so
that a wall clock set back or forward (NTP, a laptop's sleep) neither stalls nor bunches them;
`schedule_time` moves a wall-clock moment (a container's start as Docker says it) onto it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# pkg/kubelet/kubelet.go genericPlegRelistPeriod.
RELIST_PERIOD = 1.0


def schedule_time(wall_time: float, wall_now: float, schedule_now: float) -> float:
    """`wall_time` (a past moment on the wall clock) on the schedule's clock, whose time is
    `schedule_now` as the wall clock says `wall_now`: as long ago as the wall clock says, never
    in the future (the wall clock was set back since)."""
    return schedule_now - max(0.0, wall_now - wall_time)


def next_tick(ticker_start: float, period: float, after: float) -> float:
    """The first tick strictly after `after` of a ticker started at `ticker_start` (Go's
    time.Ticker: its first tick is one period after it starts)."""
    if period <= 0:
        raise ValueError("a probe period is positive")
    if after < ticker_start + period:
        return ticker_start + period
    ticks = math.floor((after - ticker_start) / period) + 1
    tick = ticker_start + ticks * period
    # Float rounding may land on `after` itself: the tick must lie after it.
    return tick if tick > after else tick + period


def noticed_at(started_at: float, relist_start: float,
               relist_period: float = RELIST_PERIOD) -> float:
    """When the kubelet, relisting every `relist_period` since `relist_start`, notices a
    container that started at `started_at`: at the first relist after the start (a container
    that started before the kubelet did is seen by its first relist)."""
    if started_at < relist_start:
        return relist_start
    ticks = math.floor((started_at - relist_start) / relist_period) + 1
    return relist_start + ticks * relist_period


def past_initial_delay(started_at: float, initial_delay: float, now: float) -> bool:
    """Whether the kubelet probes at `now`: whole seconds since the start, not less than the
    delay."""
    return math.floor(now - started_at) >= initial_delay


@dataclass(frozen=True)
class ProbeClock:
    """One probe of one container instance, as its kubelet worker times it."""

    ticker_start: float  # when the pod's probe workers were made
    period: float  # periodSeconds
    initial_delay: float  # initialDelaySeconds
    started_at: float  # the container instance's start

    def tick_after(self, moment: float) -> float:
        """The first tick after `moment` at which the initial delay is over."""
        tick = next_tick(self.ticker_start, self.period, moment)
        while not past_initial_delay(self.started_at, self.initial_delay, tick):
            tick = next_tick(self.ticker_start, self.period, tick)
        return tick

    def first_probe(self, triggered_at: float) -> float:
        """The first probe of the instance: the trigger at `triggered_at` (the kubelet noticed
        the start) when the initial delay is over by then, else the first tick after it."""
        if past_initial_delay(self.started_at, self.initial_delay, triggered_at):
            return triggered_at
        return self.tick_after(triggered_at)

    def next_probe(self, last: float) -> float:
        """The probe after the one at `last`, unless a trigger comes first: the next tick."""
        return self.tick_after(last)

