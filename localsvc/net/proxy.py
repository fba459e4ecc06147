"""The userspace service proxy (asyncio): one listener per ClusterIP:port:protocol.

Owns the fallback dataplane for engines where kernel NAT (nftables) is unavailable. Listeners are
reconciled by key on every update: removed ones stop, new ones start, kept ones get their
endpoints swapped in place (established connections are never cut), and a listener that fails to
bind is recorded and retried on the next update without failing the others. A service port with
no ready endpoint has no listener, so the kernel refuses connections to it at once. It does not
add or remove addresses (dataplane.py does) and never decides which event loop runs it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from localsvc.model.snapshot import Snapshot
from localsvc.net.nftables import Backend, PortRule, port_rules
from localsvc.node.tasks import spawn

log = logging.getLogger("localsvc.proxy")

Clock = Callable[[], float]


@dataclass(frozen=True, order=True)
class ListenerKey:
    ip: str
    port: int
    protocol: str  # "TCP" | "UDP"

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}/{self.protocol.lower()}"


def listener_rules(snapshot: Snapshot) -> dict[ListenerKey, PortRule]:
    """The listeners a snapshot asks for: service ports that have at least one ready endpoint."""
    listeners = {
        ListenerKey(r.cluster_ip, r.port.port, r.port.protocol.upper()): r
        for r in port_rules(snapshot)
        if r.backends
    }
    if snapshot.node_ip:  # NodePorts on the node's own address, as on a cluster node
        for r in list(listeners.values()):
            if r.port.node_port:
                listeners[ListenerKey(snapshot.node_ip, r.port.node_port, r.port.protocol.upper())] = r
    return listeners


class Affinity:
    """ClientIP session affinity: client address -> (backend, expiry), refreshed on each use."""

    def __init__(self, timeout: float | None, clock: Clock) -> None:
        self.timeout = timeout
        self._clock = clock
        self._pins: dict[str, tuple[Backend, float]] = {}

    def lookup(self, client: str, backends: Sequence[Backend]) -> Backend | None:
        if not self.timeout:
            return None
        pin = self._pins.get(client)
        if pin is None:
            return None
        backend, expiry = pin
        if expiry <= self._clock() or backend not in backends:
            del self._pins[client]
            return None
        return backend

    def record(self, client: str, backend: Backend) -> None:
        if self.timeout:
            self._pins[client] = (backend, self._clock() + self.timeout)

    def prune(self) -> None:
        now = self._clock()
        for client in [c for c, (_, expiry) in self._pins.items() if expiry <= now]:
            del self._pins[client]


class _Listener:
    """State shared by TCP and UDP listeners: the rule (swappable), affinity, candidate order."""

    def __init__(self, key: ListenerKey, rule: PortRule, proxy: UserspaceProxy) -> None:
        self.key = key
        self.rule = rule
        self.proxy = proxy
        self.affinity = Affinity(rule.affinity_timeout, proxy.clock)
        self.sock: socket.socket | None = None
        self.start_task: asyncio.Task[Any] | None = None

    def swap(self, rule: PortRule) -> None:
        self.rule = rule
        self.affinity.timeout = rule.affinity_timeout
        self.affinity.prune()

    def candidates(self, client: str) -> list[Backend]:
        """Backends to try for a new connection: the pinned one first, then the rest shuffled."""
        backends = list(self.rule.backends)
        pinned = self.affinity.lookup(client, backends)
        self.proxy.rng.shuffle(backends)
        if pinned is not None:
            backends.remove(pinned)
            backends.insert(0, pinned)
        return backends

    def open(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------- TCP


class _Side(asyncio.Protocol):
    """One end of a relayed TCP connection; forwards bytes, EOF and backpressure to the other."""

    def __init__(self, relay: _Relay) -> None:
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
            # Upstream not connected yet. (uvloop starts reading only after connection_made,
            # so the pause there may not hold: keep what came and pause again.)
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
            self.relay.close()
        return True  # keep our write half open until the peer is done too

    def pause_writing(self) -> None:
        # Our send buffer is full: stop reading from the side that fills it.
        self.write_paused = True
        src = self.peer.transport
        if src is not None and not src.is_closing():
            src.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        src = self.peer.transport
        if src is not None and not src.is_closing():
            src.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.relay.lost(self, exc)


class _Relay:
    """One proxied TCP connection: client side, upstream side, and the task that connects."""

    def __init__(self, listener: _TcpListener) -> None:
        self.listener = listener
        self.client = _Side(self)
        self.upstream = _Side(self)
        self.pending: list[bytes] = []  # client bytes that came before the upstream connected
        self.task: asyncio.Task[Any] | None = None
        self.closed = False

    def client_connected(self) -> None:
        transport = self.client.transport
        assert transport is not None
        transport.pause_reading()  # until the upstream side exists
        self.listener.proxy.relays.add(self)
        peer = transport.get_extra_info("peername")
        client_ip = peer[0] if peer else ""
        self.task = spawn(self._connect(client_ip), name=f"proxy-connect {self.listener.key}")

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

    async def _connect(self, client_ip: str) -> None:
        loop = asyncio.get_running_loop()
        listener = self.listener
        for backend in listener.candidates(client_ip):
            try:
                await asyncio.wait_for(
                    loop.create_connection(lambda: self.upstream, backend.ip, backend.port),
                    listener.proxy.connect_timeout,
                )
            except (OSError, TimeoutError) as err:
                log.debug(
                    "%s: endpoint %s:%d failed: %r", listener.key, backend.ip, backend.port, err
                )
                continue
            listener.affinity.record(client_ip, backend)
            return
        log.info("%s: no endpoint accepted the connection from %s", listener.key, client_ip)
        self.abort()

    def lost(self, side: _Side, exc: Exception | None) -> None:
        other = side.peer.transport
        if other is not None and not other.is_closing():
            if exc is None:
                other.close()  # flushes what is buffered, then FIN
            else:
                other.abort()
        if side is self.client and self.task is not None and not self.task.done():
            self.task.cancel()
        if side.peer.transport is None or side.peer.transport.is_closing():
            self._forget()

    def close(self) -> None:
        for side in (self.client, self.upstream):
            if side.transport is not None and not side.transport.is_closing():
                side.transport.close()
        self._forget()

    def abort(self) -> None:
        """Close at once; the client gets a reset, as if the service refused it."""
        client = self.client.transport
        if client is not None and not client.is_closing():
            sock = client.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            client.abort()
        if self.upstream.transport is not None:
            self.upstream.transport.abort()
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self._forget()

    def _forget(self) -> None:
        self.closed = True
        self.listener.proxy.relays.discard(self)


class _TcpListener(_Listener):
    def __init__(self, key: ListenerKey, rule: PortRule, proxy: UserspaceProxy) -> None:
        super().__init__(key, rule, proxy)
        self.server: asyncio.AbstractServer | None = None

    def open(self) -> None:
        # Bound and listening synchronously: connections queue in the backlog from now on.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.key.ip, self.key.port))
            sock.listen(1024)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self.start_task = spawn(self._serve(sock), name=f"proxy-listen {self.key}")

    async def _serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Relay(self).client, sock=sock)

    def close(self) -> None:
        if self.start_task is not None and not self.start_task.done():
            self.start_task.cancel()
        if self.server is not None:
            self.server.close()  # stops accepting; established connections carry on
        if self.sock is not None:
            self.sock.close()


# ---------------------------------------------------------------------------------------- UDP


class _Flow(asyncio.DatagramProtocol):
    """One client's UDP flow: a connected socket to the chosen endpoint."""

    def __init__(self, listener: _UdpListener, client: tuple[str, int], backend: Backend) -> None:
        self.listener = listener
        self.client = client
        self.backend = backend
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: list[bytes] = []
        self.last_seen = listener.proxy.clock()
        self.task: asyncio.Task[Any] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        for data in self.pending:
            self.transport.sendto(data)
        self.pending.clear()

    def send(self, data: bytes) -> None:
        self.last_seen = self.listener.proxy.clock()
        if self.transport is None:
            if len(self.pending) < 64:
                self.pending.append(data)
        elif not self.transport.is_closing():
            self.transport.sendto(data)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.last_seen = self.listener.proxy.clock()
        out = self.listener.transport
        if out is not None and not out.is_closing():
            out.sendto(data, self.client)  # from the listener socket, i.e. from the ClusterIP

    def error_received(self, exc: Exception) -> None:
        # e.g. ICMP port unreachable from the endpoint: drop the flow, the next datagram re-picks
        log.debug("%s: flow %s -> %s failed: %r", self.listener.key, self.client, self.backend, exc)
        self.close()

    def close(self) -> None:
        self.listener.flows.pop(self.client, None)
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class _UdpListener(_Listener, asyncio.DatagramProtocol):
    def __init__(self, key: ListenerKey, rule: PortRule, proxy: UserspaceProxy) -> None:
        super().__init__(key, rule, proxy)
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[tuple[str, int], _Flow] = {}
        self.sweeper: asyncio.Task[Any] | None = None

    def open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.key.ip, self.key.port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self.start_task = spawn(self._serve(sock), name=f"proxy-listen {self.key}")

    async def _serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, sock=sock)
        self.sweeper = spawn(self._sweep(), name=f"proxy-udp-sweep {self.key}")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        client = (str(addr[0]), int(addr[1]))
        flow = self.flows.get(client)
        if flow is None:
            candidates = self.candidates(client[0])
            if not candidates:
                return
            flow = _Flow(self, client, candidates[0])
            self.flows[client] = flow
            self.affinity.record(client[0], flow.backend)
            flow.task = spawn(self._open_flow(flow), name=f"proxy-udp-flow {self.key}")
        flow.send(data)

    async def _open_flow(self, flow: _Flow) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_datagram_endpoint(
                lambda: flow, remote_addr=(flow.backend.ip, flow.backend.port)
            )
        except OSError as err:
            log.info("%s: cannot reach endpoint %s: %r", self.key, flow.backend, err)
            flow.close()

    async def _sweep(self) -> None:
        idle = self.proxy.udp_idle_timeout
        while True:
            await asyncio.sleep(max(0.05, min(idle / 4, 5.0)))
            now = self.proxy.clock()
            for flow in [f for f in self.flows.values() if now - f.last_seen >= idle]:
                flow.close()

    def swap(self, rule: PortRule) -> None:
        super().swap(rule)
        # Like kube-proxy clearing UDP conntrack entries: flows to a removed endpoint end now.
        for flow in [f for f in self.flows.values() if f.backend not in rule.backends]:
            flow.close()

    def close(self) -> None:
        for task in (self.start_task, self.sweeper):
            if task is not None and not task.done():
                task.cancel()
        for flow in list(self.flows.values()):
            flow.close()
        if self.transport is not None:
            self.transport.close()
        if self.sock is not None:
            self.sock.close()


