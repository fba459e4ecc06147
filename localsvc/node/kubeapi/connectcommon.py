"""What the connect subresources (log, exec, attach, portforward, proxy) share: reading the
request's query and its offered WebSocket subprotocols (the pod a request names is resolved by
app.py; their long-lived streams are tracked by node/longstreams.py)."""

from __future__ import annotations

from aiohttp import web

from localsvc.model.kubeapi.connectquery import Query


def query_of(request: web.Request) -> Query:
    """Every query parameter with all its values (options such as `command` repeat)."""
    return {key: request.query.getall(key) for key in request.query.keys()}


def offered_subprotocols(request: web.Request) -> list[str]:
    """The subprotocols the client offers in Sec-WebSocket-Protocol, stripped, empties dropped."""
    return [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()]


__all__ = ["offered_subprotocols", "query_of"]
