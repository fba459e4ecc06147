"""Removes an environment whose owner died (testcontainers' Ryuk idea).

A process that wants its environment gone when it dies (the pytest plugin, `Environment(reap=
True)`) holds a WebSocket lease on the node. Once a lease was taken the environment is "owned";
when no lease has been held for GRACE seconds (the owner was SIGKILLed, the CI job cancelled),
the node starts a small reaper container outside the environment's network that removes every
object of the environment, the node included, and then itself. Environments started without a
lease (`localsvc up -d`) are never reaped. The owned flag persists, so a node restarted while its
owner was gone still reaps.

The grace period counts from the moment the node's API answers, never from process start: a
node adopting many pods, or a node that was just replaced, must give the owner (whose lease
holder reconnects with the new address and token) the whole grace period to come back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
from aiohttp import WSMsgType, web

from localsvc.runtime.environment import _docker_socket, node_name
from localsvc.node.longstreams import WS_CLOSE_SECONDS, track_stream

log = logging.getLogger("localsvc.reaper")
GRACE = 15.0
REAPER_LABEL = "io.localsvc.reaper-of"
SOCKET_IN_CONTAINER = "/var/run/docker.sock"


@dataclass
class LeaseClock:
    """When is an owned environment's owner gone? Pure bookkeeping of lease events against a
    monotonic clock, so that every decision is unit-testable."""

    grace: float
    owned: bool
    serving_since: float | None = None  # when the API first answered; None: not yet
    leases: int = 0
    unheld_since: float | None = None  # when the last lease was released

    def api_answers(self, now: float) -> None:
        if self.serving_since is None:
            self.serving_since = now

    def lease_taken(self) -> bool:
        """Count a new lease; True when it makes the environment owned for the first time."""
        self.leases += 1
        newly_owned = not self.owned
        self.owned = True
        return newly_owned

    def lease_released(self, now: float) -> None:
        self.leases = max(0, self.leases - 1)
        if self.leases == 0:
            self.unheld_since = now

    def should_reap(self, now: float) -> bool:
        if not self.owned or self.leases > 0 or self.serving_since is None:
            return False
        # A lease released before the API answered (impossible today, leases come through the
        # API) still gets the full grace period from the moment the API answers.
        start = max(self.serving_since, self.unheld_since or self.serving_since)
        return now - start > self.grace


def docker_socket_source(mounts: Sequence[Mapping[str, Any]], fallback: str) -> str:
    """The host path bound at the node's /var/run/docker.sock (the socket `create_node` chose),
    so the reaper reaches the same engine endpoint as the node; `fallback` when not mounted."""
    for mount in mounts:
        if mount.get("Destination") == SOCKET_IN_CONTAINER and mount.get("Source"):
            return str(mount["Source"])
    return fallback


class Reaper:
    def __init__(self, client: docker.DockerClient, env: str, image: str, state_dir: Path,
                 grace: float = GRACE):
        self.client = client
        self.env = env
        self.image = image
        self.flag = state_dir / "owned"
        self._serving = asyncio.Event()
        # The owned flag is read once; it is written below when a lease is first taken.
        self.clock = LeaseClock(grace=grace, owned=self.flag.exists())

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/lease", self._lease)

    async def _lease(self, request: web.Request) -> web.WebSocketResponse:
        track_stream(request)  # the node's shutdown ends it
        ws = web.WebSocketResponse(heartbeat=5.0, timeout=WS_CLOSE_SECONDS)
        await ws.prepare(request)
        if not self.clock.owned:
            # Persisted before the lease counts: a node restarted now still knows it is owned.
            self.flag.write_text("owned by a lease holder\n")
            log.info("environment is now owned: it is removed %.0f s after its owner is gone",
                     self.clock.grace)
        self.clock.lease_taken()
        try:
            async for message in ws:
                if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.clock.lease_released(time.monotonic())
        return ws

    def api_serving(self) -> None:
        """The node's API listens now (node/main.py calls this): the grace period may start."""
        self._serving.set()

    async def run(self) -> None:
        await self._serving.wait()
        self.clock.api_answers(time.monotonic())
        while True:
            await asyncio.sleep(1.0)
            if self.clock.should_reap(time.monotonic()):
                log.warning("the owner of environment %s is gone; removing it", self.env)
                await asyncio.to_thread(self._start_reaper)
                return

    def _socket_path(self) -> str:
        try:
            mounts = self.client.containers.get(node_name(self.env)).attrs.get("Mounts") or []
        except docker.errors.DockerException:
            mounts = []
        return docker_socket_source(mounts, _docker_socket())

    def _start_reaper(self) -> None:
        """The node cannot remove its own network while attached to it: a reaper outside the
        environment does the removal, then removes itself (auto-remove)."""
        self.client.containers.run(
            self.image,
            command=["reap", self.env],
            detach=True,
            auto_remove=True,
            network_mode="none",
            labels={REAPER_LABEL: self.env},
            volumes={self._socket_path(): {"bind": SOCKET_IN_CONTAINER, "mode": "rw"}},
            environment={"DOCKER_HOST": f"unix://{SOCKET_IN_CONTAINER}"},
        )
