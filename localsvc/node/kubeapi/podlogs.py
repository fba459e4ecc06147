"""GET pods/NAME/log: a container's log as the API server and the kubelet serve it.

The options, the container and the errors are decided in model/kubeapi/logoptions.py; this
module reads Docker's log of the chosen container instance and streams it as text/plain,
chunked. Docker's log stream is blocking, so a thread of its own reads it (LogPump) and hands
the chunks to the event loop in batches; at most MAX_BUFFERED bytes wait, so a slow client
slows the reader instead of making the node buffer without limit. A followed log ends when the
container ends (Docker's follow stream does), when limitBytes is reached, or when the client
goes away: then the Docker connection is shut down, which ends the reading thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Protocol

import docker.errors
from aiohttp import web

from localsvc.model.kubeapi import status as st
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.logoptions import (
    ByteBudget,
    PodLogOptions,
    choose_container,
    docker_container_id,
    kubelet_timestamp,
    parse_options,
    validate,
)
from localsvc.model.kubeapi.paths import Target
from localsvc.node.controller import Controller

log = logging.getLogger(__name__)

PODS = st.GroupResource("pods")
MAX_BUFFERED = 1024 * 1024  # bytes read from Docker and not yet written to the client
CLIENT_CHECK_SECONDS = 0.5  # how often a quiet followed log looks whether its client left


class LogStream(Protocol):
    """docker-py's CancellableStream: chunks, and close() from another thread."""

    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class LogPump:
    """A blocking stream read on its own thread, its chunks handed to the event loop."""

    def __init__(self, open_stream: Callable[[], LogStream]):
        self.open_stream = open_stream
        self.loop = asyncio.get_running_loop()
        self.cond = threading.Condition()
        self.items: list[bytes] = []
        self.buffered = 0
        self.ended = False
        self.stopped = False
        self.error: BaseException | None = None
        self.stream: LogStream | None = None
        self.wake_pending = False
        self.woken = asyncio.Event()
        self.opened: asyncio.Future[None] = self.loop.create_future()
        self.thread = threading.Thread(target=self._read, name="podlogs", daemon=True)

    def start(self) -> None:
        self.thread.start()

    # -- the reading thread

    def _read(self) -> None:
        stream: LogStream | None = None
        try:
            stream = self.open_stream()
            with self.cond:
                self.stream = stream
                stopped = self.stopped
            self._call_soon(self._set_opened, None)
            if not stopped:
                for chunk in stream:
                    if not self._put(chunk):
                        break
        except Exception as err:  # handed to the handler, which answers or ends the stream
            with self.cond:
                self.error = err
            self._call_soon(self._set_opened, err)
        finally:
            if stream is not None:
                _close(stream)
            with self.cond:
                self.ended = True
                self._wake()

    def _put(self, chunk: bytes) -> bool:
        with self.cond:
            while self.buffered >= MAX_BUFFERED and not self.stopped:
                self.cond.wait()
            if self.stopped:
                return False
            self.items.append(chunk)
            self.buffered += len(chunk)
            self._wake()
            return True

    def _wake(self) -> None:
        """Under the lock: wake the consumer once per batch, not once per chunk."""
        if not self.wake_pending:
            self.wake_pending = True
            self._call_soon(self.woken.set)

    def _call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: the node is stopping
            pass

    def _set_opened(self, err: BaseException | None) -> None:
        if self.opened.done():
            return
        if err is None:
            self.opened.set_result(None)
        else:
            self.opened.set_exception(err)

    # -- the event loop

    async def batches(self, client_gone: Callable[[], bool]) -> AsyncIterator[list[bytes]]:
        """Chunks as they come, several at a time; ends with the stream or the client."""
        while True:
            with self.cond:
                items, self.items, self.buffered = self.items, [], 0
                ended, error = self.ended, self.error
                self.wake_pending = False
                self.woken.clear()
                self.cond.notify_all()
            if items:
                yield items
                continue
            if ended:
                if error is not None:
                    log.info("pod log stream ended: %s", error)
                return
            try:
                await asyncio.wait_for(self.woken.wait(), CLIENT_CHECK_SECONDS)
            except asyncio.TimeoutError:
                if client_gone():
                    return

    def stop(self) -> None:
        """Stop reading: wake a reader waiting for room, and shut Docker's connection down so
        a reader blocked in recv returns."""
        with self.cond:
            self.stopped = True
            self.cond.notify_all()
            stream = self.stream
        if stream is not None:
            _close(stream)


def _close(stream: LogStream) -> None:
    try:
        stream.close()  # shutdown(2) of the socket: returns at once
    except Exception:  # already closed by the other side
        pass


def _query(request: web.Request) -> dict[str, list[str]]:
    return {key: request.query.getall(key) for key in request.query.keys()}


def _docker_kwargs(options: PodLogOptions, now: float) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"stdout": True, "stderr": True, "stream": True,
                              "follow": options.follow, "timestamps": options.timestamps}
    if options.tail_lines is not None:
        kwargs["tail"] = options.tail_lines
    since = options.since_epoch(now)
    if since is not None and since > 0:
        kwargs["since"] = float(since)
    return kwargs


def _client_gone(request: web.Request) -> Callable[[], bool]:
    def gone() -> bool:
        transport = request.transport
        return transport is None or transport.is_closing()
    return gone


async def serve(controller: Controller, request: web.Request,
                target: Target) -> web.StreamResponse:
    if request.method != "GET":
        raise ApiError(st.status(405, "MethodNotAllowed",
                                 "the server does not allow this method on the requested "
                                 "resource"))
    name = target.name or ""
    options = parse_options(_query(request))
    validate(options, name)
    pod = controller.objects.get(f"Pod/{target.namespace}/{name}")
    if pod is None:
        raise ApiError(st.not_found(PODS, name))
    container = choose_container(pod, options.container)
    container_id = docker_container_id(pod, container, options.previous)
    kwargs = _docker_kwargs(options, time.time())
    api = controller.ctx.docker.api
    pump = LogPump(lambda: api.logs(container_id, **kwargs))
    pump.start()
    try:
        await pump.opened
    except docker.errors.NotFound:
        pump.stop()
        raise ApiError(st.bad_request(
            f'container "{container}" in pod "{name}" is not available')) from None
    except BaseException:
        pump.stop()
        raise
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        await _copy(pump, response, options, _client_gone(request))
        await response.write_eof()
    except ConnectionResetError:  # the client went away while we wrote
        pass
    finally:
        pump.stop()
    return response


async def _copy(pump: LogPump, response: web.StreamResponse, options: PodLogOptions,
                client_gone: Callable[[], bool]) -> None:
    budget = ByteBudget(options.limit_bytes)
    async for batch in pump.batches(client_gone):
        if options.timestamps:
            batch = [kubelet_timestamp(chunk) for chunk in batch]
        data = budget.take(b"".join(batch))
        if data:
            await response.write(data)
        if budget.spent:
            return
