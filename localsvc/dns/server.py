"""The cluster DNS server: UDP and TCP listeners that answer from the latest index and forward.

Owns: sockets, framing (UDP datagrams, TCP 2-byte length prefix), the per-index cache of packed
replies, forwarding out-of-zone queries to the upstream resolvers, and resolving out-of-zone
ExternalName targets. Every answer comes from `answer.py`; this module only moves bytes and must
never die of a packet: malformed input is counted and answered FORMERR (or dropped).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dnslib import QTYPE, RR, A, DNSRecord

from localsvc.dns.answer import (
    answer,
    qname_key,
    cname_to_chase,
    formerr_from_wire,
    servfail,
    truncate_for_udp,
    udp_payload_limit,
)
from localsvc.dns.index import DnsIndex
from localsvc.model.snapshot import Snapshot
from localsvc.node.tasks import spawn

log = logging.getLogger("localsvc.dns")

CACHE_MAX = 10_000  # packed replies kept per index version (about 2 MB)
MAX_INFLIGHT = 1024  # forwarded queries at once; beyond that, SERVFAIL at once
MAX_TCP_CLIENTS = 256


@dataclass
class DnsStats:
    queries: int = 0
    cache_hits: int = 0
    forwarded: int = 0
    malformed: int = 0
    servfail: int = 0
    errors: int = 0  # bugs caught on the hot path (logged)


class UpstreamError(Exception):
    """No usable reply from an upstream resolver (timeout, refused, garbage)."""


@dataclass(frozen=True)
class _Pending:
    """A query that needs the network: forward it, or chase the CNAME target of `reply`."""

    data: bytes  # the query as received
    request: DNSRecord
    reply: DNSRecord | None = None
    target: str = ""


def resolv_conf_upstreams(path: str = "/etc/resolv.conf") -> list[tuple[str, int]]:
    """The `nameserver` lines of resolv.conf, port 53 (missing or unreadable file: none)."""
    try:
        text = Path(path).read_text()
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            found.append((words[1].split("%", 1)[0], 53))
    return found


IP_FREEBIND = 15  # Linux; not exported by the socket module


def _bound_socket(family: int, kind: int, host: str, port: int) -> socket.socket:
    sock = socket.socket(family, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET:
            try:
                sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
            except OSError:
                pass
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class DnsServer:
    def __init__(
        self,
        host: str | Sequence[str],
        port: int,
        upstream: list[tuple[str, int]] | None = None,
        timeout: float = 2.0,
        *,
        tcp_idle_timeout: float = 10.0,
    ) -> None:
        self.hosts = [host] if isinstance(host, str) else list(host)
        self.static_hosts: dict[str, str] = {}  # out-of-zone name -> IPv4 answered locally
        self.host = self.hosts[0]
        self.port = port
        self.upstream = resolv_conf_upstreams() if upstream is None else list(upstream)
        self.timeout = timeout
        self.tcp_idle_timeout = tcp_idle_timeout
        self.stats = DnsStats()
        self._index = DnsIndex.build(Snapshot())
        self._cache: dict[tuple[bool, bytes, bytes, bytes], bytes] = {}
        self._udp_transports: list[asyncio.DatagramTransport] = []
        self._tcp_servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._bound_port = 0

    @property
    def bound_port(self) -> int:
        return self._bound_port

    @property
    def index(self) -> DnsIndex:
        return self._index

    def update(self, snapshot: Snapshot) -> None:
        """Answer from `snapshot` from now on (queries already forwarded are unaffected)."""
        self._index = DnsIndex.build(snapshot)
        self._cache = {}

    async def start(self) -> None:
        for host in self.hosts:
            await self._start_on(host)
        log.info("DNS on %s port %d (udp+tcp), upstream %s", ", ".join(self.hosts),
                 self._bound_port, self.upstream)

    async def _start_on(self, host: str) -> None:
        """Listen on one address. Each address gets its own sockets, so that UDP replies leave
        from the address the query was sent to (a resolver's connected socket drops others);
        IP_FREEBIND lets us bind a ClusterIP before the dataplane has put it on the interface."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        port = self._bound_port or self.port
        for attempt in range(20):  # port 0: UDP and TCP must end up on the same free port
            udp = _bound_socket(family, socket.SOCK_DGRAM, host, port)
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: _UdpProtocol(self), sock=udp
            )
            chosen = int(transport.get_extra_info("sockname")[1])
            try:
                tcp = _bound_socket(family, socket.SOCK_STREAM, host, chosen)
                server = await asyncio.start_server(self._serve_tcp, sock=tcp, limit=70_000)
            except OSError:
                transport.close()
                if port != 0 or attempt == 19:
                    raise
                continue
            self._udp_transports.append(transport)
            self._tcp_servers.append(server)
            self._bound_port = chosen
            return

    async def stop(self) -> None:
        for transport in self._udp_transports:
            transport.close()
        self._udp_transports.clear()
        for server in self._tcp_servers:
            server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in self._tcp_servers:
            await server.wait_closed()
        self._tcp_servers.clear()

    # -- the hot path -------------------------------------------------------------------------

    def handle(self, data: bytes, tcp: bool) -> bytes | _Pending | None:
        """The reply to one message if it can be given at once; a _Pending when it needs the
        network; None when the message gets no reply at all."""
        self.stats.queries += 1
        # Hot path: a reply cached for the same message but for the ID and the case of the
        # name; the cached reply gets this message's ID and question (same length) spliced in.
        name_end = _name_end(data)
        cache_key: tuple[bool, bytes, bytes, bytes] | None = None
        if name_end is not None:
            cache_key = (tcp, data[2:12], data[12:name_end].lower(), data[name_end:])
            cached = self._cache.get(cache_key)
            if cached is not None:
                self.stats.cache_hits += 1
                return data[:2] + cached[2:12] + data[12:name_end] + cached[name_end:]
        if len(data) < 12 or data[2] & 0x80:
            self.stats.malformed += 1
            return None  # no header to answer, or a response sent to us: never reply
        try:
            request = DNSRecord.parse(data)
        except Exception:  # noqa: BLE001 - dnslib raises many kinds of errors on garbage
            self.stats.malformed += 1
            return formerr_from_wire(data)
        index = self._index
        reply = answer(request, index)
        if reply is None:
            static = self._static_reply(request)
            if static is None:
                return _Pending(data, request)
            reply = static
        target = cname_to_chase(reply, index)
        static_ip = self.static_hosts.get(target) if target is not None else None
        if static_ip is not None:  # cname_to_chase gives index keys: lowercase, no final dot
            if request.q.qtype == QTYPE.A:
                reply.add_answer(RR(target, QTYPE.A, rdata=A(static_ip), ttl=5))
            target = None
        if target is not None and request.q.qtype in (QTYPE.A, QTYPE.AAAA) and self.upstream:
            return _Pending(data, request, reply, target)
        packed = bytes(reply.pack()) if tcp else truncate_for_udp(reply, udp_payload_limit(request))
        if cache_key is not None and packed[12:name_end].lower() == cache_key[2]:
            if len(self._cache) >= CACHE_MAX:
                del self._cache[next(iter(self._cache))]  # the oldest entry
            self._cache[cache_key] = packed
        return packed

    def _static_reply(self, request: DNSRecord) -> DNSRecord | None:
        """Names the node answers itself outside the zone (host.docker.internal on Linux
        engines, where Docker's resolver does not know it)."""
        if not self.static_hosts:
            return None
        ip = self.static_hosts.get(qname_key(request.q.qname))
        if ip is None:
            return None
        reply = request.reply(aa=1, ra=1)
        if request.q.qtype in (QTYPE.A, QTYPE.ANY):
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(ip), ttl=5))
        return reply

    def fail(self, data: bytes) -> bytes | None:
        """The reply to a message whose handling raised (a bug): SERVFAIL when it parses."""
        self.stats.errors += 1
        log.exception("DNS query failed")
        try:
            return servfail(DNSRecord.parse(data))
        except Exception:  # noqa: BLE001 - the packet itself is the problem
            return formerr_from_wire(data)

    def later(self, pending: _Pending, tcp: bool, send: Any) -> None:
        """Finish `pending` in a task of its own, then pass the reply to `send(bytes)`."""
        if len(self._tasks) >= MAX_INFLIGHT:
            self.stats.servfail += 1
            send(servfail(pending.request))
            return
        task = spawn(
            self._finish(pending, tcp, send), name=f"dns-query-{pending.request.header.id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish(self, pending: _Pending, tcp: bool, send: Any) -> None:
        if pending.reply is None:
            reply = await self._forward(pending, tcp)
        else:
            reply = await self._chase(pending, tcp)
        send(reply)

    # -- upstream -----------------------------------------------------------------------------

    async def _forward(self, pending: _Pending, tcp: bool) -> bytes:
        """The upstream's reply to the query, unchanged but for the ID; SERVFAIL on failure."""
        self.stats.forwarded += 1
        try:
            return await self._exchange(pending.data, tcp, udp_payload_limit(pending.request))
        except UpstreamError:
            self.stats.servfail += 1
            return servfail(pending.request)

    async def _chase(self, pending: _Pending, tcp: bool) -> bytes:
        reply = pending.reply
        assert reply is not None
        question = DNSRecord.question(pending.target, QTYPE[pending.request.q.qtype])
        try:
            raw = await self._exchange(question.pack(), tcp=False, limit=65535)
            found = DNSRecord.parse(raw)
            if found.header.rcode == 0:
                reply.add_answer(*found.rr)
        except Exception:  # the CNAME alone is still a correct, authoritative answer
            log.debug("could not resolve %s upstream", pending.target, exc_info=True)
        return (
            bytes(reply.pack())
            if tcp
            else truncate_for_udp(reply, udp_payload_limit(pending.request))
        )

    async def _exchange(self, query: bytes, tcp: bool, limit: int) -> bytes:
        """Ask the upstreams in turn with a fresh random ID; the reply comes back with the ID of
        `query`. Over UDP, a truncated reply is retried over TCP and kept if it fits `limit`."""
        if not self.upstream:
            raise UpstreamError("no upstream resolver")
        ours = query[:2]
        query = os.urandom(2) + query[2:]
        share = self.timeout / len(self.upstream)
        for host, port in self.upstream:
            try:
                async with asyncio.timeout(share):
                    if tcp:
                        raw = await _tcp_exchange(query, host, port)
                    else:
                        raw = await _udp_exchange(query, host, port)
                        if raw[2] & 0x02:  # TC
                            full = await _tcp_exchange(query, host, port)
                            raw = full if len(full) <= limit else raw
                return ours + raw[2:]
            except (OSError, TimeoutError, UpstreamError, asyncio.IncompleteReadError) as err:
                log.debug("upstream %s:%d: %r", host, port, err)
        raise UpstreamError("no upstream answered")

    # -- TCP ----------------------------------------------------------------------------------

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            if len(self._tasks) >= MAX_INFLIGHT + MAX_TCP_CLIENTS:
                writer.close()
                return
            self._tasks.add(task)

        def send(reply: bytes | None) -> None:
            if reply is not None and not writer.is_closing():
                writer.write(struct.pack("!H", len(reply)) + reply)

        try:
            while True:
                async with asyncio.timeout(self.tcp_idle_timeout):
                    (length,) = struct.unpack("!H", await reader.readexactly(2))
                    data = await reader.readexactly(length)
                try:
                    result = self.handle(data, tcp=True)
                except Exception:  # noqa: BLE001 - one query must not end the connection
                    result = self.fail(data)
                if isinstance(result, _Pending):
                    self.later(result, True, send)
                else:
                    send(result)
                await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        server = self.server
        try:
            result = server.handle(data, tcp=False)
        except Exception:  # noqa: BLE001 - one packet must not kill the listener
            result = server.fail(data)
        if result is None or self.transport is None:
            return
        if not isinstance(result, _Pending):
            self.transport.sendto(result, addr)
            return
        transport = self.transport

        def send(reply: bytes) -> None:
            if not transport.is_closing():
                transport.sendto(reply, addr)

        server.later(result, False, send)

    def error_received(self, exc: Exception) -> None:
        log.debug("DNS UDP socket error: %r", exc)


async def _udp_exchange(query: bytes, host: str, port: int) -> bytes:
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        await loop.sock_sendall(sock, query)
        while True:  # ignore stray datagrams until the reply to this query arrives
            raw = await loop.sock_recv(sock, 65535)
            if _matches(query, raw):
                return raw


async def _tcp_exchange(query: bytes, host: str, port: int) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(struct.pack("!H", len(query)) + query)
        await writer.drain()
        (length,) = struct.unpack("!H", await reader.readexactly(2))
        raw = await reader.readexactly(length)
    finally:
        writer.close()
    if not _matches(query, raw):
        raise UpstreamError("upstream reply does not match the query")
    return raw


def _matches(query: bytes, reply: bytes) -> bool:
    """Same ID, QR set, and the same question (names compared case-insensitively)."""
    if len(reply) < 12 or reply[:2] != query[:2] or not reply[2] & 0x80:
        return False
    end = _question_end(query)
    return end is not None and reply[12:end].lower() == query[12:end].lower()


def _question_end(message: bytes) -> int | None:
    """Where the only question of `message` ends (after QTYPE and QCLASS), if it has one."""
    end = _name_end(message)
    return end + 4 if end is not None and end + 4 <= len(message) else None


def _name_end(message: bytes) -> int | None:
    """Where the name of the only question ends: None for no or several questions, a name
    with compression pointers, or a message cut short."""
    if message[4:6] != b"\x00\x01":
        return None
    at = 12
    size = len(message)
    while at < size:
        length = message[at]
        if length == 0:
            return at + 1
        if length & 0xC0:
            return None
        at += 1 + length
    return None
