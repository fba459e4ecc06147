"""The userspace service proxy (asyncio): one listener per ClusterIP:port:protocol.

Owns the fallback dataplane for engines where kernel NAT (nftables) is unavailable. Listeners are
reconciled by key on every update: removed ones stop, new ones start, kept ones get their
endpoints swapped in place (established connections are never cut), and a listener that fails to
bind is recorded and retried on the next update without failing the others. A service port with
no ready endpoint has no listener, so the kernel refuses connections to it at once. TCP
connections and UDP flows of all listeners share one budget each, capped in all and per client
address, and end when idle (the numbers: `limits.RelayLimits`). It does not add or remove
addresses (dataplane.py does) and never decides which event loop runs it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from localsvc.model.snapshot import Snapshot
from localsvc.net.limits import RelayLimits
from localsvc.net.nftables import Backend, PortRule, port_rules
from localsvc.net.relay import TcpOwner, TcpRelay
from localsvc.net.sockets import BACKLOG, listening_socket
from localsvc.net.udp_relay import UdpRelay
from localsvc.tasks import spawn

log = logging.getLogger("localsvc.proxy")

Clock = Callable[[], float]


@dataclass(frozen=True, order=True)
class ListenerKey:
    ip: str
    port: int
    protocol: str  # "TCP" | "UDP"

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}/{self.protocol.lower()}"


def listener_rules(
    snapshot: Snapshot, rules: list[PortRule] | None = None
) -> dict[ListenerKey, PortRule]:
    """The listeners a snapshot asks for: service ports that have at least one ready endpoint.
    `rules`: the snapshot's `port_rules`, when the caller has them already."""
    listeners = {
        ListenerKey(r.cluster_ip, r.port.port, r.port.protocol.upper()): r
        for r in (port_rules(snapshot) if rules is None else rules)
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

    kind = socket.SOCK_STREAM  # the listening socket's type

    def open(self) -> None:
        # Bound (and listening) synchronously: traffic queues in the kernel from now on.
        sock = listening_socket(self.key.ip, self.key.port, self.kind)
        self.sock = sock
        self.start_task = spawn(self._serve(sock), name=f"proxy-listen {self.key}")

    async def _serve(self, sock: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------- TCP


class _TcpListener(_Listener, TcpOwner[Backend]):
    """Relays each connection to the first candidate endpoint that accepts it."""

    # The proxy aborts (no RST) the other side when one side fails with an error.
    reset_peer_on_error = False

    def __init__(self, key: ListenerKey, rule: PortRule, proxy: UserspaceProxy) -> None:
        super().__init__(key, rule, proxy)
        self.server: asyncio.AbstractServer | None = None
        self.budget = proxy.tcp_budget
        self.idle_timeout = proxy.limits.tcp_idle_timeout

    async def _serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        name = f"proxy-connect {self.key}"

        def accepted() -> asyncio.Protocol:  # called once per connection accepted
            self.proxy.accepted[self.rule.label] += 1
            return TcpRelay(self, self.proxy.connect_timeout, name).client

        self.server = await loop.create_server(accepted, sock=sock, backlog=BACKLOG)

    def upstreams(self, client_host: str) -> list[Backend]:
        return self.candidates(client_host)

    def relay_opened(self, relay: TcpRelay[Backend]) -> None:
        self.proxy.relays.add(relay)  # the proxy's, so connections outlive their listener

    def relay_closed(self, relay: TcpRelay[Backend]) -> None:
        self.proxy.relays.discard(relay)

    def upstream_connected(self, client_host: str, upstream: Backend) -> None:
        self.affinity.record(client_host, upstream)

    def upstream_failed(self, client_host: str, upstream: Backend, err: Exception) -> None:
        log.debug("%s: endpoint %s:%d failed: %r", self.key, upstream.ip, upstream.port, err)

    def upstreams_exhausted(self, client_host: str) -> None:
        log.info("%s: no endpoint accepted the connection from %s", self.key, client_host)

    def close(self) -> None:
        if self.start_task is not None and not self.start_task.done():
            self.start_task.cancel()
        if self.server is not None:
            self.server.close()  # stops accepting; established connections carry on
        if self.sock is not None:
            self.sock.close()


# ---------------------------------------------------------------------------------------- UDP


class _UdpListener(_Listener, UdpRelay[Backend]):
    """A flow per client, to the candidate endpoint first in line when it starts."""

    kind = socket.SOCK_DGRAM

    def __init__(self, key: ListenerKey, rule: PortRule, proxy: UserspaceProxy) -> None:
        _Listener.__init__(self, key, rule, proxy)
        UdpRelay.__init__(self, str(key), "proxy", proxy.udp_idle_timeout, proxy.clock, log,
                          proxy.udp_budget)

    async def _serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, sock=sock)
        self.start_sweeping()

    def choose(self, client_host: str) -> Backend | None:
        """Called for each new flow only: counted as a connection (as conntrack counts one)."""
        self.proxy.accepted[self.rule.label] += 1
        candidates = self.candidates(client_host)
        if not candidates:
            return None
        self.affinity.record(client_host, candidates[0])
        return candidates[0]

    def swap(self, rule: PortRule) -> None:
        super().swap(rule)
        # Like kube-proxy clearing UDP conntrack entries: flows to a removed endpoint end now.
        for flow in [f for f in self.flows.values() if f.upstream not in rule.backends]:
            flow.close()

    def close(self) -> None:
        if self.start_task is not None and not self.start_task.done():
            self.start_task.cancel()
        self.shut()
        if self.sock is not None:
            self.sock.close()


# ------------------------------------------------------------------------------------- proxy


class UserspaceProxy:
    """Listeners for every served ClusterIP:port, reconciled by key on each update."""

    def __init__(
        self,
        *,
        limits: RelayLimits = RelayLimits(),
        udp_idle_timeout: float | None = None,
        connect_timeout: float | None = None,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        """`udp_idle_timeout` and `connect_timeout`, when given, override those of `limits`."""
        self.limits = limits.with_timeouts(udp_idle_timeout, connect_timeout)
        self.udp_idle_timeout = self.limits.udp_idle_timeout
        self.connect_timeout = self.limits.connect_timeout
        # Shared by every listener: the caps hold for the proxy as a whole.
        self.tcp_budget, self.udp_budget = self.limits.budgets()
        self.clock = clock
        self.rng = rng or random.Random()
        self.listeners: dict[ListenerKey, _Listener] = {}
        self.failures: dict[ListenerKey, str] = {}  # listeners that could not start, and why
        self.relays: set[TcpRelay[Backend]] = set()  # established TCP connections
        # Connections (UDP: flows) accepted per service port label since the proxy started,
        # ClusterIP and NodePort listeners together (the node's /v1/connections).
        self.accepted: Counter[str] = Counter()

    def update(self, snapshot: Snapshot, rules: list[PortRule] | None = None) -> None:
        """Make the listeners match the snapshot (`rules`: its `port_rules`, when the caller has
        them already). Call from within the running event loop."""
        wanted = listener_rules(snapshot, rules)
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
