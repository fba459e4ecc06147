"""Long-lived responses the node ends on its shutdown: watches, followed logs, exec and attach
sessions, port-forwards, proxied WebSockets, the reaper's lease.

Any of them may stay open for hours, and aiohttp's cleanup waits for a handler still running
(until its shutdown timeout). Each such handler registers its own task with `track_stream`; the
app's shutdown closes their connections and cancels them, and their `finally` blocks close what
they hold (Docker streams, pod connections). The connection is closed first: a handler ended while
its client still holds an upgraded connection would otherwise leave aiohttp "lingering" on it,
reading for 10 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

# How long a closing WebSocket waits for the peer's close frame. aiohttp's default (10 s) would
# hold the node's shutdown that long whenever a client does not answer the close (a kubectl
# port-forward busy tunnelling); on a local connection an answer takes milliseconds.
WS_CLOSE_SECONDS = 1.0
_STREAMS: web.AppKey[weakref.WeakKeyDictionary[asyncio.Task[Any], web.Request]] = web.AppKey(
    "localsvc_long_streams", weakref.WeakKeyDictionary)


def add_stream_tracking(app: web.Application) -> None:
    """Make `track_stream` work on `app`, and end the tracked streams on its shutdown."""
    app[_STREAMS] = weakref.WeakKeyDictionary()
    app.on_shutdown.append(_end_streams)


def track_stream(request: web.Request) -> None:
    """Register the handler's own task: the node's shutdown closes its connection and cancels
    it."""
    task = asyncio.current_task()
    if task is not None and _STREAMS in request.app:
        request.app[_STREAMS][task] = request


async def _end_streams(app: web.Application) -> None:
    streams = [(task, request) for task, request in app[_STREAMS].items() if not task.done()]
    for task, request in streams:
        protocol = request.protocol
        if isinstance(protocol, RequestHandler):
            protocol.force_close()
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*(task for task, _ in streams), return_exceptions=True)


__all__ = ["WS_CLOSE_SECONDS", "add_stream_tracking", "track_stream"]
