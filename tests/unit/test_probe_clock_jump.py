"""Probe schedules run on the monotonic clock, and a container's start, which is on the wall
clock (the node's, or Docker's StartedAt for an adopted container), is moved onto it: a wall
clock set back (NTP, a laptop waking up) after the container started must not put its start in
the future (its readiness probe would wait as long as the jump), nor one set forward hold it back.
A real TCP readiness probe against a listener on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from localsvc.node.podprobes import PodProbes
from localsvc.node.podstate import ContainerState

HOUR = 3600.0


def listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.mark.parametrize("jump", [-HOUR, HOUR])
def test_the_readiness_probe_runs_on_time_when_the_wall_clock_jumps(
        monkeypatch: pytest.MonkeyPatch, jump: float) -> None:
    server = listener()
    port = server.getsockname()[1]
    spec = {"name": "app", "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1}}
    changes: list[bool] = []

    async def main() -> float:
        c = ContainerState(name="app", image="demo", init=False, container_id="c1",
                           state="running", started_at=time.time())
        probes = PodProbes(None, "default/p", on_change=lambda: changes.append(c.probe_ready),
                           wake=lambda: None)
        real_time = time.time
        # The wall clock jumps as the container has started, before its prober is made.
        monkeypatch.setattr(time, "time", lambda: real_time() + jump)
        began = time.monotonic()
        probes.ensure(c, spec, "127.0.0.1")
        try:
            while not c.probe_ready:
                assert time.monotonic() - began < 5, "no readiness verdict within 5 s"
                await asyncio.sleep(0.02)
        finally:
            probes.cancel_all()
        return time.monotonic() - began

    try:
        took = asyncio.run(main())
    finally:
        server.close()
    # Triggered at the next relist after the start (within a second), as without the jump.
    assert took < 1.5
    assert changes == [True]
