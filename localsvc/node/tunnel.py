"""The node's TCP tunnel endpoint: `GET /v1/tunnel?ip=A.B.C.D&port=N` upgraded to a WebSocket.

Owns one relay per WebSocket: it connects to ip:port from inside the environment (a pod IP or a
ClusterIP, which the host may not route to) and moves bytes both ways. It does not check the
token (the API's middleware does), choose targets, or know about Services.

The wire protocol both ends share is in `localsvc.net.tunnelwire`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os

from aiohttp import WSMsgType, web

from localsvc.net.tunnelwire import CHUNK, CLOSE_CONNECT_FAILED, EOF_MESSAGE
from localsvc.node.longstreams import track_stream
from localsvc.tasks import spawn

log = logging.getLogger("localsvc.tunnel")

CONNECT_TIMEOUT = 5.0
_MAX_REASON = 123  # bytes a close frame's reason may hold (RFC 6455)


def add_tunnel_routes(app: web.Application) -> None:
    """Add the tunnel endpoint to the node's API app. Each tunnel is a tracked long-lived stream
    (node/longstreams.py: the app's add_stream_tracking ends them on shutdown)."""
    app.router.add_get("/v1/tunnel", _tunnel)


def parse_target(ip: str | None, port: str | None) -> tuple[str, int]:
    """The validated (ip, port) of a tunnel request; web.HTTPBadRequest says what is wrong."""
    try:
        address = ipaddress.IPv4Address(ip or "")
    except ValueError:
        raise web.HTTPBadRequest(text=f"ip: {ip!r} is not an IPv4 address") from None
    if (
        address.is_unspecified
        or address.is_multicast
        or address == ipaddress.IPv4Address("255.255.255.255")
    ):
        raise web.HTTPBadRequest(text=f"ip: {address} is not a unicast address")
    if not (port or "").isdigit() or not 1 <= int(port or "0") <= 65535:
        raise web.HTTPBadRequest(text=f"port: {port!r} is not a port number (1-65535)")
    return str(address), int(port or "0")


async def _tunnel(request: web.Request) -> web.StreamResponse:
    ip, port = parse_target(request.query.get("ip"), request.query.get("port"))
    ws = web.WebSocketResponse(heartbeat=None, max_msg_size=4 * CHUNK)
    await ws.prepare(request)
    track_stream(request)  # the node's shutdown closes the connection and cancels the tunnel
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), CONNECT_TIMEOUT)
    except (TimeoutError, OSError) as error:
        reason = f"connect to {ip}:{port}: {_describe(error)}"
        await ws.close(code=CLOSE_CONNECT_FAILED, message=reason.encode()[:_MAX_REASON])
        return ws
    up = spawn(_ws_to_tcp(ws, writer), name=f"tunnel {ip}:{port} ws->tcp")
    down = spawn(_tcp_to_ws(reader, ws), name=f"tunnel {ip}:{port} tcp->ws")
    try:
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (up, down):
            task.cancel()
        await asyncio.gather(up, down, return_exceptions=True)
        writer.close()
        with contextlib.suppress(Exception):
            await ws.close()
    return ws


async def _ws_to_tcp(ws: web.WebSocketResponse, writer: asyncio.StreamWriter) -> None:
    """Client bytes to the target until the client closes the WebSocket."""
    try:
        async for msg in ws:
            if msg.type is WSMsgType.BINARY:
                writer.write(msg.data)
                await writer.drain()
            elif msg.type is WSMsgType.TEXT and msg.data == EOF_MESSAGE and writer.can_write_eof():
                writer.write_eof()
    except OSError:
        pass  # the target reset: the tunnel ends


async def _tcp_to_ws(reader: asyncio.StreamReader, ws: web.WebSocketResponse) -> None:
    """Target bytes to the client until the target's EOF."""
    try:
        while data := await reader.read(CHUNK):
            await ws.send_bytes(data)
    except OSError:
        pass  # the target reset or the client vanished: the tunnel ends


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return f"i/o timeout after {CONNECT_TIMEOUT:g} s"
    if isinstance(error, OSError) and error.errno:
        return os.strerror(error.errno)
    return str(error) or type(error).__name__
