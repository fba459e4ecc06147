"""Relaying one TCP connection / UDP flow between a client and an upstream (asyncio).

Owns relaying one TCP connection / UDP flow between a client and an upstream, with half-close,
flow control and reset-on-failure; it does not choose upstreams. Whoever accepted the client (the
svclb forwarder's listeners, the userspace proxy's listeners) says whom to let in, which upstream
addresses to try and in what order, and keeps its own books through the callbacks of TcpOwner
and UdpRelay; this module never binds listening sockets and never decides which event loop runs.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Callable, Iterable
from typing import Any, Generic, NamedTuple, Protocol, TypeVar, cast

from localsvc.node.tasks import spawn

Clock = Callable[[], float]
ClientAddr = tuple[str, int]


class Upstream(Protocol):
    """Where to connect: anything with an ip and a port (Address, nftables.Backend)."""

    @property
    def ip(self) -> str: ...

    @property
    def port(self) -> int: ...


U = TypeVar("U", bound=Upstream)


class Address(NamedTuple):
    """A plain upstream address, for owners that have nothing richer to name it by."""

    ip: str
    port: int

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


def reset(transport: asyncio.BaseTransport) -> None:
    """Close at once with a TCP RST (SO_LINGER 0), so the client sees a refusal, not a hang."""
    if transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    cast(asyncio.Transport, transport).abort()


# ---------------------------------------------------------------------------------------- TCP


class TcpOwner(Generic[U]):
    """What a TcpRelay asks of the listener that accepted its client.

    upstreams() is required; the rest default to "let everyone in, keep no books".
    """

    # When one side fails with an error: reset the other (RST via SO_LINGER 0), or just abort it
    # (a plain close that drops what is buffered).
    reset_peer_on_error: bool = True

    def admit(self, client_host: str) -> bool:
        """May this client be relayed? A refused one is reset before anything is read."""
        return True

    def upstreams(self, client_host: str) -> Iterable[U]:
        """The upstreams to try for a new connection, in order; the first that accepts wins."""
        raise NotImplementedError

    def relay_opened(self, relay: TcpRelay[U]) -> None:
        """An admitted connection now exists (connecting or relaying) until relay_closed."""

    def relay_closed(self, relay: TcpRelay[U]) -> None:
        """The connection is done (may come more than once, and without relay_opened)."""

    def upstream_connected(self, client_host: str, upstream: U) -> None:
        """`upstream` accepted the connection of `client_host` (e.g. to record affinity)."""

    def upstream_failed(self, client_host: str, upstream: U, err: Exception) -> None:
        """`upstream` refused or timed out; the next one is tried."""

    def upstreams_exhausted(self, client_host: str) -> None:
        """No upstream accepted: the client is about to be reset."""


class _Side(asyncio.Protocol):
    """One end of a relayed TCP connection; passes bytes, EOF and backpressure to the other."""

    def __init__(self, relay: TcpRelay[Any]) -> None:
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.eof = False
        self.write_paused = False

    @property
    def peer(self) -> _Side:
        return self.relay.upstream if self is self.relay.client else self.relay.client

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        if self is self.relay.client:
            self.relay.client_connected()
        else:
            self.relay.upstream_connected()

    def data_received(self, data: bytes) -> None:
        out = self.peer.transport
        if out is None:
            # The upstream is not connected yet. uvloop starts reading only after
            # connection_made returns, so the pause taken there may not hold: data can arrive
            # before the upstream exists. Keep it (written on connect) and pause again.
            self.relay.pending.append(data)
            if self.transport is not None:
                self.transport.pause_reading()
        elif not out.is_closing():
            out.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        out = self.peer.transport
        if out is not None and not out.is_closing() and out.can_write_eof():
            out.write_eof()
        if self.peer.eof:
            # Both sides sent EOF: nothing more can flow. Close both transports ourselves:
            # returning True below keeps each one open, so on uvloop (as on asyncio) nothing
            # else would ever close them and the relay would linger.
            self.relay.close()
        return True  # half-close: keep our write half open, the other direction carries on

    def pause_writing(self) -> None:
        # Our send buffer is full: stop reading from the side that fills it.
        self.write_paused = True
        self.relay.set_reading(self.peer, False)

    def resume_writing(self) -> None:
        self.write_paused = False
        self.relay.set_reading(self.peer, True)

    def connection_lost(self, exc: Exception | None) -> None:
        self.relay.lost(self, exc)


class TcpRelay(Generic[U]):
    """One relayed TCP connection: the client side, the upstream side, the connecting task.

    Serve a listener with `lambda: TcpRelay(owner, timeout, name).client` as protocol factory.
    """

    def __init__(self, owner: TcpOwner[U], connect_timeout: float, task_name: str) -> None:
        self.owner = owner
        self.connect_timeout = connect_timeout
        self.task_name = task_name
        self.client = _Side(self)
        self.upstream = _Side(self)
        self.pending: list[bytes] = []  # client bytes that came before the upstream connected
        self.task: asyncio.Task[Any] | None = None
        self.closed = False

    def client_connected(self) -> None:
        transport = self.client.transport
        assert transport is not None
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if peer else ""
        if not self.owner.admit(host):
            reset(transport)
            return
        transport.pause_reading()  # until the upstream side exists (see _Side.data_received)
        self.owner.relay_opened(self)
        self.task = spawn(self._connect(host), name=self.task_name)

    async def _connect(self, client_host: str) -> None:
        loop = asyncio.get_running_loop()
        for upstream in self.owner.upstreams(client_host):
            try:
                await asyncio.wait_for(
                    loop.create_connection(lambda: self.upstream, upstream.ip, upstream.port),
                    self.connect_timeout,
                )
            except (OSError, TimeoutError) as err:
                self.owner.upstream_failed(client_host, upstream, err)
                continue
            self.owner.upstream_connected(client_host, upstream)
            return
        self.owner.upstreams_exhausted(client_host)
        self.abort()

    def upstream_connected(self) -> None:
        upstream, client = self.upstream.transport, self.client.transport
        assert upstream is not None
        if self.closed or client is None or client.is_closing():
            upstream.close()
            return
        for chunk in self.pending:
            upstream.write(chunk)
        self.pending.clear()
        if self.client.eof and upstream.can_write_eof():
            upstream.write_eof()
        if not self.upstream.write_paused:
            client.resume_reading()

    def set_reading(self, side: _Side, on: bool) -> None:
        """Flow control: stop or restart reading from `side` (whose bytes fill the other)."""
        transport = side.transport
        if transport is None or transport.is_closing():
            return
        if on and not (side is self.client and self.upstream.transport is None):
            transport.resume_reading()
        elif not on:
            transport.pause_reading()

    def lost(self, side: _Side, exc: Exception | None) -> None:
        other = side.peer.transport
        if other is not None and not other.is_closing():
            if exc is None:
                other.close()  # flush what is buffered, then FIN
            elif self.owner.reset_peer_on_error:
                reset(other)
            else:
                other.abort()
        if side is self.client and self.task is not None and not self.task.done():
            self.task.cancel()
        if other is None or other.is_closing():
            self._forget()

    def close(self) -> None:
        for side in (self.client, self.upstream):
            if side.transport is not None and not side.transport.is_closing():
                side.transport.close()
        self._forget()

    def abort(self) -> None:
        """Close at once; the client gets a reset, as if the service refused it."""
        if self.client.transport is not None:
            reset(self.client.transport)
        if self.upstream.transport is not None and not self.upstream.transport.is_closing():
            self.upstream.transport.abort()
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self._forget()

    def _forget(self) -> None:
        self.closed = True
        self.owner.relay_closed(self)


# ---------------------------------------------------------------------------------------- UDP


class UdpFlow(asyncio.DatagramProtocol, Generic[U]):
    """One UDP client: a socket connected to its upstream; replies go back via the listener."""

    def __init__(self, listener: UdpRelay[U], client: ClientAddr, upstream: U) -> None:
        self.listener = listener
        self.client = client
        self.upstream = upstream
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: list[bytes] = []  # datagrams that came before the socket existed
        self.last_seen = listener.clock()
        self.task: asyncio.Task[Any] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        for data in self.pending:
            self.transport.sendto(data)
        self.pending.clear()

    def send(self, data: bytes) -> None:
        self.last_seen = self.listener.clock()
        if self.transport is None:
            if len(self.pending) < 64:
                self.pending.append(data)
        elif not self.transport.is_closing():
            self.transport.sendto(data)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.last_seen = self.listener.clock()
        out = self.listener.transport
        if out is not None and not out.is_closing():
            out.sendto(data, self.client)  # from the listening socket, i.e. from its address

    def error_received(self, exc: Exception) -> None:
        # e.g. ICMP port unreachable: end the flow; the client's next datagram opens a new one
        self.listener.log.debug(
            "%s: flow %s -> %s failed: %r", self.listener.label, self.client, self.upstream, exc
        )
        self.close()

    def close(self) -> None:
        if self.listener.flows.get(self.client) is self:
            del self.listener.flows[self.client]
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class UdpRelay(asyncio.DatagramProtocol, Generic[U]):
    """The listening side of UDP relaying: one UdpFlow per client address, idle ones swept.

    Subclasses say which upstream a new client's flow goes to (choose); serve the listening
    socket with this object as the protocol, then call start_sweeping().
    """

    def __init__(
        self, label: str, task_prefix: str, idle_timeout: float, clock: Clock, log: logging.Logger
    ) -> None:
        self.label = label
        self.task_prefix = task_prefix
        self.idle_timeout = idle_timeout
        self.clock = clock
        self.log = log
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[ClientAddr, UdpFlow[U]] = {}
        self.sweeper: asyncio.Task[Any] | None = None

    def choose(self, client_host: str) -> U | None:
        """The upstream for a new client's flow; None drops its datagram."""
        raise NotImplementedError

    def start_sweeping(self) -> None:
        self.sweeper = spawn(self._sweep(), name=f"{self.task_prefix}-udp-sweep {self.label}")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        client = (str(addr[0]), int(addr[1]))
        flow = self.flows.get(client)
        if flow is None:
            upstream = self.choose(client[0])
            if upstream is None:
                return
            flow = UdpFlow(self, client, upstream)
            self.flows[client] = flow
            flow.task = spawn(self._open(flow), name=f"{self.task_prefix}-udp-flow {self.label}")
        flow.send(data)

    def error_received(self, exc: Exception) -> None:
        self.log.debug("%s: %r", self.label, exc)

    async def _open(self, flow: UdpFlow[U]) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_datagram_endpoint(
                lambda: flow, remote_addr=(flow.upstream.ip, flow.upstream.port)
            )
        except OSError as err:
            self.log.info("%s: cannot reach %s: %r", self.label, flow.upstream, err)
            flow.close()

    async def _sweep(self) -> None:
        idle = self.idle_timeout
        while True:
            await asyncio.sleep(max(0.05, min(idle / 4, 5.0)))
            now = self.clock()
            for flow in [f for f in self.flows.values() if now - f.last_seen >= idle]:
                flow.close()

    def shut(self) -> list[asyncio.Task[Any]]:
        """Stop sweeping, end every flow and close the listening transport (if it was served).

        Returns the cancelled tasks, for an async caller to await.
        """
        tasks = [t for t in (self.sweeper,) if t is not None]
        tasks += [f.task for f in self.flows.values() if f.task is not None]
        for task in tasks:
            task.cancel()
        for flow in list(self.flows.values()):
            flow.close()
        if self.transport is not None:
            self.transport.close()  # the transport owns the socket now
        return tasks
