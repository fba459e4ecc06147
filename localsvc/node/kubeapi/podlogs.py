"""GET pods/NAME/log: a container's log as the API server and the kubelet serve it.

The options, the container and the errors are decided in model/kubeapi/logoptions.py; this
module asks the engine for the chosen container instance's log on its own asyncio connection
(dockerstream.open_get), decodes each block it reads (net/dockerlogframes) and writes it to the
client, text/plain, chunked. Each write waits while the client's connection is full, and the
next read waits for it: a slow client slows the engine's connection, nothing buffers on the
node. A followed log ends when the container ends (the engine ends the body), when limitBytes
is reached, or when the client goes away; the engine's connection is closed then, and on the
node's shutdown (longstreams.track_stream cancels the handler).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

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
from localsvc.node.kubeapi.connectcommon import query_of
from localsvc.node.longstreams import track_stream
from localsvc.node.kubeapi.dockerstream import DockerStream, DockerStreamError, open_get

READ_SIZE = 1 << 16
# aiohttp tells the handler of a request without a body nothing when its client goes (unless
# the runner cancels handlers); a followed log that Docker keeps quiet looks this often.
CLIENT_CHECK_SECONDS = 1.0


async def serve(controller: Controller, request: web.Request, target: Target,
                pod: dict[str, Any] | None) -> web.StreamResponse:
    if request.method != "GET":
        raise ApiError(st.status(405, "MethodNotAllowed",
                                 "the server does not allow this method on the requested "
                                 "resource"))
    name = target.name or ""
    options = parse_options(query_of(request))
    validate(options, name)
    assert pod is not None  # app.py resolves a pod for its connect subresources
    container = choose_container(pod, options.container)
    container_id = docker_container_id(pod, container, options.previous)
    # A TTY container's log is raw bytes; any other's is framed by stream. The spec says which
    # (it cannot change for a pod), no inspect of the container needed.
    tty = bool(container_spec(pod, container).get("tty"))
    if options.follow:
        track_stream(request)
    path = f"/containers/{container_id}/logs?{docker_log_query(options, time.time())}"
    try:
        stream = await open_get(controller.ctx.docker.api.api_version, path)
    except DockerStreamError as err:
        if err.status == 404:
            raise ApiError(st.bad_request(
                f'container "{container}" in pod "{name}" is not available')) from None
        raise
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        await _copy(stream, DockerLogDecoder(stream.chunked, multiplexed=not tty), response,
                    options, request)
        await response.write_eof()
    except ConnectionResetError:  # the client went away while we wrote
        pass
    finally:
        await stream.close()
    return response


async def _copy(stream: DockerStream, decoder: DockerLogDecoder, response: web.StreamResponse,
                options: PodLogOptions, request: web.Request) -> None:
    budget = ByteBudget(options.limit_bytes)
    while not decoder.done:
        data = await _read(stream, request) if options.follow else \
            await stream.reader.read(READ_SIZE)
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


async def _read(stream: DockerStream, request: web.Request) -> bytes:
    """The next block of a followed log; b"" at its end or once the client has gone."""
    while True:
        try:
            return await asyncio.wait_for(stream.reader.read(READ_SIZE), CLIENT_CHECK_SECONDS)
        except TimeoutError:  # quiet: the read is cancelled with nothing lost
            transport = request.transport
            if transport is None or transport.is_closing():
                return b""


__all__ = ["serve"]
