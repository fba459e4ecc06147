"""What the connect subresources (log, exec, attach, portforward, proxy) share: reading the
request's query and its offered WebSocket subprotocols, and the lookup of the object the path
names that app.py hands them (their long-lived streams are tracked by node/longstreams.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from localsvc.model.kubeapi.connectquery import Query

# The object the path names, looked up when called: 404 NotFound when there is none. Handlers
# call it after checking their options, as the API server checks those first.
LiveObject = Callable[[], dict[str, Any]]


def query_of(request: web.Request) -> Query:
    """Every query parameter with all its values (options such as `command` repeat)."""
    return {key: request.query.getall(key) for key in request.query.keys()}


def offered_subprotocols(request: web.Request) -> list[str]:
    """The subprotocols the client offers in Sec-WebSocket-Protocol, stripped, empties dropped."""
    return [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()]


__all__ = ["LiveObject", "offered_subprotocols", "query_of"]
