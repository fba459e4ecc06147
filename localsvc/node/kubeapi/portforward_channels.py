"""The byte streams a port-forward's SPDY runs on (node/kubeapi/portforward.py drives them):
a WebSocket whose binary messages carry it (KEP-4006, kubectl 1.31+), or the bare connection
after a `101 Switching Protocols` answering the older SPDY/3.1 upgrade."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import Any, Protocol

from aiohttp import WSMsgType, web

from localsvc.net import portforward_streams as pf
from localsvc.node.longstreams import WS_CLOSE_SECONDS

MAX_MESSAGE = 32 * 1024 * 1024  # a WebSocket message holds at most a few SPDY frames
# What the SPDY upgrade's connection may hold unread before the node stops reading it.
RAW_READ_LIMIT = 1024 * 1024


def spdy_upgrade(request: web.Request) -> bool:
    """The pre-KEP-4006 upgrade kubectl falls back to: POST, Upgrade: SPDY/3.1."""
    versions = [v.strip() for v in request.headers.getall("X-Stream-Protocol-Version", [])
                for v in v.split(",")]
    return (request.method == "POST"
            and request.headers.get("Upgrade", "").lower() == "spdy/3.1"
            and "upgrade" in request.headers.get("Connection", "").lower()
            and pf.PROTOCOL in versions)


class Channel(Protocol):
    """The byte stream SPDY runs on, whichever upgrade carried it."""

    response: web.StreamResponse

    def incoming(self) -> AsyncIterator[bytes]: ...

    async def send(self, data: bytes) -> None: ...

    async def close(self) -> None: ...


class WebSocketChannel:
    """KEP-4006: the SPDY byte stream in binary WebSocket messages, cut anywhere."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.response: web.StreamResponse = ws
        self.ws = ws

    @classmethod
    async def accept(cls, request: web.Request) -> WebSocketChannel:
        ws = web.WebSocketResponse(protocols=(pf.WEBSOCKET_PROTOCOL,), heartbeat=None,
                                   max_msg_size=MAX_MESSAGE, timeout=WS_CLOSE_SECONDS)
        await ws.prepare(request)
        return cls(ws)

    async def incoming(self) -> AsyncIterator[bytes]:
        async for message in self.ws:
            if message.type is WSMsgType.BINARY:
                yield bytes(message.data)

    async def send(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    async def close(self) -> None:
        await self.ws.close()


class RawReader:
    """Takes the connection's bytes after the 101, in place of aiohttp's HTTP parser (the way
    aiohttp's own WebSocket reader plugs in: RequestHandler.set_parser). Holds at most about
    `limit` bytes: past it the transport stops reading until `read` drains it."""

    def __init__(self, transport: asyncio.BaseTransport | None,
                 limit: int = RAW_READ_LIMIT) -> None:
        self.transport = transport
        self.limit = limit
        self.chunks: collections.deque[bytes] = collections.deque()
        self.size = 0
        self.eof = False
        self.paused = False
        self.ready = asyncio.Event()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.chunks.append(bytes(data))
        self.size += len(data)
        self.ready.set()
        if self.size >= self.limit and not self.paused and self._flow_control():
            self.transport.pause_reading()  # type: ignore[union-attr]
            self.paused = True
        return False, b""

    def feed_eof(self) -> None:
        self.eof = True
        self.ready.set()

    async def read(self) -> bytes | None:
        """The next bytes received, None at the end."""
        while not self.chunks:
            if self.eof:
                return None
            self.ready.clear()
            await self.ready.wait()
        data = self.chunks.popleft()
        self.size -= len(data)
        if self.paused and self.size < self.limit and self._flow_control():
            self.paused = False
            self.transport.resume_reading()  # type: ignore[union-attr]
        return data

    def _flow_control(self) -> bool:
        transport = self.transport
        return (isinstance(transport, asyncio.ReadTransport)
                and not transport.is_closing())


class UpgradedChannel:
    """The SPDY upgrade: after `101 Switching Protocols` the connection itself is the stream."""

    def __init__(self, request: web.Request, response: web.StreamResponse,
                 reader: RawReader) -> None:
        self.request = request
        self.response = response
        self.reader = reader

    @classmethod
    async def accept(cls, request: web.Request) -> UpgradedChannel:
        response = web.StreamResponse(status=101, headers={
            "Connection": "Upgrade", "Upgrade": "SPDY/3.1",
            "X-Stream-Protocol-Version": pf.PROTOCOL})
        response.force_close()
        await response.prepare(request)
        reader = RawReader(request.transport)
        protocol: Any = request.protocol
        protocol.set_parser(reader)
        protocol.keep_alive(False)
        return cls(request, response, reader)

    async def incoming(self) -> AsyncIterator[bytes]:
        while (data := await self.reader.read()) is not None:
            yield data

    async def send(self, data: bytes) -> None:
        await self.response.write(data)

    async def close(self) -> None:
        if self.request.transport is not None:
            self.request.transport.close()


__all__ = ["MAX_MESSAGE", "RAW_READ_LIMIT", "Channel", "RawReader", "UpgradedChannel",
           "WebSocketChannel", "spdy_upgrade"]
