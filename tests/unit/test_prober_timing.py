"""When ContainerProber runs its probes: the kubelet's schedule (localsvc.model.kubelet_probes)
on a fake clock that moves only when the prober sleeps (by what it sleeps: so each test runs one
probe loop at a time). Each probe answers from a script and records the clock's time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from localsvc.node import prober
from localsvc.node.prober import ContainerProber, ProbeResult

T0 = 50_000.0  # the pod's probe workers are made
Obj = dict[str, Any]


class Clock:
    def __init__(self) -> None:
        self.now = T0


class Scripted:
    """probe_once answering each probe kind (its exec command) from a list, recording when."""

    def __init__(self, clock: Clock, **answers: list[bool]) -> None:
        self.clock = clock
        self.answers = answers
        self.calls: list[tuple[str, float]] = []
        self.done = asyncio.Event()

    async def __call__(self, probe: Obj, container: Obj, ip: str, exec_fn: Any) -> ProbeResult:
        kind = probe["exec"]["command"][0]
        if not self.answers[kind]:  # its script is used up: it blocks, and is not recorded
            if not any(self.answers.values()):
                self.done.set()
            await asyncio.Event().wait()
        self.calls.append((kind, round(self.clock.now - T0, 3)))
        return ProbeResult(self.answers[kind].pop(0), "no", "no")


def run(monkeypatch: pytest.MonkeyPatch, container: Obj, started: float, noticed: float,
        **answers: list[bool]) -> tuple[list[tuple[str, float]], list[bool]]:
    clock = Clock()
    script = Scripted(clock, **answers)
    real_sleep = asyncio.sleep

    async def sleep(delay: float, result: Any = None) -> Any:
        clock.now += max(0.0, delay)
        return await real_sleep(0, result)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    monkeypatch.setattr(prober, "_now", lambda: clock.now)
    monkeypatch.setattr(prober, "probe_once", script)
    ready: list[bool] = []

    async def main() -> None:
        clock.now = T0 + started  # the prober is made as the container starts
        p = ContainerProber(container, "127.0.0.1", T0 + started, no_exec,
                            lambda ok, message: ready.append(ok), lambda kind, why: None,
                            ticker_start=T0, noticed_at=T0 + noticed)
        task = asyncio.ensure_future(p.run())
        done = asyncio.ensure_future(script.done.wait())
        await asyncio.wait_for(asyncio.wait({task, done}, return_when=asyncio.FIRST_COMPLETED), 2)
        task.cancel()
        done.cancel()
        await asyncio.gather(task, done, return_exceptions=True)

    asyncio.run(main())
    return script.calls, ready


async def no_exec(command: list[str], timeout: float) -> ProbeResult:
    raise AssertionError("not called: probe_once is scripted")


def probe(kind: str, **settings: Any) -> Obj:
    return {"exec": {"command": [kind]}, **settings}


T, F = True, False


def test_readiness_is_probed_once_noticed_then_on_the_pods_ticks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    container = {"name": "c", "readinessProbe": probe("ready", periodSeconds=2)}
    calls, ready = run(monkeypatch, container, started=0.6, noticed=0.9, ready=[F, T, T])
    # Not start + 2.9: the pod's ticker, started with the pod, ticks at 2 and 4.
    assert calls == [("ready", 0.9), ("ready", 2.0), ("ready", 4.0)]
    assert ready == [False, True]


def test_an_app_listening_by_the_trigger_is_ready_then(monkeypatch: pytest.MonkeyPatch) -> None:
    container = {"name": "c", "readinessProbe": probe("ready", periodSeconds=10)}
    calls, ready = run(monkeypatch, container, started=0.5, noticed=1.0, ready=[T])
    assert calls == [("ready", 1.0)] and ready == [True]


def test_liveness_waits_for_its_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    container = {"name": "c", "livenessProbe": probe("live", periodSeconds=3)}
    calls, _ = run(monkeypatch, container, started=1.0, noticed=1.5, live=[T, T])
    assert calls == [("live", 3.0), ("live", 6.0)]


def test_a_passing_startup_probe_triggers_readiness_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    container = {"name": "c", "startupProbe": probe("start", periodSeconds=1),
                 "readinessProbe": probe("ready", periodSeconds=5)}
    calls, ready = run(monkeypatch, container, started=0.5, noticed=1.0, start=[F, T],
                       ready=[T, T])
    # The startup probe is never triggered (its first run is a tick); once it passes, the
    # readiness probe runs at once, then on its own ticks.
    assert calls == [("start", 1.0), ("start", 2.0), ("ready", 2.0), ("ready", 5.0)]
    assert ready == [True]


def test_turning_unready_probes_again_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    container = {"name": "c", "readinessProbe": probe("ready", periodSeconds=2,
                                                      failureThreshold=1)}
    calls, ready = run(monkeypatch, container, started=0.0, noticed=0.5, ready=[T, F, T])
    assert calls == [("ready", 0.5), ("ready", 2.0), ("ready", 2.0)]
    assert ready == [True, False, True]


def test_the_initial_delay_holds_back_trigger_and_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    container = {"name": "c", "readinessProbe": probe("ready", periodSeconds=2,
                                                      initialDelaySeconds=3)}
    calls, _ = run(monkeypatch, container, started=0.5, noticed=1.0, ready=[T])
    assert calls == [("ready", 4.0)]  # 3.5 s after the start: the first tick past the delay


def test_a_tick_missed_by_a_slow_probe_comes_at_once_then_the_ticks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Go's ticker keeps one missed tick: a probe outlasting the period is followed by one at
    once, then the ticker's own ticks (not a burst of every tick missed)."""
    container = {"name": "c", "livenessProbe": probe("live", periodSeconds=1)}
    original = Scripted.__call__

    async def slow(self: Scripted, probe_: Obj, container_: Obj, ip: str, exec_fn: Any
                   ) -> ProbeResult:
        result = await original(self, probe_, container_, ip, exec_fn)
        if len(self.calls) == 1:
            self.clock.now += 2.5  # the first attempt took 2.5 s
        return result

    monkeypatch.setattr(Scripted, "__call__", slow)
    calls, _ = run(monkeypatch, container, started=0.0, noticed=0.2, live=[T, T, T])
    assert calls == [("live", 1.0), ("live", 3.5), ("live", 4.0)]
