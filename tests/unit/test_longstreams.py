"""A tracked long-lived stream ends on the node's shutdown (its `finally` runs) instead of holding
the shutdown up; the connect subresources' pod lookup answers 404 as a Status."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from localsvc.node.kubeapi.connectcommon import offered_subprotocols, query_of
from localsvc.node.longstreams import add_stream_tracking, track_stream


def test_a_tracked_stream_is_ended_by_the_apps_shutdown() -> None:
    ended = asyncio.Event()
    started = asyncio.Event()

    async def follow(request: web.Request) -> web.StreamResponse:
        track_stream(request)
        response = web.StreamResponse()
        await response.prepare(request)
        started.set()
        try:
            await asyncio.sleep(3600)  # a followed log with nothing more to say
        finally:
            ended.set()
        return response

    async def scenario() -> float:
        app = web.Application()
        add_stream_tracking(app)
        app.router.add_get("/follow", follow)
        runner = web.AppRunner(app, shutdown_timeout=30)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        async with aiohttp.ClientSession() as session:
            response = await session.get(f"http://127.0.0.1:{port}/follow")
            await asyncio.wait_for(started.wait(), 5)
            began = time.monotonic()
            await asyncio.wait_for(runner.cleanup(), 10)
            response.close()
        await asyncio.wait_for(ended.wait(), 1)
        return time.monotonic() - began

    assert asyncio.run(scenario()) < 5  # not aiohttp's shutdown timeout (30 s here)


def test_query_of_keeps_every_value_of_a_repeated_parameter() -> None:
    request = make_mocked_request("GET", "/x?command=sh&command=-c&command=ls&stdout=1")
    assert query_of(request) == {"command": ["sh", "-c", "ls"], "stdout": ["1"]}


def test_offered_subprotocols_are_stripped_and_empties_dropped() -> None:
    request = make_mocked_request("GET", "/x", headers={
        "Sec-WebSocket-Protocol": "v5.channel.k8s.io, v4.channel.k8s.io,,"})
    assert offered_subprotocols(request) == ["v5.channel.k8s.io", "v4.channel.k8s.io"]
    assert offered_subprotocols(make_mocked_request("GET", "/x")) == []