# ------------------------------------------------------------------------------------- proxy


class UserspaceProxy:
    """Listeners for every served ClusterIP:port, reconciled by key on each update."""

    def __init__(
        self,
        *,
        udp_idle_timeout: float = 30.0,
        connect_timeout: float = 5.0,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.udp_idle_timeout = udp_idle_timeout
        self.connect_timeout = connect_timeout
        self.clock = clock
        self.rng = rng or random.Random()
        self.listeners: dict[ListenerKey, _Listener] = {}
        self.failures: dict[ListenerKey, str] = {}  # listeners that could not start, and why
        self.relays: set[_Relay] = set()  # established TCP connections

    def update(self, snapshot: Snapshot) -> None:
        """Make the listeners match the snapshot. Call from within the running event loop."""
        wanted = listener_rules(snapshot)
        for key in sorted(set(self.listeners) - set(wanted)):
            self.listeners.pop(key).close()
        self.failures = {k: v for k, v in self.failures.items() if k in wanted}
        for key, rule in sorted(wanted.items()):
            current = self.listeners.get(key)
            if current is not None:
                if current.rule != rule:
                    current.swap(rule)
                continue
            listener: _Listener = (
                _UdpListener(key, rule, self)
                if key.protocol == "UDP"
                else _TcpListener(key, rule, self)
            )
            try:
                listener.open()
            except OSError as err:
                self.failures[key] = f"{err.strerror or err}"
                log.warning(
                    "proxy: cannot listen on %s (%s/%s): %s", key, rule.namespace, rule.service, err
                )
                continue
            self.failures.pop(key, None)
            self.listeners[key] = listener

    async def wait_started(self) -> None:
        """Wait until every listener opened so far is served by the event loop."""
        tasks = [x.start_task for x in self.listeners.values() if x.start_task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def stop(self) -> None:
        """Close every listener and every proxied connection."""
        tasks: list[asyncio.Task[Any]] = []
        for listener in self.listeners.values():
            tasks += [t for t in (listener.start_task,) if t is not None]
            listener.close()
        self.listeners.clear()
        for relay in list(self.relays):
            if relay.task is not None:
                tasks.append(relay.task)
            relay.abort()
        await asyncio.gather(*tasks, return_exceptions=True)
