"""Host side of the node's reaper lease: a daemon thread keeping a WebSocket open to the node.

While the process lives the lease is held; when the process dies, the connection drops and the
node removes the environment after its grace period. The lease survives a node restart or
replacement: a restarted node may be published on another host port and a replaced one has a new
token, so on any failure to connect (refused, 401) the holder asks Docker again for the node's
address and token, as NodeClient's refresh does, and reconnects within a second or two, well
inside the node's grace period (which starts when the new node's API answers).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import aiohttp

from localsvc.runtime.nodeaddress import NodeAddress

RETRY_DELAY = 1.0


def lease_url(api_url: str) -> str:
    return api_url.rstrip("/") + "/v1/lease"


def docker_refresh(env: str) -> Callable[[], NodeAddress]:
    """Where the node of `env` listens now, its token and CA, as Docker shows them."""

    def refresh() -> NodeAddress:
        from localsvc.runtime import environment as envrt
        from localsvc.runtime.engine import connect

        client = connect()
        info = envrt.find(client, env)
        if info is None or not info.api_url:
            raise OSError(f"the node of environment {env} is not running")
        return envrt.with_ca(client, info).address

    return refresh


def env_of_url(api_url: str) -> str | None:
    """The environment whose node publishes this API URL's host port (one list call)."""
    from urllib.parse import urlsplit

    from localsvc.runtime import labels as L
    from localsvc.runtime.engine import connect

    port = urlsplit(api_url).port
    nodes = connect().api.containers(filters={"label": [f"{L.ROLE}={L.ROLE_NODE}"]})
    for node in nodes:
        if any(p.get("PublicPort") == port for p in node.get("Ports") or []):
            return str((node.get("Labels") or {}).get(L.ENV))
    return None


class LeaseHolder:
    def __init__(self, address: NodeAddress, refresh: Callable[[], NodeAddress] | None = None,
                 env: str | None = None):
        """`refresh` gives the node's current address; without it, the environment (`env`,
        else the one whose node publishes the address's port) is looked up in Docker."""
        self.address = address
        self._refresh = refresh
        self._env = env
        self.connected = threading.Event()
        self.reconnects = 0  # connections after the first one (node restarts, replacements)
        self._stop: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="localsvc-lease", daemon=True)
        self._thread.start()
        self.connected.wait(timeout=10)

    def _run(self) -> None:
        self._loop.run_until_complete(self._hold())

    @property
    def url(self) -> str:
        return lease_url(self.address.url)

    def _refresher(self) -> Callable[[], NodeAddress] | None:
        if self._refresh is None:
            try:
                self._env = self._env or env_of_url(self.url)
            except Exception:  # Docker briefly unreachable: try again at the next reconnect
                return None
            if self._env:
                self._refresh = docker_refresh(self._env)
        return self._refresh

    async def _hold(self) -> None:
        self._stop = asyncio.Event()
        # Before the first connection: resolving the environment needs the current node.
        await asyncio.to_thread(self._refresher)
        # trust_env=False: the token never goes to an HTTP proxy from the environment (see
        # localsvc.host.client); aiohttp's default today, stated so that it stays so.
        async with aiohttp.ClientSession(trust_env=False) as session:
            while not self._stop.is_set():
                try:
                    headers = {"Authorization": f"Bearer {self.address.token}"}
                    context = self.address.ssl_context
                    async with session.ws_connect(self.url, heartbeat=5.0, headers=headers,
                                                  ssl=context if context is not None else True,
                                                  timeout=aiohttp.ClientWSTimeout(ws_close=5.0)) as ws:
                        if self.connected.is_set():
                            self.reconnects += 1
                        self.connected.set()
                        stop = asyncio.ensure_future(self._stop.wait())
                        receive = asyncio.ensure_future(ws.receive())
                        await asyncio.wait({stop, receive}, return_when=asyncio.FIRST_COMPLETED)
                        for task in (stop, receive):
                            task.cancel()
                except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
                    pass
                if not self._stop.is_set():
                    # The node restarts or was replaced: find it again, take the lease again.
                    await asyncio.sleep(RETRY_DELAY)
                    await self._reread_address()

    async def _reread_address(self) -> None:
        refresh = self._refresher()
        if refresh is None:
            return
        try:
            self.address = await asyncio.to_thread(refresh)
        except Exception:  # Docker briefly unreachable, node not yet recreated: try again later
            pass

    def close(self) -> None:
        """Stop holding the lease (down() follows; a released lease is not a dead owner only
        because down() removes the environment within the grace period)."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=5)
