"""Relaying one TCP connection between a client and an upstream (asyncio); the upstream
addresses both relays share (UDP flows: `udp_relay.py`).

Owns relaying one TCP connection, with half-close, flow control, reset-on-failure, the owner's
connection budget (in all and per source address) and the idle timeout; it does not choose
upstreams. Whoever accepted the client (the svclb forwarder's listeners, the userspace proxy's
listeners) says whom to let in, which upstream addresses to try and in what order, and keeps its
own books through the callbacks of TcpOwner; this module never binds listening sockets and never
decides which event loop runs.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import Iterable
from typing import Any, Generic, NamedTuple, Protocol, TypeVar, cast

from localsvc.net.limits import SourceBudget
from localsvc.tasks import spawn

log = logging.getLogger("localsvc.relay")


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

    upstreams() is required; the rest default to "let everyone in, keep no books, no caps".
    """

    # When one side fails with an error: reset the other (RST via SO_LINGER 0), or just abort it
    # (a plain close that drops what is buffered).
    reset_peer_on_error: bool = True
    # Connections admitted need a slot of this budget (shareable between owners); a client
    # beyond its source's share or the total is reset at once. None: no cap.
    budget: SourceBudget | None = None
    # An established relay with no byte either way for this long is closed. None: never.
    idle_timeout: float | None = None

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
        self.relay.touch()
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
        if self.peer.eof:
            # Both sides sent EOF: nothing more can flow. Close both transports ourselves:
            # returning True below keeps each one open, so on uvloop (as on asyncio) nothing
            # else would ever close them and the relay would linger. The close sends our FIN
            # after what is buffered, so no write_eof first (one shutdown() call fewer per
            # connection).
            self.relay.close()
            return True
        out = self.peer.transport
        if out is not None and not out.is_closing() and out.can_write_eof():
            out.write_eof()
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
        self.last_active = 0.0  # loop time of the last byte either way
        # Kept: asyncio.get_running_loop() checks getpid(), a system call, on every call.
        self._loop = asyncio.get_running_loop()
        self._slot: tuple[SourceBudget, str] | None = None  # given back once, in _forget
        self._idle_timer: asyncio.TimerHandle | None = None

    def client_connected(self) -> None:
        transport = self.client.transport
        assert transport is not None
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if peer else ""
        if not self.owner.admit(host):
            reset(transport)
            return
        budget = self.owner.budget
        if budget is not None:
            if not budget.acquire(host):
                if budget.refused == 1 or budget.refused % 1000 == 0:
                    log.warning("%s: connection from %s refused: connection limit reached "
                                "(%d refused so far)", self.task_name, host, budget.refused)
                reset(transport)
                return
            self._slot = (budget, host)
        transport.pause_reading()  # until the upstream side exists (see _Side.data_received)
        self.owner.relay_opened(self)
        self.touch()
        if self.owner.idle_timeout is not None:
            self._watch_idle(self.owner.idle_timeout)
        self.task = spawn(self._connect(host), name=self.task_name)

    def touch(self) -> None:
        """Bytes moved: the idle timeout counts from now."""
        self.last_active = self._loop.time()

    def _watch_idle(self, delay: float) -> None:
        self._idle_timer = self._loop.call_later(delay, self._check_idle)

    def _check_idle(self) -> None:
        # One timer per relay, re-armed for the time left rather than reset on every chunk.
        self._idle_timer = None
        idle = self.owner.idle_timeout
        if self.closed or idle is None:
            return
        quiet = self._loop.time() - self.last_active
        if quiet < idle:
            self._watch_idle(idle - quiet)
            return
        log.info("%s: closing a connection idle for %.0f s", self.task_name, quiet)
        self.close()

    async def _connect(self, client_host: str) -> None:
        loop = self._loop
        for upstream in self.owner.upstreams(client_host):
            try:
                # asyncio.timeout, not wait_for: wait_for wraps the connect in a second task
                # (and two weak references), a third of the Python time of a proxied
                # connection (cProfile, 2026-12-07).
                async with asyncio.timeout(self.connect_timeout):
                    await loop.create_connection(lambda: self.upstream, upstream.ip, upstream.port)
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
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._slot is not None:
            budget, host = self._slot
            self._slot = None
            budget.release(host)
        self.owner.relay_closed(self)


# ---------------------------------------------------------------------------------------- UDP
