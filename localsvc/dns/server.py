"""The cluster DNS server: answers from the latest index, forwards the rest, within budgets.

Owns: the listeners (one UDP and one TCP socket per address, see `transport.py` for moving the
bytes), what goes into the reply cache (`cache.py`) and when it is invalidated (per changed
name of each new index), and which queries go upstream (`upstream.py`)
within the forwarding budget (in all and per source, `limits.py`). Every answer comes from
`answer.py`; this module must never die of a packet: malformed input is counted and answered
FORMERR (or dropped).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from collections.abc import Sequence
from typing import Any

from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from localsvc.dns.answer import (
    answer,
    cname_to_chase,
    formerr_from_wire,
    qname_key,
    servfail,
    truncate_for_udp,
    udp_payload_limit,
)
from localsvc.dns.cache import ReplyCache, echo_question, lowercase_question
from localsvc.dns.index import DnsIndex, changed_names
from localsvc.dns.limits import DnsLimits, DnsStats
from localsvc.dns.transport import Send, TcpClients, UdpProtocol
from localsvc.dns.upstream import Pending, UpstreamError, exchange, resolv_conf_upstreams
from localsvc.model.snapshot import Snapshot
from localsvc.net.limits import SourceBudget
from localsvc.net.sockets import BACKLOG, listening_socket
from localsvc.tasks import spawn

log = logging.getLogger("localsvc.dns")

__all__ = ["DnsLimits", "DnsServer", "DnsStats", "UpstreamError", "resolv_conf_upstreams"]


class DnsServer:
    """The node's DNS server on one port of one or more addresses (UDP and TCP)."""

    def __init__(
        self,
        host: str | Sequence[str],
        port: int,
        upstream: list[tuple[str, int]] | None = None,
        timeout: float = 2.0,
        *,
        tcp_idle_timeout: float | None = None,
        limits: DnsLimits = DnsLimits(),
    ) -> None:
        """`tcp_idle_timeout`, when given, overrides limits.tcp_idle_timeout."""
        self.hosts = [host] if isinstance(host, str) else list(host)
        self.static_hosts: dict[str, str] = {}  # out-of-zone name -> IPv4 answered locally
        self.host = self.hosts[0]
        self.port = port
        self.upstream = resolv_conf_upstreams() if upstream is None else list(upstream)
        self.timeout = timeout
        if tcp_idle_timeout is not None:
            limits = dataclasses.replace(limits, tcp_idle_timeout=tcp_idle_timeout)
        self.limits = limits
        self.stats = DnsStats()
        self._forwards = SourceBudget(limits.forward_max, limits.forward_max_per_source)
        self._tcp = TcpClients(self)
        self._index = DnsIndex.build(Snapshot())
        self._cache = ReplyCache()
        self._udp_transports: list[asyncio.DatagramTransport] = []
        self._tcp_servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[Any]] = set()  # forwarded queries under way
        self._bound_port = 0

    @property
    def bound_port(self) -> int:
        return self._bound_port

    @property
    def index(self) -> DnsIndex:
        return self._index

    def update(self, snapshot: Snapshot) -> None:
        """Answer from `snapshot` from now on (queries already forwarded are unaffected). The
        records of every Service unchanged since the current index are reused, not rebuilt, and
        only the cached replies of names whose records changed (and negative ones) are dropped."""
        old = self._index
        self._index = new = DnsIndex.build(snapshot, previous=old)
        if new.zone != old.zone:
            self._cache.clear()
        else:
            self._cache.invalidate(changed_names(old, new))

    async def start(self) -> None:
        for host in self.hosts:
            await self._start_on(host)
        log.info("DNS on %s port %d (udp+tcp), upstream %s", ", ".join(self.hosts),
                 self._bound_port, self.upstream)

    async def _start_on(self, host: str) -> None:
        """Listen on one address. Each address gets its own sockets, so that UDP replies leave
        from the address the query was sent to (a resolver's connected socket drops others);
        IP_FREEBIND lets us bind a ClusterIP before the dataplane has put it on the interface."""
        port = self._bound_port or self.port
        for attempt in range(20):  # port 0: UDP and TCP must end up on the same free port
            udp = listening_socket(host, port, socket.SOCK_DGRAM, freebind=True)
            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: UdpProtocol(self), sock=udp
            )
            chosen = int(transport.get_extra_info("sockname")[1])
            try:
                tcp = listening_socket(host, chosen, socket.SOCK_STREAM, freebind=True)
                server = await asyncio.start_server(
                    self._tcp.serve, sock=tcp, limit=70_000, backlog=BACKLOG
                )
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
        await asyncio.gather(self._tcp.stop(), *tasks, return_exceptions=True)
        for server in self._tcp_servers:
            await server.wait_closed()
        self._tcp_servers.clear()

    # -- the hot path -------------------------------------------------------------------------

    def handle(self, data: bytes, tcp: bool) -> bytes | Pending | None:
        """The reply to one message if it can be given at once; a Pending when it needs the
        network; None when the message gets no reply at all."""
        self.stats.queries += 1
        # Hot path: a reply cached for the same message but for the ID and the case of the
        # name, patched with this message's ID and name (cache.py); no parsing at all.
        cached = self._cache.get(data, tcp)
        if cached is not None:
            self.stats.cache_hits += 1
            return cached
        if len(data) < 12 or data[2] & 0x80:
            self.stats.malformed += 1
            return None  # no header to answer, or a response sent to us: never reply
        try:  # the lowercase name: the same reply bytes for every case (echoed at the end)
            request = DNSRecord.parse(lowercase_question(data))
        except Exception:  # noqa: BLE001 - dnslib raises many kinds of errors on garbage
            self.stats.malformed += 1
            return formerr_from_wire(data)
        index = self._index
        reply = answer(request, index)
        if reply is None:
            static = self._static_reply(request)
            if static is None:
                return Pending(data, request)
            reply = static
        target = cname_to_chase(reply, index)
        static_ip = self.static_hosts.get(target) if target is not None else None
        if static_ip is not None:  # cname_to_chase gives index keys: lowercase, no final dot
            if request.q.qtype == QTYPE.A:
                reply.add_answer(RR(target, QTYPE.A, rdata=A(static_ip), ttl=5))
            target = None
        if target is not None and request.q.qtype in (QTYPE.A, QTYPE.AAAA) and self.upstream:
            return Pending(data, request, reply, target)
        packed = bytes(reply.pack()) if tcp else truncate_for_udp(reply, udp_payload_limit(request))
        # Negative (also NODATA at the end of a CNAME chain): it holds the SOA, whose serial is
        # the index version, and depends on names that have no records to compare.
        negative = reply.header.rcode != RCODE.NOERROR or not reply.rr or bool(reply.auth)
        self._cache.put(data, tcp, packed, _names_of(reply), negative)
        return echo_question(packed, data)

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

    def later(self, pending: Pending, tcp: bool, source: str, send: Send) -> None:
        """Finish `pending` in a task of its own, then pass the reply to `send(bytes)`; SERVFAIL
        at once when `source` (the client's address) has used up its share of the forwarding
        budget or the budget is spent. Replies echo the case of the question as asked
        (`pending.request` holds it in lowercase)."""

        def echoed(reply: bytes) -> None:
            send(echo_question(reply, pending.data))

        if not self._forwards.acquire(source):
            self.stats.servfail += 1
            self.stats.forward_refused += 1
            echoed(servfail(pending.request))
            return
        task = spawn(
            self._finish(pending, tcp, echoed), name=f"dns-query-{pending.request.header.id}"
        )
        self._tasks.add(task)

        def done(task: asyncio.Task[Any]) -> None:
            self._tasks.discard(task)
            self._forwards.release(source)

        task.add_done_callback(done)

    async def _finish(self, pending: Pending, tcp: bool, send: Send) -> None:
        if pending.reply is None:
            reply = await self._forward(pending, tcp)
        else:
            reply = await self._chase(pending, tcp)
        send(reply)

    # -- upstream -----------------------------------------------------------------------------

    async def _forward(self, pending: Pending, tcp: bool) -> bytes:
        """The upstream's reply to the query, unchanged but for the ID; SERVFAIL on failure."""
        self.stats.forwarded += 1
        try:
            return await self._exchange(pending.data, tcp, udp_payload_limit(pending.request))
        except UpstreamError:
            self.stats.servfail += 1
            return servfail(pending.request)

    async def _chase(self, pending: Pending, tcp: bool) -> bytes:
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
        return await exchange(query, self.upstream, self.timeout, tcp, limit)


def _names_of(reply: DNSRecord) -> list[str]:
    """The index names a reply was made from: its question and the owners of its records (the
    CNAME chain and its target, SRV targets in the additional section); lowercase, without the
    final dot."""
    names = [qname_key(reply.q.qname)]
    for rr in (*reply.rr, *reply.ar):
        if rr.rtype != QTYPE.OPT:
            names.append(qname_key(rr.rname))
        if rr.rtype == QTYPE.CNAME:
            names.append(qname_key(rr.rdata.label))
    return names
