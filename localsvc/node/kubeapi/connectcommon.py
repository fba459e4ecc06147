"""What the connect subresources (log, exec, attach, portforward, proxy) share: the pod a request
names, and the long-lived streams the node ends on shutdown.

A followed log, an exec session, a port-forward or a proxied WebSocket may stay open for hours;
aiohttp's cleanup would wait for each before the node stops. Each handler registers its own task
with `track_stream`; the app's shutdown cancels them, and their `finally` blocks close what they
hold (Docker streams, pod connections), as the tunnel endpoint does for its WebSockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any

from aiohttp import web

from localsvc.model.kubeapi import status as st
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.paths import Target
from localsvc.node.controller import Controller

PODS = st.GroupResource("pods")
_STREAMS: web.AppKey[weakref.WeakSet[asyncio.Task[Any]]] = web.AppKey(
    "localsvc_connect_streams", weakref.WeakSet)


def pod_of(controller: Controller, target: Target) -> dict[str, Any]:
    """The pod the path names, as the API serves it; 404 NotFound when there is none."""
    name = target.name or ""
    pod = controller.objects.get(f"Pod/{target.namespace or 'default'}/{name}")
    if pod is None:
        raise ApiError(st.not_found(PODS, name))
    return pod


def add_stream_tracking(app: web.Application) -> None:
    """Make `track_stream` work on `app`, and end the tracked streams on its shutdown."""
    app[_STREAMS] = weakref.WeakSet()
    app.on_shutdown.append(_end_streams)


def track_stream(request: web.Request) -> None:
    """Register the handler's own task: the node's shutdown cancels it."""
    task = asyncio.current_task()
    if task is not None and _STREAMS in request.app:
        request.app[_STREAMS].add(task)


async def _end_streams(app: web.Application) -> None:
    tasks = [task for task in app[_STREAMS] if not task.done()]
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks, return_exceptions=True)


__all__ = ["PODS", "add_stream_tracking", "pod_of", "track_stream"]
