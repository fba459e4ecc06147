"""The reaper's decisions (when is the owner gone) and the lease holder surviving a node
replacement, against real loopback servers (no Docker)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from aiohttp import web

from localsvc.host.lease import LeaseHolder
from localsvc.runtime.nodeaddress import NodeAddress
from localsvc.node.reaper import LeaseClock, Reaper, docker_socket_source

GRACE = 15.0


def test_unowned_environment_is_never_reaped() -> None:
    clock = LeaseClock(grace=GRACE, owned=False)
    clock.api_answers(0.0)
    assert not clock.should_reap(1000.0)


def test_clock_starts_when_the_api_answers_not_at_process_start() -> None:
    # Owned (flag from an earlier run); the node took 40 s to adopt its pods before serving.
    clock = LeaseClock(grace=GRACE, owned=True)
    assert not clock.should_reap(40.0)  # API not answering yet: never reap
    clock.api_answers(40.0)
    assert not clock.should_reap(54.0)
    assert clock.should_reap(55.5)


def test_lease_reestablished_within_grace_is_honoured() -> None:
    clock = LeaseClock(grace=GRACE, owned=True)
    clock.api_answers(0.0)  # a replaced node: its API answers, the owner reconnects 2 s later
    clock.lease_taken()
    assert not clock.should_reap(2000.0)


def test_grace_counts_from_the_last_release() -> None:
    clock = LeaseClock(grace=GRACE, owned=False)
    clock.api_answers(0.0)
    assert clock.lease_taken() is True
    assert clock.lease_taken() is False  # already owned
    clock.lease_released(100.0)
    assert not clock.should_reap(200.0)  # one lease still held
    clock.lease_released(300.0)
    assert not clock.should_reap(314.0)
    clock.lease_taken()  # the owner came back within the grace period
    assert not clock.should_reap(400.0)
    clock.lease_released(400.0)
    assert clock.should_reap(415.5)


def test_release_never_goes_negative() -> None:
    clock = LeaseClock(grace=GRACE, owned=True)
    clock.api_answers(0.0)
    clock.lease_released(1.0)
    clock.lease_released(1.0)
    clock.lease_taken()
    assert clock.leases == 1 and not clock.should_reap(100.0)


def test_reaper_mounts_the_socket_the_node_uses() -> None:
    mounts = [{"Destination": "/var/lib/localsvc", "Source": "/var/lib/docker/volumes/x/_data"},
              {"Destination": "/var/run/docker.sock", "Source": "/run/user/1000/docker.sock"}]
    assert docker_socket_source(mounts, "/var/run/docker.sock") == "/run/user/1000/docker.sock"
    assert docker_socket_source([], "/var/run/docker.sock") == "/var/run/docker.sock"


# ---- real loopback servers ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeNode:
    """A real aiohttp server on loopback with the node's auth rule and the Reaper's routes."""

    def __init__(self, token: str, reaper: Reaper | None = None) -> None:
        self.token = token
        self.port = free_port()
        self.reaper = reaper
        self.leases = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._serve(),),
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self) -> None:
        @web.middleware
        async def auth(request: web.Request, handler):  # type: ignore[no-untyped-def]
            if request.path != "/healthz" and \
                    request.headers.get("Authorization") != f"Bearer {self.token}":
                return web.json_response({"error": "missing or wrong token"}, status=401)
            return await handler(request)

        async def healthz(request: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        app = web.Application(middlewares=[auth])
        app.router.add_get("/healthz", healthz)
        if self.reaper is not None:
            self.reaper.add_routes(app)
        runner = web.AppRunner(app, shutdown_timeout=0.2)  # a killed node does not linger
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self.ready.set()
        self.finish = asyncio.Event()
        await self.finish.wait()
        await runner.cleanup()
        self.stopped.set()

    def __enter__(self) -> FakeNode:
        self.thread.start()
        assert self.ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.finish.set)
        assert self.stopped.wait(10)


def wait_until(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@contextmanager
def holder(url: str, token: str, refresh):  # type: ignore[no-untyped-def]
    lease = LeaseHolder(NodeAddress(url, token), refresh=lambda: NodeAddress(*refresh()))
    try:
        yield lease
    finally:
        lease.close()


def test_lease_survives_node_replacement_with_new_port_and_token(tmp_path: Path) -> None:
    """Regression (issue 10 case 7): the holder kept the old token and got 401 forever."""
    first_reaper = Reaper(None, "e", "img", tmp_path)  # type: ignore[arg-type]
    address = {}
    with FakeNode("token-1", first_reaper) as first:
        address["now"] = (first.url, "token-1")
        with holder(first.url, "token-1", lambda: address["now"]) as lease:
            assert lease.connected.is_set()
            assert wait_until(lambda: first_reaper.clock.leases == 1)
            assert (tmp_path / "owned").exists()
            first.__exit__()  # the node container is killed...
            second_reaper = Reaper(None, "e", "img", tmp_path)  # type: ignore[arg-type]
            assert second_reaper.clock.owned  # ...the owned flag persisted in the state volume
            with FakeNode("token-2", second_reaper) as second:  # ...and recreated
                address["now"] = (second.url, "token-2")
                assert wait_until(lambda: second_reaper.clock.leases == 1, timeout=10)
                assert wait_until(lambda: lease.reconnects >= 1)  # the node counts it first
                second_reaper.clock.api_answers(time.monotonic())
                assert not second_reaper.clock.should_reap(time.monotonic() + 60)
        # The holder is closed: the lease is released and the grace period runs.
        assert wait_until(lambda: second_reaper.clock.leases == 0)
        assert second_reaper.clock.should_reap(time.monotonic() + GRACE + 1)
    first.stopped.wait(1)


def test_wrong_token_is_retried_with_the_refreshed_one(tmp_path: Path) -> None:
    reaper = Reaper(None, "e", "img", tmp_path)  # type: ignore[arg-type]
    with FakeNode("new-token", reaper) as node:
        with holder(node.url, "stale-token", lambda: (node.url, "new-token")):
            assert wait_until(lambda: reaper.clock.leases == 1, timeout=10)


def test_reaper_clock_waits_for_the_api(tmp_path: Path) -> None:
    (tmp_path / "owned").write_text("owned\n")
    reaper = Reaper(None, "e", "img", tmp_path, grace=3600.0)  # type: ignore[arg-type]

    async def scenario() -> None:
        task = asyncio.create_task(reaper.run())
        await asyncio.sleep(0.2)  # nothing serves yet: the clock has not started
        assert reaper.clock.serving_since is None
        reaper.api_serving()
        await asyncio.sleep(0.05)
        assert reaper.clock.serving_since is not None
        task.cancel()
    asyncio.run(asyncio.wait_for(scenario(), 5))
