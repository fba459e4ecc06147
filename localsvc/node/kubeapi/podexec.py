"""pods/exec and pods/attach: a WebSocket with the Kubernetes channel protocol (v5 down to v1,
model/kubeapi/channels.py) bridged to a Docker exec or to the container's attach stream.

The request is checked as the API server checks it (the pod, the container rule, the options)
before the upgrade; a failure the kubelet would meet after it (the container is not running,
the engine refuses) ends the session with a Status on the error channel, as the 1.32 API
server's stream translator sends it. SPDY (kubectl's fallback when the upgrade fails) is not
served: such a request, and a plain one, get a Status saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from localsvc.model.kubeapi import channels as ch
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.connectquery import choose_container
from localsvc.model.kubeapi.execoptions import (StreamOptions, StreamTarget, attach_options,
                                                container_not_found, exec_options,
                                                protocols_not_supported, running_target,
                                                websocket_required)
from localsvc.model.kubeapi.paths import Target
from localsvc.node.controller import Controller
from localsvc.node.kubeapi.connectcommon import LiveObject, offered_subprotocols, query_of
from localsvc.node.longstreams import WS_CLOSE_SECONDS, track_stream
from localsvc.node.kubeapi.dockerstream import DockerStream, DockerStreamError, open_stream
from localsvc.runtime.execs import EXIT_CODE_WAIT, exit_code

log = logging.getLogger("localsvc.kubeapi.exec")
Resize = Callable[[int, int], None]  # (width, height) to the engine; blocking

MAX_MESSAGE = 4 * 1024 * 1024  # a client's stdin chunk (kubectl cp sends 32 KiB ones)
READ_CHUNK = 256 * 1024


async def serve_exec(controller: Controller, request: web.Request, target: Target,
                     live_pod: LiveObject) -> web.StreamResponse:
    options = exec_options(query_of(request))
    return await _serve(controller, request, live_pod(), options, "exec")


async def serve_attach(controller: Controller, request: web.Request, target: Target,
                       live_pod: LiveObject) -> web.StreamResponse:
    options = attach_options(query_of(request))
    return await _serve(controller, request, live_pod(), options, "attach")


async def _serve(controller: Controller, request: web.Request, pod: dict[str, Any],
                 options: StreamOptions, kind: str) -> web.StreamResponse:
    container = choose_container(pod, options.container)
    ws = web.WebSocketResponse(protocols=ch.PROTOCOLS, heartbeat=None,
                               max_msg_size=MAX_MESSAGE, autoclose=False,
                               timeout=WS_CLOSE_SECONDS)
    ready = ws.can_prepare(request)
    if not ready.ok:
        raise ApiError(websocket_required(kind))
    offered = offered_subprotocols(request)
    if offered and ready.protocol is None:
        raise ApiError(protocols_not_supported(offered, ch.PROTOCOLS))
    await ws.prepare(request)
    track_stream(request)  # the node's shutdown cancels the session; `finally` closes both ends
    protocol = ws.ws_protocol or ch.V1
    session = Session(ws, protocol, options)
    try:
        found = running_target(pod, container)
        if found is None:
            await session.finish(ch.internal_error_status(container_not_found(container)))
        elif kind == "exec":
            await session.run_exec(controller, found)
        else:
            await session.run_attach(controller, found)
    finally:
        await session.close()
    return ws


class Session:
    """One WebSocket session: the client's channels on one side, a Docker stream on the other."""

    def __init__(self, ws: web.WebSocketResponse, protocol: str, options: StreamOptions):
        self.ws = ws
        self.protocol = protocol
        self.options = options
        self.client_gone = False

    async def run_exec(self, controller: Controller, found: StreamTarget) -> None:
        api = controller.ctx.docker.api
        options = self.options
        try:
            exec_id = (await asyncio.to_thread(
                api.exec_create, found.container_id, list(options.command),
                stdin=options.stdin, stdout=options.stdout, stderr=options.stderr,
                tty=options.tty))["Id"]
            stream = await open_stream(api.api_version, f"/exec/{exec_id}/start",
                                       {"Detach": False, "Tty": options.tty})
        except Exception as err:  # the engine refused: the kubelet's InternalError
            await self.finish(ch.internal_error_status(_engine_error(err)))
            return

        def resize(width: int, height: int) -> None:
            api.exec_resize(exec_id, height=height, width=width)

        await self._bridge(stream, options.tty, resize)
        if self.client_gone:
            # The process is left to run, as in a cluster: neither the kubelet nor containerd
            # ends an exec whose client went away (kubernetes#89031, kubectl#1076, runc#3359),
            # and neither does Docker. Closing the engine's stream gives a process reading its
            # stdin its EOF; a TTY shell gets no hangup (Docker keeps the pty open, as
            # containerd's shim does: k3s#13749); a `sleep` runs to its end.
            return
        code = await asyncio.to_thread(exit_code, api, exec_id, EXIT_CODE_WAIT)
        if code is None:
            await self.finish(ch.internal_error_status(
                "the command's output ended but the engine reports it still running"))
        elif code == 0:
            await self.finish(ch.success_status())
        else:
            await self.finish(ch.exit_status(code, options.command))

    async def run_attach(self, controller: Controller, found: StreamTarget) -> None:
        api = controller.ctx.docker.api
        options = self.options
        flags = "&".join(f"{key}={int(value)}" for key, value in (
            ("stdin", options.stdin and found.stdin), ("stdout", options.stdout),
            ("stderr", options.stderr)))
        try:
            stream = await open_stream(api.api_version,
                                       f"/containers/{found.container_id}/attach?stream=1&{flags}")
        except DockerStreamError as err:
            await self.finish(ch.internal_error_status(f"error attaching to container: {err}"))
            return

        def resize(width: int, height: int) -> None:
            api.resize(found.container_id, height=height, width=width)

        # The container's own TTY decides the framing (the request's tty only asks for resizes).
        await self._bridge(stream, found.tty, resize)
        if not self.client_gone:
            await self.finish(ch.success_status())

    async def _bridge(self, stream: DockerStream, tty: bool, resize: Resize) -> None:
        """Move bytes both ways until the process's output ends or the client leaves."""
        down = asyncio.ensure_future(self._docker_to_client(stream, tty))
        up = asyncio.ensure_future(self._client_to_docker(stream, resize))
        try:
            done, _ = await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
            # The client left: it closed the WebSocket while output still came, or sending to
            # it failed. Either way no one reads the rest.
            self.client_gone = (up in done and not down.done()) or (
                down in done and down.exception() is not None)
        finally:
            for task in (down, up):
                task.cancel()
            await asyncio.gather(down, up, return_exceptions=True)
            await stream.close()

    async def _docker_to_client(self, stream: DockerStream, tty: bool) -> None:
        demuxer = None if tty else ch.DockerDemuxer()
        while data := await stream.reader.read(READ_CHUNK):
            chunks = [(ch.STDOUT, data)] if demuxer is None else demuxer.feed(data)
            for channel, payload in chunks:
                await self.ws.send_bytes(ch.frame(channel, payload))

    async def _client_to_docker(self, stream: DockerStream, resize: Resize) -> None:
        sizes = ch.ResizeBuffer()
        stdin_open = self.options.stdin
        async for msg in self.ws:
            if msg.type is WSMsgType.BINARY:
                data = msg.data
            elif msg.type is WSMsgType.TEXT:
                # The raw protocols take a text message as its UTF-8 bytes, as wsstream does
                # (the official Python client sends str data so: chr(channel) + text).
                data = msg.data.encode()
            else:
                continue
            message = ch.parse_message(self.protocol, data)
            if message is None:
                continue
            if message.channel == ch.STDIN:
                if message.close and stdin_open:
                    stream.close_stdin()
                    stdin_open = False
                elif stdin_open and message.data:
                    try:
                        await stream.send(message.data)
                    except OSError:  # the process ended without reading it all: drop the rest
                        stdin_open = False
            elif message.channel == ch.RESIZE and not message.close:
                try:
                    for width, height in sizes.feed(message.data):
                        await asyncio.to_thread(_quiet, resize, width, height)
                except ch.ResizeError as err:
                    log.info("exec: %s", err)

    async def finish(self, status: dict[str, Any]) -> None:
        payload = ch.error_payload(self.protocol, status)
        with contextlib.suppress(ConnectionError, RuntimeError):
            if payload:
                await self.ws.send_bytes(ch.frame(ch.ERROR, payload))

    async def close(self) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError, asyncio.TimeoutError):
            await asyncio.wait_for(self.ws.close(), 5.0)


def _quiet(resize: Resize, width: int, height: int) -> None:
    """A resize the engine refuses (the process just ended) is no reason to end the session."""
    try:
        resize(width, height)
    except Exception as err:
        log.debug("resize to %sx%s: %s", width, height, err)


def _engine_error(err: Exception) -> str:
    explanation = getattr(err, "explanation", None)
    text = explanation if isinstance(explanation, str) else str(err)
    return f"error executing command in container: {text}"


__all__ = ["serve_exec", "serve_attach"]
