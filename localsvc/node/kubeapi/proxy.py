"""services/NAME/proxy and pods/NAME/proxy: the API server's HTTP proxy to a Service's endpoint
or a Pod, reached from the node's network namespace (the node sits on the environment's network,
so pod IPs are routable from here).

model/kubeapi/proxypath.py decides where a request goes and which headers pass; this module does
the I/O: every method, the query kept, request and response bodies streamed chunk by chunk
(text/html excepted: it is read whole to rewrite its links, as the API server does), WebSocket
upgrades relayed message by message. The caller's Authorization header never reaches the backend.

One aiohttp ClientSession per node app, made as the app starts and closed at its cleanup
(`add_client_session(app)` registers the cleanup context that does both).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from localsvc.model.kubeapi import proxyhtml
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.paths import Target
from localsvc.model.kubeapi.proxypath import (
    Location, forwarded_uri, parse_pod_id, parse_service_id, pod_location, port_lookup_error,
    request_headers, response_headers, root_redirect, service_location, split_proxy_path,
    unreachable)
from localsvc.node.controller import Controller
from localsvc.node.kubeapi.connectcommon import LiveObject, offered_subprotocols
from localsvc.node.longstreams import WS_CLOSE_SECONDS, track_stream
from localsvc.node.store import key_of

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 30.0  # the API server's proxy dialer's timeout
CHUNK = 64 * 1024


_CLIENT: web.AppKey[aiohttp.ClientSession] = web.AppKey("localsvc_proxy_client",
                                                        aiohttp.ClientSession)


def add_client_session(app: web.Application) -> None:
    """Give `app` the proxy's client session: made at startup, closed at cleanup."""
    app.cleanup_ctx.append(_client_session)


