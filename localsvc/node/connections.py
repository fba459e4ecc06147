"""The node's private `GET /v1/connections` (`?watch=1`: one body a second while held): new
connections per Service port through the ClusterIP and NodePort, as the dataplane counts them
(net/connections.py). Kubernetes has no object for them; the dashboard turns the totals into
connections per second. The token is checked by the API's middleware, as on every /v1 route.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from aiohttp import web

from localsvc.net.connections import Totals, connection_counts, read_nft_counters
from localsvc.net.dataplane import NftDataplane, UserspaceDataplane
from localsvc.net.nftables import PortRule, port_rules
from localsvc.node.longstreams import track_stream
from localsvc.node.network import NetworkSync
from localsvc.node.services import dataplane_view

log = logging.getLogger("localsvc.connections")

WATCH_INTERVAL = 1.0
# Readings younger than this are shared: several watchers cost one `nft` run a second.
_FRESH_SECONDS = 0.5
# A watch reads again only after this many times the last read's duration: with thousands of
# service ports on a busy machine one `nft` run may take most of a second (1.4 s at 6,000 ports
# with a load of 23 on 2 cores, benchmarks/conn_counts.py), and a dashboard left open must not
# keep a core busy. Its lines then repeat the last reading (same "time").
_READ_SHARE = 4.0


class ConnectionFeed:
    """Reads the dataplane's counts and keeps their totals (net/connections.Totals)."""

    def __init__(self, network: NetworkSync | None) -> None:
        self.network = network
        self._totals = Totals()
        self._rules: tuple[int, list[PortRule]] = (-1, [])  # by snapshot version
        self._body: dict[str, Any] | None = None
        self._read_at = 0.0
        self.read_seconds = 0.0  # how long the last reading took
        self._lock = asyncio.Lock()

    @property
    def counting(self) -> str | None:
        dataplane = self.network.dataplane if self.network is not None else None
        if isinstance(dataplane, NftDataplane):
            return "nftables"
        if isinstance(dataplane, UserspaceDataplane):
            return "userspace"
        return None

    def _port_rules(self) -> list[PortRule]:
        snapshot = self.network.latest if self.network is not None else None
        if snapshot is None:
            return []
        if self._rules[0] != snapshot.version:
            self._rules = (snapshot.version, port_rules(dataplane_view(snapshot)))
        return self._rules[1]

    async def _readings(self) -> dict[str, int]:
        dataplane = self.network.dataplane if self.network is not None else None
        if isinstance(dataplane, NftDataplane):
            return await read_nft_counters(dataplane.table)
        if isinstance(dataplane, UserspaceDataplane):
            return dict(dataplane.proxy.accepted)
        return {}

    async def body(self, max_age: float = 0.0) -> dict[str, Any]:
        """The ConnectionCounts body now (from a reading at most `max_age` seconds old)."""
        async with self._lock:
            now = time.monotonic()
            if self._body is None or now - self._read_at > max_age:
                totals = self._totals.observe(await self._readings())
                self.read_seconds = time.monotonic() - now
                self._body = connection_counts(self._port_rules(), totals, time.time(),
                                               self.counting)
                self._read_at = now
            return self._body


def add_connection_routes(app: web.Application, network: NetworkSync | None) -> None:
    """GET /v1/connections on the node's API app (its stream tracking ends watches)."""
    feed = ConnectionFeed(network)

    async def connections(request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") not in ("1", "true"):
            return web.json_response(await feed.body())
        track_stream(request)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        while True:
            try:
                max_age = max(_FRESH_SECONDS, _READ_SHARE * feed.read_seconds)
                line = json.dumps(await feed.body(max_age)) + "\n"
            except Exception as err:  # say it on the stream; the next second tries again
                log.warning("reading connection counts failed: %r", err)
                line = json.dumps({"kind": "Status", "status": "Failure",
                                   "message": f"reading connection counts failed: {err}"}) + "\n"
            try:
                await response.write(line.encode())
            except (ConnectionResetError, RuntimeError):
                break  # the client went away
            await asyncio.sleep(WATCH_INTERVAL)
        return response

    app.router.add_get("/v1/connections", connections)


__all__ = ["ConnectionFeed", "add_connection_routes"]
