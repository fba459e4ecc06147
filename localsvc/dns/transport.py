"""The DNS server's transports: UDP datagrams, and TCP connections (2-byte length prefix).

Owns moving DNS messages between clients and the query handler (`server.DnsServer`), and what a
TCP client may hold: connections are admitted within a budget (in all and per source address)
and closed when they idle or read or write too slowly. Never answers anything itself.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Callable
from typing import Any, Protocol

from localsvc.dns.limits import DnsLimits, DnsStats
from localsvc.dns.upstream import Pending
from localsvc.net.limits import SourceBudget

log = logging.getLogger("localsvc.dns")

Send = Callable[[bytes], None]


class QueryHandler(Protocol):
    """What the transports need of the server."""

    limits: DnsLimits
    stats: DnsStats

    def handle(self, data: bytes, tcp: bool) -> bytes | Pending | None: ...

    def fail(self, data: bytes) -> bytes | None: ...

    def later(self, pending: Pending, tcp: bool, source: str, send: Send) -> None: ...


class TcpClients:
    """Serves TCP connections (asyncio.start_server's callback) within the TCP budget."""

    def __init__(self, handler: QueryHandler) -> None:
        self.handler = handler
        limits = handler.limits
        self.budget = SourceBudget(limits.tcp_max_clients, limits.tcp_max_per_source)
        self.tasks: set[asyncio.Task[Any]] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        source = str(peer[0]) if peer else ""
        if not self.budget.acquire(source):
            self.handler.stats.tcp_refused += 1
            writer.transport.abort()  # at once: the client sees the connection end, not a hang
            return
        task = asyncio.current_task()
        if task is not None:
            self.tasks.add(task)
        try:
            await self._queries(reader, writer)
        finally:
            self.budget.release(source)
            if task is not None:
                self.tasks.discard(task)
            writer.close()

    async def _queries(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler, limits = self.handler, self.handler.limits
        peer = writer.get_extra_info("peername")
        source = str(peer[0]) if peer else ""

        def send(reply: bytes | None) -> None:
            if reply is not None and not writer.is_closing():
                writer.write(struct.pack("!H", len(reply)) + reply)

        wait = limits.tcp_read_timeout  # for the first query; then the idle timeout
        try:
            while True:
                async with asyncio.timeout(wait):
                    prefix = await reader.readexactly(2)
                (length,) = struct.unpack("!H", prefix)
                async with asyncio.timeout(limits.tcp_read_timeout):
                    data = await reader.readexactly(length)
                try:
                    result = handler.handle(data, tcp=True)
                except Exception:  # noqa: BLE001 - one query must not end the connection
                    result = handler.fail(data)
                if isinstance(result, Pending):
                    handler.later(result, True, source, send)
                else:
                    send(result)
                async with asyncio.timeout(limits.tcp_read_timeout):
                    await writer.drain()  # a client that does not read its replies is dropped
                wait = limits.tcp_idle_timeout
        except TimeoutError:
            handler.stats.tcp_timeouts += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    async def stop(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, handler: QueryHandler) -> None:
        self.handler = handler
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        handler = self.handler
        try:
            result = handler.handle(data, tcp=False)
        except Exception:  # noqa: BLE001 - one packet must not kill the listener
            result = handler.fail(data)
        if result is None or self.transport is None:
            return
        if not isinstance(result, Pending):
            self.transport.sendto(result, addr)
            return
        transport = self.transport

        def send(reply: bytes) -> None:
            if not transport.is_closing():
                transport.sendto(reply, addr)

        handler.later(result, False, str(addr[0]), send)

    def error_received(self, exc: Exception) -> None:
        log.debug("DNS UDP socket error: %r", exc)
