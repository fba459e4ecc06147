"""GET pods/NAME/log: a container's log as the API server and the kubelet serve it.

The options, the container and the errors are decided in model/kubeapi/logoptions.py; this
module asks the engine for the chosen container instance's log with aiohttp's client on the
engine's socket, decodes each block it reads (net/dockerlogframes) and writes it to the client,
text/plain, chunked. Each write waits while the client's connection is full, and the
next read waits for it: a slow client slows the engine's connection, nothing buffers on the
node. A followed log ends when the container ends (the engine ends the body), when limitBytes
is reached, or when the client goes away; the engine's connection is closed then, and on the
node's shutdown (longstreams.track_stream cancels the handler). The engine's client session is
the app's (`add_engine_session(app)`: made at startup, closed at cleanup), its connections
pooled across requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from localsvc.model.kubeapi import status as st
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.connectquery import choose_container, container_spec
from localsvc.model.kubeapi.logoptions import (
    ByteBudget,
    PodLogOptions,
    docker_container_id,
    docker_log_query,
    kubelet_timestamp,
    parse_options,
    validate,
)
from localsvc.model.kubeapi.paths import Target
from localsvc.net.dockerlogframes import DockerLogDecoder
from localsvc.node.controller import Controller
from localsvc.node.kubeapi.connectcommon import LiveObject, query_of
from localsvc.node.longstreams import track_stream
from localsvc.node.kubeapi.dockerstream import (
    CONNECT_TIMEOUT, DockerStreamError, engine_connector, engine_message)

READ_SIZE = 1 << 16
HEADER_LIMIT = 64 * 1024  # of an engine's error body
# aiohttp tells the handler of a request without a body nothing when its client goes (unless
# the runner cancels handlers); a followed log that Docker keeps quiet looks this often.
CLIENT_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class _EngineSession:
    """The app's client session to the engine and the base URL to ask it with; or, when the
    engine could not be found at startup, why (each log request answers with it)."""

    session: aiohttp.ClientSession | None
    base: str
    problem: str = ""


_ENGINE: web.AppKey[_EngineSession] = web.AppKey("localsvc_engine_session", _EngineSession)


def add_engine_session(app: web.Application) -> None:
    """Give `app` the logs' engine session: made at startup, closed at cleanup."""
    app.cleanup_ctx.append(_engine_session)


async def _engine_session(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: a session on the engine's socket (as the docker CLI finds it); aiohttp
    reads an answer's headers and chunks, and reads the socket only as the body is consumed (a
    slow client slows the engine's connection)."""
    try:
        connector, base = engine_connector()
    except DockerStreamError as err:
        app[_ENGINE] = _EngineSession(None, "", str(err))
        yield
        return
    timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT,
                                    sock_connect=CONNECT_TIMEOUT)
    session = aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False)
    app[_ENGINE] = _EngineSession(session, base)
    try:
        yield
    finally:
        await session.close()


async def serve(controller: Controller, request: web.Request, target: Target,
                live_pod: LiveObject) -> web.StreamResponse:
    if request.method != "GET":
        raise ApiError(st.status(405, "MethodNotAllowed",
                                 "the server does not allow this method on the requested "
                                 "resource"))
    name = target.name or ""
    options = parse_options(query_of(request))
    validate(options, name)
    pod = live_pod()
    container = choose_container(pod, options.container)
    container_id = docker_container_id(pod, container, options.previous)
    # A TTY container's log is raw bytes; any other's is framed by stream. The spec says which
    # (it cannot change for a pod), no inspect of the container needed.
    tty = bool(container_spec(pod, container).get("tty"))
    if options.follow:
        track_stream(request)
    path = f"/containers/{container_id}/logs?{docker_log_query(options, time.time())}"
    engine_session = request.app[_ENGINE]
    if engine_session.session is None:
        raise DockerStreamError(engine_session.problem)
    url = f"{engine_session.base}/v{controller.ctx.docker.api.api_version}{path}"
    try:
        engine = await engine_session.session.get(url)
    except (aiohttp.ClientError, OSError, TimeoutError) as err:
        raise DockerStreamError(f"the engine's log {path}: {type(err).__name__}: {err}") \
            from None
    async with engine:
        if engine.status == 404:
            raise ApiError(st.bad_request(
                f'container "{container}" in pod "{name}" is not available'))
        if engine.status != 200:
            body = await asyncio.wait_for(engine.content.read(HEADER_LIMIT), 2.0)
            raise DockerStreamError(f"{engine.status} {engine.reason}: {engine_message(body)}",
                                    engine.status)
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            await _copy(engine.content, DockerLogDecoder(multiplexed=not tty), response,
                        options, request)
            await response.write_eof()
        except (ConnectionResetError, aiohttp.ClientPayloadError):
            pass  # the client went away while we wrote, or the engine cut the body
        return response


async def _copy(body: aiohttp.StreamReader, decoder: DockerLogDecoder,
                response: web.StreamResponse, options: PodLogOptions,
                request: web.Request) -> None:
    budget = ByteBudget(options.limit_bytes)
    while True:
        data = await _read(body, request) if options.follow else await body.read(READ_SIZE)
        if not data:
            return
        payloads = decoder.feed(data)
        if options.timestamps:
            payloads = [kubelet_timestamp(payload) for payload in payloads]
        out = budget.take(b"".join(payloads))
        if out:
            await response.write(out)
        if budget.spent:
            return


async def _read(body: aiohttp.StreamReader, request: web.Request) -> bytes:
    """The next block of a followed log; b"" at its end or once the client has gone."""
    while True:
        try:
            return await asyncio.wait_for(body.read(READ_SIZE), CLIENT_CHECK_SECONDS)
        except TimeoutError:  # quiet: the read is cancelled with nothing lost
            transport = request.transport
            if transport is None or transport.is_closing():
                return b""


__all__ = ["add_engine_session", "serve"]