async def _client_session(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the session (and its pooled connections) for as long as the app runs."""
    session = aiohttp.ClientSession(
        # Bodies pass as the backend encoded them; the caller decodes.
        auto_decompress=False,
        # Headers come from the caller only (no aiohttp User-Agent or Accept-Encoding).
        skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"),
        # https backends: the API server does not verify pods' certificates either.
        connector=aiohttp.TCPConnector(ssl=False, limit=0),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT),
        trust_env=False, cookie_jar=aiohttp.DummyCookieJar())
    app[_CLIENT] = session
    try:
        yield
    finally:
        await session.close()


async def serve_pod(controller: Controller, request: web.Request, target: Target,
                    _live: LiveObject) -> web.StreamResponse:
    """pods/NAME/proxy. The pod is looked up here (not through app.py's lookup: the name
    segment is `[SCHEME:]NAME[:PORT]`, not a name)."""
    raw_id = target.name or ""
    proxy_id = parse_pod_id(raw_id)
    namespace = target.namespace or ""
    pod = controller.objects.get(key_of("Pod", namespace, proxy_id.name))
    location = pod_location(pod, proxy_id)
    if location.port:
        # "pods/web:http": Go's dialer looks a named port up ("http" is 80).
        found = None if location.port.isdigit() else _service_port(location.port)
        problem = port_lookup_error(location.port, found)
        if problem is not None:
            raise ApiError(problem)
        if found is not None:
            location = dataclasses.replace(location, port=str(found))
    return await _proxy(request, location)


def _service_port(name: str) -> int | None:
    """The port /etc/services gives `name` (as Go's dialer looks it up), None if none."""
    try:
        return socket.getservbyname(name, "tcp")
    except OSError:
        return None


async def serve_service(controller: Controller, request: web.Request, target: Target,
                        _live: LiveObject) -> web.StreamResponse:
    """services/NAME/proxy. The Service and its Endpoints are looked up here, as for pods."""
    raw_id = target.name or ""
    proxy_id = parse_service_id(raw_id)
    namespace = target.namespace or ""
    service = controller.objects.get(key_of("Service", namespace, proxy_id.name))
    endpoints = controller.objects.get(key_of("Endpoints", namespace, proxy_id.name))
    return await _proxy(request, service_location(service, endpoints, proxy_id, raw_id))


async def _proxy(request: web.Request, location: Location) -> web.StreamResponse:
    raw_path = request.rel_url.raw_path
    query = request.rel_url.raw_query_string
    prefix, rest = split_proxy_path(raw_path)
    redirect = root_redirect(rest, request.method, raw_path, query)
    if redirect is not None:
        return web.Response(status=301, headers={"Location": redirect})
    headers = CIMultiDict(request_headers(request.headers.items(), request.remote or ""))
    headers["X-Forwarded-Uri"] = forwarded_uri(prefix, rest)
    url = location.url(rest or "/", query)
    if _is_websocket(request.headers):
        return await _websocket(request, location, url, headers)
    session = request.app[_CLIENT]
    try:
        backend = await session.request(
            request.method, URL(url, encoded=True), headers=headers,
            data=request.content if request.body_exists else None, allow_redirects=False)
    except aiohttp.ClientConnectorError as err:
        raise ApiError(unreachable(location, err.os_error)) from None
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
        raise ApiError(unreachable(location, _cause(err))) from None
    async with backend:
        return await _relay(request, backend, location, prefix)


async def _relay(request: web.Request, backend: aiohttp.ClientResponse, location: Location,
                 prefix: str) -> web.StreamResponse:
    """The backend's answer to the caller: status, headers, body."""
    headers = CIMultiDict(response_headers(backend.headers.items()))

    def rewrite(url: str) -> str:
        return proxyhtml.rewrite_url(url, location.netloc, request.host, prefix)

    already: list[bytes] = []  # an HTML page read too far to rewrite, streamed first
    if "Location" in headers:
        headers["Location"] = rewrite(headers["Location"])
    elif proxyhtml.is_html(headers.get("Content-Type", "")) and request.method != "HEAD":
        # A page larger than proxyhtml.MAX_DECODED passes without link rewriting.
        already, whole = await _read_up_to(backend, proxyhtml.MAX_DECODED)
        page = b"".join(already)
        # Up to 16 MiB of scanning and re-compressing: off the event loop. A body that does
        # not decode, or inflates past the same limit, passes unchanged (None).
        body = (await asyncio.to_thread(proxyhtml.rewrite_html_body, page,
                                        headers.get("Content-Encoding", ""), rewrite)
                if whole else None)
        if body is not None:
            headers.pop("Content-Length", None)
            return web.Response(status=backend.status, reason=backend.reason,
                                headers=headers, body=body)
    # Without a Content-Length, aiohttp sends the body chunked, each chunk as it comes.
    answer = web.StreamResponse(status=backend.status, reason=backend.reason, headers=headers)
    await answer.prepare(request)
    try:
        for chunk in already:
            await answer.write(chunk)
        # Whatever has arrived, at once: no waiting to fill a fixed-size chunk.
        async for chunk in backend.content.iter_any():
            await answer.write(chunk)
    except (aiohttp.ClientError, ConnectionError) as err:
        # The status line is gone: the only way left to say "cut short" is to cut the
        # connection (as Go's ReverseProxy aborts the handler).
        log.info("proxy to %s cut short: %s", location.netloc, err)
        if request.transport is not None:
            request.transport.close()
        return answer
    await answer.write_eof()
    return answer


async def _read_up_to(backend: aiohttp.ClientResponse, limit: int) -> tuple[list[bytes], bool]:
    """The body's chunks read until its end or past `limit` bytes; and whether that is all."""
    parts: list[bytes] = []
    size = 0
    async for chunk in backend.content.iter_chunked(CHUNK):
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            return parts, False
    return parts, True


def _cause(err: BaseException) -> BaseException:
    """The OSError under an aiohttp error, when there is one (its words are Go's words)."""
    cause = err.__cause__ or err.__context__
    return cause if isinstance(cause, OSError) else err


def _is_websocket(headers: Mapping[str, str]) -> bool:
    connection = {t.strip().lower() for t in headers.get("Connection", "").split(",")}
    return "upgrade" in connection and headers.get("Upgrade", "").lower() == "websocket"


async def _websocket(request: web.Request, location: Location, url: str,
                     headers: CIMultiDict[str]) -> web.StreamResponse:
    """A WebSocket upgrade: the backend's WebSocket opened first (so a refusal is a Status),
    then the caller's accepted with the subprotocol the backend chose; messages relayed both
    ways until either side closes."""
    for name in ("Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions",
                 "Sec-WebSocket-Protocol"):
        headers.pop(name, None)
    protocols = offered_subprotocols(request)
    ws_url = ("wss" if location.scheme == "https" else "ws") + url[len(location.scheme):]
    try:
        backend = await request.app[_CLIENT].ws_connect(
            URL(ws_url, encoded=True), headers=headers, protocols=protocols,
            autoping=False, max_msg_size=0)
    except aiohttp.WSServerHandshakeError as err:
        # The backend answered without switching protocols: that answer is the caller's, as
        # the API server relays it (its body is not kept by aiohttp's handshake).
        refused = CIMultiDict(response_headers((err.headers or {}).items()))
        refused.pop("Content-Length", None)
        return web.Response(status=err.status, headers=refused)
    except aiohttp.ClientConnectorError as err:
        raise ApiError(unreachable(location, err.os_error)) from None
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
        raise ApiError(unreachable(location, _cause(err))) from None
    # No message size limit on either side (aiohttp's default, 4 MiB, closes with 1009): the
    # API server passes the upgraded connection's bytes through whatever their framing.
    track_stream(request)  # the node's shutdown ends it: the finally below closes both sides
    caller = web.WebSocketResponse(protocols=[backend.protocol] if backend.protocol else (),
                                   autoping=False, max_msg_size=0,
                                   timeout=WS_CLOSE_SECONDS)
    pumps: list[asyncio.Task[None]] = []
    try:
        await caller.prepare(request)
        pumps = [asyncio.create_task(_pump(caller, backend)),
                 asyncio.create_task(_pump(backend, caller))]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Cancelled by the node's shutdown too: the pumps end before both sides close.
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        await backend.close()
        await caller.close()
    return caller


async def _pump(source: Any, sink: Any) -> None:
    """Messages from one WebSocket to the other, pings and pongs included, until a close."""
    async for message in source:
        if message.type == aiohttp.WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == aiohttp.WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        elif message.type == aiohttp.WSMsgType.PING:
            await sink.ping(message.data)
        elif message.type == aiohttp.WSMsgType.PONG:
            await sink.pong(message.data)
    await sink.close(code=source.close_code or aiohttp.WSCloseCode.OK)


__all__ = ["add_client_session", "serve_pod", "serve_service"]
