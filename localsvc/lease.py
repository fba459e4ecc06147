"""Host side of the node's reaper lease: a daemon thread keeping a WebSocket open to the node.

While the process lives the lease is held (reconnecting if the node restarts); when the process
dies, the connection drops and the node removes the environment after its grace period.
"""

from __future__ import annotations

import asyncio
import threading

import aiohttp


class LeaseHolder:
    def __init__(self, api_url: str, token: str):
        self.url = api_url.rstrip("/") + "/v1/lease"
        self.token = token
        self.connected = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="localsvc-lease", daemon=True)
        self._thread.start()
        self.connected.wait(timeout=10)

    def _run(self) -> None:
        self._loop.run_until_complete(self._hold())

    async def _hold(self) -> None:
        self._stop = asyncio.Event()
        headers = {"Authorization": f"Bearer {self.token}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            while not self._stop.is_set():
                try:
                    async with session.ws_connect(self.url, heartbeat=5.0) as ws:
                        self.connected.set()
                        stop = asyncio.ensure_future(self._stop.wait())
                        receive = asyncio.ensure_future(ws.receive())
                        await asyncio.wait({stop, receive}, return_when=asyncio.FIRST_COMPLETED)
                        for task in (stop, receive):
                            task.cancel()
                except (aiohttp.ClientError, OSError):
                    pass
                if not self._stop.is_set():
                    await asyncio.sleep(1.0)  # the node restarts: take the lease again

    def close(self) -> None:
        """Stop holding the lease (down() follows; a released lease is not a dead owner only
        because down() removes the environment within the grace period)."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=5)
