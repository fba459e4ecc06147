"""A proxied GET carried over a WebSocket, one line of the answer per message: for the page's
long-lived streams (watches, followed logs, connection counts).

Why: a browser holds at most six HTTP/1.1 connections per host and queues every further request
behind them, so a page with seven open watches (fetch + ReadableStream) can no longer send even a
PATCH. WebSocket connections do not count against those six.

`GET /localsvc/stream?path=P` with P a path the proxy allows (access.proxied, for GET), say
`/api/v1/pods?watch=1&resourceVersion=5`. Messages, all text: first `{"status": CODE}` (the
node's answer's status), then each line of the answer without its newline (a watch event; a log
line; a Status when CODE is not 200). The server closes with 1000 when the node's answer ended,
1011 when the node broke off or cannot be reached; the page closing its socket closes the
node's request.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
from aiohttp import web

from localsvc.host.dashboard.proxy import NodeProxy, status_body

HEARTBEAT = 30.0  # seconds between pings: a socket whose page is gone is noticed
BROKEN = 1011  # WebSocket close code: an unexpected condition on the server's side


async def relay_lines(node: NodeProxy, path: str, ws: web.WebSocketResponse) -> int:
    """Send the node's answer to `path` line by line; the close code it ended with."""
    try:
        upstream = await node.send("GET", path, {"Accept": "application/json"})
    except (aiohttp.ClientError, OSError) as err:
        await ws.send_str(json.dumps({"status": 502}))
        await ws.send_str(status_body(502, "ServiceUnavailable", node.unreachable(err)).decode())
        return BROKEN
    node.open_streams += 1
    try:
        await ws.send_str(json.dumps({"status": upstream.status}))
        pending = b""
        # Chunks split by hand: one event may be longer than aiohttp's line limit (64 KiB).
        async for chunk in upstream.content.iter_any():
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                await ws.send_str(line.decode("utf-8", errors="replace"))
        if pending:
            await ws.send_str(pending.decode("utf-8", errors="replace"))
        return 1000
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError):
        return BROKEN
    finally:
        node.open_streams -= 1
        upstream.close()


async def stream(request: web.Request, node: NodeProxy, path: str) -> web.StreamResponse:
    """The WebSocket of one stream (the caller checked the session and the path)."""
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT)
    await ws.prepare(request)
    relay = asyncio.create_task(relay_lines(node, path, ws))
    # The page sends nothing; reading notices its close (or a failed ping) at once.
    reader = asyncio.create_task(_until_closed(ws))
    try:
        done, _ = await asyncio.wait({relay, reader}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (relay, reader):
            task.cancel()
        await asyncio.gather(relay, reader, return_exceptions=True)
    if relay in done and not relay.cancelled() and relay.exception() is None:
        await ws.close(code=relay.result())
    return ws


async def _until_closed(ws: web.WebSocketResponse) -> None:
    async for _ in ws:
        pass


__all__ = ["relay_lines", "stream"]
