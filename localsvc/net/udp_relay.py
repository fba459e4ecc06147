"""Relaying UDP flows between clients and upstreams (asyncio), within a flow budget.

Owns the flow table of one listening socket: a flow (a socket connected to the upstream) per
client address, created on the client's first datagram when the budget (in all and per source
address) has a slot, and ended after `idle_timeout` without a datagram either way. Whoever
serves the listening socket (svclb forwarder, userspace proxy) says which upstream a new client
gets (`choose`); this module never binds listening sockets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Generic, cast

from localsvc.net.limits import SourceBudget
from localsvc.net.relay import U
from localsvc.tasks import spawn

Clock = Callable[[], float]
ClientAddr = tuple[str, int]


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
        self.holds_slot = False  # of the listener's budget, given back once on close

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
        if self.holds_slot and self.listener.budget is not None:
            self.holds_slot = False
            self.listener.budget.release(self.client[0])
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


class UdpRelay(asyncio.DatagramProtocol, Generic[U]):
    """The listening side of UDP relaying: one UdpFlow per client address, idle ones swept.

    Subclasses say which upstream a new client's flow goes to (choose); serve the listening
    socket with this object as the protocol, then call start_sweeping(). With a `budget`
    (shareable between listeners), a new flow needs one of its slots: a client beyond its
    source's share or the total has its datagrams dropped until a flow of its source ends, as a
    full conntrack table drops new flows.
    """

    def __init__(
        self,
        label: str,
        task_prefix: str,
        idle_timeout: float,
        clock: Clock,
        log: logging.Logger,
        budget: SourceBudget | None = None,
    ) -> None:
        self.label = label
        self.task_prefix = task_prefix
        self.idle_timeout = idle_timeout
        self.clock = clock
        self.log = log
        self.transport: asyncio.DatagramTransport | None = None
        self.flows: dict[ClientAddr, UdpFlow[U]] = {}
        self.sweeper: asyncio.Task[Any] | None = None
        self.budget = budget
        self.dropped = 0  # datagrams of new flows dropped for want of a slot

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
            if self.budget is not None and not self.budget.acquire(client[0]):
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    self.log.warning("%s: flow table full for %s (%d datagrams dropped so far)",
                                     self.label, client[0], self.dropped)
                return
            flow = UdpFlow(self, client, upstream)
            flow.holds_slot = self.budget is not None
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
