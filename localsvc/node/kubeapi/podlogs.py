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
from localsvc.model.kubeapi.connectquery import choose_container
from localsvc.model.kubeapi.logoptions import (
    ByteBudget,
    PodLogOptions,
    docker_container_id,
    kubelet_timestamp,
    parse_options,
    validate,
)
from localsvc.model.kubeapi.paths import Target
from localsvc.net.dockerlogframes import DockerLogDecoder
from localsvc.node.controller import Controller
from localsvc.node.kubeapi.connectcommon import pod_of

log = logging.getLogger(__name__)

MAX_BUFFERED = 1024 * 1024  # bytes read from Docker and not yet written to the client
CLIENT_CHECK_SECONDS = 0.5  # how often a quiet followed log looks whether its client left


class LogStream(Protocol):
    """Blocks of a log; interrupt() from another thread makes a blocked read return, close()
    (by the reading thread, once done) releases the connection."""

    def __iter__(self) -> Iterator[bytes]: ...

    def interrupt(self) -> None: ...

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
                stream.close()
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
            stream.interrupt()


class DockerLogReader:
    """Docker's log of one container as blocks of bytes (each the payloads of one 64 KiB read,
    timestamps in the kubelet's form when asked). docker-py's own iterator reads twice per
    log line; this reads its response in large blocks and decodes them (net/dockerlogframes).
    Opened on the reading thread: every call here blocks."""

    READ_SIZE = 1 << 16

    def __init__(self, api: Any, container_id: str, kwargs: dict[str, Any], timestamps: bool):
        self.timestamps = timestamps
        tty = bool(api.inspect_container(container_id)["Config"].get("Tty"))
        self.stream = api.logs(container_id, **kwargs)  # not iterated: read below
        self.fp: Any = None
        try:
            # docker-py's own helpers for what its iterator would do first (status check, no
            # socket timeout on a followed log); the buffered socket file under http.client.
            response = self.stream._response
            api._raise_for_status(response)
            api._disable_socket_timeout(api._get_raw_response_socket(response))
            self.fp = response.raw._fp.fp
            chunked = response.headers.get("Transfer-Encoding", "").lower() == "chunked"
        except AttributeError:  # another docker-py: its iterator, slower but the same bytes
            log.warning("docker-py internals differ; pod logs use its slower iterator")
            self.fp, chunked = None, False
        except BaseException:  # refused: no one else will close this connection
            self.close()
            raise
        self.decoder = DockerLogDecoder(chunked, multiplexed=not tty)

    def __iter__(self) -> Iterator[bytes]:
        blocks = self._blocks() if self.fp is not None else ([b] for b in self.stream)
        for payloads in blocks:
            if self.timestamps:
                payloads = [kubelet_timestamp(p) for p in payloads]
            if payloads:
                yield b"".join(payloads)

    def _blocks(self) -> Iterator[list[bytes]]:
        while not self.decoder.done:
            try:
                data = self.fp.read1(self.READ_SIZE)
            except (OSError, ValueError):  # shut down by close(): the client left
                return
            if not data:
                return
            yield self.decoder.feed(data)

    def interrupt(self) -> None:
        try:
            self.stream.close()  # shutdown(2) of the socket: a blocked read returns at once
        except Exception:  # already closed by the other side
            pass

    def close(self) -> None:
        """The socket's file descriptor goes only with the response that reads it: close it
        now rather than whenever the garbage collector frees this reader's cycle."""
        self.interrupt()
        try:
            self.stream._response.close()
        except Exception:  # another docker-py, or closed already
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
    pod = pod_of(controller, target)
    container = choose_container(pod, options.container)
    container_id = docker_container_id(pod, container, options.previous)
    kwargs = _docker_kwargs(options, time.time())
    api = controller.ctx.docker.api
    pump = LogPump(lambda: DockerLogReader(api, container_id, kwargs, options.timestamps))
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
        data = budget.take(b"".join(batch))
        if data:
            await response.write(data)
        if budget.spent:
            return
