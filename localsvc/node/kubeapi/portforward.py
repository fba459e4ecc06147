"""pods/NAME/portforward: what kubectl port-forward talks to (the kubelet's part, served here).

kubectl 1.31+ upgrades a GET to a WebSocket with the subprotocol `SPDY/3.1+portforward.k8s.io`
(KEP-4006) and speaks SPDY/3.1 inside its binary messages as one byte stream. Each forwarded
connection is an error + data stream pair (net/portforward_streams.py decides, net/spdy.py
frames); this module does the I/O: the byte stream, and one TCP connection per pair to the
pod's IP from the node (the node shares the pod's Docker network, not its network namespace, so
a server bound only to the pod's 127.0.0.1 is not reachable, unlike with a kubelet).

The pre-1.31 SPDY upgrade (POST with `Upgrade: SPDY/3.1`, which kubectl falls back to, or uses
with KUBECTL_PORT_FORWARD_WEBSOCKETS=false) carries the same frames on the bare connection
(portforward_channels.py: both byte streams).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import web

from localsvc.model.dialerror import connect_reason
from localsvc.model.kubeapi import status as st
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.paths import Target
from localsvc.net import portforward_streams as pf
from localsvc.net import spdy
from localsvc.node.controller import Controller
from localsvc.node.kubeapi.connectcommon import LiveObject, offered_subprotocols
from localsvc.node.longstreams import track_stream
from localsvc.node.kubeapi.portforward_channels import (
    Channel, UpgradedChannel, WebSocketChannel, spdy_upgrade)
from localsvc.runtime.pods import find_pod_containers, infra_containers
from localsvc.tasks import spawn

log = logging.getLogger("localsvc.portforward")

# The kubelet's dial has no deadline of its own (the kernel gives up after about two minutes);
# a pod whose accept queue overflows answers a retried SYN seconds later, so wait that long.
CONNECT_TIMEOUT = 30.0
OUTGOING_FRAMES = 64  # frames queued towards kubectl before pod readers wait
# What kubectl may send on a pair before its pod connection is up (the connect may take 30 s);
# past it the receiver waits for the connection, as kubectl's SPDY has no flow control.
PENDING_LIMIT = 1024 * 1024
GOAWAY_TIMEOUT = 5.0  # how long a GOAWAY may wait to reach a kubectl that stopped reading


async def serve(controller: Controller, request: web.Request, target: Target,
                live_pod: LiveObject) -> web.StreamResponse:
    pod = live_pod()
    name = target.name or ""
    offered = offered_subprotocols(request)
    websocket = request.method == "GET" and pf.WEBSOCKET_PROTOCOL in offered
    if not websocket and not spdy_upgrade(request):
        raise ApiError(st.bad_request(
            f"port-forward is an upgrade: a WebSocket with the subprotocol "
            f"{pf.WEBSOCKET_PROTOCOL} (kubectl 1.31+), or Upgrade: SPDY/3.1 with "
            f"X-Stream-Protocol-Version: {pf.PROTOCOL}"))
    pod_ip = str((pod.get("status") or {}).get("podIP") or "")
    if not pod_ip:
        raise ApiError(st.bad_request(f"pod {name} does not have an IP address yet"))
    track_stream(request)  # the node's shutdown ends the forwarding (run's finally closes all)
    channel: Channel = (await WebSocketChannel.accept(request) if websocket
                        else await UpgradedChannel.accept(request))
    uid = str(pod["metadata"].get("uid") or "")
    await Forwarding(controller, channel, pod_ip, uid).run()
    return channel.response


class Forwarding:
    """One kubectl port-forward connection and the pod connections it carries."""

    def __init__(self, controller: Controller, channel: Channel, pod_ip: str,
                 pod_uid: str) -> None:
        self.controller = controller
        self.channel = channel
        self.pod_ip = pod_ip
        self.pod_uid = pod_uid
        self.framer = spdy.Framer()
        self.streams = pf.PortForwardStreams()
        # Frames, not bytes: the sender encodes them in queue order, which is the order
        # kubectl decompresses header blocks in (Queue.put lets a later caller overtake one
        # woken from a full queue, so encoding before queueing could reorder them).
        self.outgoing: asyncio.Queue[spdy.Frame | None] = asyncio.Queue(OUTGOING_FRAMES)
        self.connections: dict[str, PodConnection] = {}
        # Every pod connection's task until it is done, ending ones included (a pair that has
        # left `connections` may still wait to queue its last frames): ended with the whole.
        self.tasks: set[asyncio.Task[Any]] = set()
        self.sender: asyncio.Task[None] | None = None
        self._sandbox: asyncio.Future[tuple[str, str]] | None = None

    async def run(self) -> None:
        sender = self.sender = spawn(self._send_frames(), name="portforward sender")
        receiver = spawn(self._receive_frames(), name="portforward receiver")
        try:
            # Either side may end it: kubectl closes the WebSocket (or says GOAWAY), or a
            # send fails because kubectl is gone (then nothing would drain the queue).
            await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for connection in list(self.connections.values()):
                connection.abort()
            if self._sandbox is not None:
                self._sandbox.cancel()
            tasks = [*self.tasks, receiver, sender]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.channel.close()

    async def send(self, frames: list[spdy.Frame]) -> None:
        for frame in frames:
            await self.outgoing.put(frame)

    async def _send_frames(self) -> None:
        # The only encoder: header blocks share one compression context, in sending order.
        while (frame := await self.outgoing.get()) is not None:
            await self.channel.send(self.framer.encode(frame))

    async def _receive_frames(self) -> None:
        try:
            async for data in self.channel.incoming():
                for frame in self.framer.feed(data):
                    for action in self.streams.receive(frame):
                        if isinstance(action, pf.Shutdown):
                            return
                        await self._act(action)
        except spdy.SpdyError as error:
            log.info("port-forward to %s ends: kubectl sent %s", self.pod_ip, error)
            await self._go_away(spdy.GoAway(self.streams.last_stream_id,
                                            spdy.GOAWAY_PROTOCOL_ERROR))

    async def _go_away(self, goaway: spdy.GoAway) -> None:
        """A session error (SPDY/3 section 2.4.1): GOAWAY, sent after what is queued, then the
        connection closes (run's finally, once the sender is done or has waited too long)."""
        async def say_it() -> None:
            await self.outgoing.put(goaway)
            await self.outgoing.put(None)
            if self.sender is not None:
                await self.sender
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(say_it(), GOAWAY_TIMEOUT)

    async def _act(self, action: pf.Action) -> None:
        if isinstance(action, pf.Send):
            await self.send([action.frame])
        elif isinstance(action, pf.Open):
            connection = PodConnection(self, action.pair)
            self.connections[action.pair.request_id] = connection
            connection.task = spawn(connection.run(),
                                    name=f"portforward {self.pod_ip}:{action.pair.port}")
            self.tasks.add(connection.task)
            connection.task.add_done_callback(self.tasks.discard)
        elif isinstance(action, pf.Deliver | pf.EndOfInput | pf.Abort):
            connection_of = self.connections.get(action.pair.request_id)
            if connection_of is None:
                return
            if isinstance(action, pf.Deliver):
                await connection_of.write(action.data)
            elif isinstance(action, pf.EndOfInput):
                connection_of.write_eof()
            elif isinstance(action, pf.Abort):
                # kubectl reset the data stream and now reads the error stream to its end.
                connection_of.abort()
                await self.send(self.streams.finish(action.pair))

    async def sandbox(self) -> tuple[str, str]:
        """The pod's infra container id and network namespace path: how a CRI kubelet names
        the pod in its errors (the sandbox id and its netns). Looked up on the first refusal
        and kept: a burst of refused connections asks Docker once, not once each."""
        if self._sandbox is None:
            self._sandbox = asyncio.ensure_future(asyncio.to_thread(self.find_sandbox))
        try:
            # Shielded: a refused pair cancelled while waiting leaves the lookup to the others.
            return await asyncio.shield(self._sandbox)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the error text then names the pod by uid
            return self.pod_uid, ""

    def find_sandbox(self) -> tuple[str, str]:
        """The Docker lookup behind `sandbox` (blocking: run in a thread)."""
        containers = find_pod_containers(self.controller.ctx.docker,
                                         self.controller.ctx.config.env, self.pod_uid)
        infra = infra_containers(containers)
        if not infra:
            return self.pod_uid, ""
        settings = infra[0].attrs.get("NetworkSettings") or {}
        return str(infra[0].id), str(settings.get("SandboxKey") or "")


class PodConnection:
    """The TCP connection of one pair; bytes kubectl sends before it is up wait in `pending`
    (up to PENDING_LIMIT), until `settled`: connected, failed or dropped."""

    def __init__(self, forwarding: Forwarding, pair: pf.Pair) -> None:
        self.forwarding = forwarding
        self.pair = pair
        self.task: asyncio.Task[Any] | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.pending = bytearray()
        self.eof_pending = False
        self.settled = asyncio.Event()

    async def run(self) -> None:
        try:
            await self._connect_and_copy()
        finally:
            self.settled.set()  # however it ended (cancelled too), no write waits any more

    async def _connect_and_copy(self) -> None:
        streams, port = self.forwarding.streams, self.pair.port
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.forwarding.pod_ip, port), CONNECT_TIMEOUT)
        except (TimeoutError, OSError) as error:
            self.settled.set()  # nothing will be delivered: writes drop their bytes
            self.pending.clear()
            sandbox, netns = await self.forwarding.sandbox()
            message = pf.connect_error(port, sandbox, netns, self.forwarding.pod_ip,
                                       connect_reason(error))
            await self._end(streams.finish(self.pair, message))
            return
        self.writer = writer
        try:
            if self.pending:
                writer.write(bytes(self.pending))
                self.pending.clear()
            if self.eof_pending:
                writer.write_eof()
            self.settled.set()
            while data := await reader.read(pf.CHUNK):
                await self.forwarding.send(streams.data(self.pair, data))
        except OSError:
            pass  # the pod reset the connection: end both streams as at EOF
        await self._end(streams.finish(self.pair))

    async def _end(self, frames: list[spdy.Frame]) -> None:
        if self.writer is not None:
            self.writer.close()
        self.forwarding.connections.pop(self.pair.request_id, None)
        with contextlib.suppress(ConnectionError):
            await self.forwarding.send(frames)

    async def write(self, data: bytes) -> None:
        if not self.settled.is_set():
            if len(self.pending) < PENDING_LIMIT:
                self.pending += data
                return
            await self.settled.wait()
        if self.writer is None:
            return  # the connect failed or the pair was dropped: nowhere to deliver
        if self.writer.is_closing():
            return  # the pod reset it: run() ends the pair when its read sees that
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (OSError, RuntimeError):
            # Not abort(): cancelling run() would leave kubectl waiting for the streams' FIN.
            self.writer.transport.abort()

    def write_eof(self) -> None:
        if not self.settled.is_set():
            self.eof_pending = True
            return
        if self.writer is None:
            return
        with contextlib.suppress(OSError, RuntimeError):
            if self.writer.can_write_eof():
                self.writer.write_eof()

    def abort(self) -> None:
        """kubectl is done with the pair (or the whole connection ends): drop it."""
        self.forwarding.connections.pop(self.pair.request_id, None)
        self.settled.set()  # a write waiting for the connection gives up
        if self.task is not None:
            self.task.cancel()
        if self.writer is not None:
            self.writer.close()
