"""Removes an environment whose owner died (testcontainers' Ryuk idea).

A process that wants its environment gone when it dies (the pytest plugin, `Environment(reap=
True)`) holds a WebSocket lease on the node. Once a lease was taken the environment is "owned";
when no lease has been held for GRACE seconds (the owner was SIGKILLed, the CI job cancelled),
the node starts a small reaper container outside the environment's network that removes every
object of the environment, the node included, and then itself. Environments started without a
lease (`localsvc up -d`) are never reaped. The owned flag persists, so a node restarted while its
owner was gone still reaps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import docker
import docker.errors
from aiohttp import WSMsgType, web

log = logging.getLogger("localsvc.reaper")
GRACE = 15.0
REAPER_LABEL = "io.localsvc.reaper-of"


class Reaper:
    def __init__(self, client: docker.DockerClient, env: str, image: str, state_dir: Path,
                 grace: float = GRACE):
        self.client = client
        self.env = env
        self.image = image
        self.flag = state_dir / "owned"
        self.grace = grace
        self.leases = 0
        self.unheld_since = time.monotonic()
        self.owned = self.flag.exists()  # read once; written below when a lease is first taken

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/lease", self._lease)

    async def _lease(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=5.0)
        await ws.prepare(request)
        if not self.owned:
            self.flag.write_text("owned by a lease holder\n")
            self.owned = True
            log.info("environment is now owned: it is removed %.0f s after its owner is gone",
                     self.grace)
        self.leases += 1
        try:
            async for message in ws:
                if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.leases -= 1
            if self.leases == 0:
                self.unheld_since = time.monotonic()
        return ws

    async def run(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self.owned and self.leases == 0 and \
                    time.monotonic() - self.unheld_since > self.grace:
                log.warning("the owner of environment %s is gone; removing it", self.env)
                await asyncio.to_thread(self._start_reaper)
                return

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
            volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}},
            environment={"DOCKER_HOST": "unix:///var/run/docker.sock"},
        )
