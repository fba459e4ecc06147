"""The DNS server's budgets on real sockets (issue 10, case 6): one source's idle TCP
connections or slow forwarded queries must not deny DNS to the other sources.

Sources are distinct loopback addresses (127.0.0.2, 127.0.0.3: Linux routes all of 127/8 to lo);
the server listens on 127.0.0.1; upstreams are fakes on 127.0.0.1."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pytest
from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from localsvc.dns.limits import DnsLimits
from tests.net.test_dns_server import CLUSTER, HOST, UPSTREAM, Running, addresses, read_frame, serving

FLOODER = "127.0.0.2"
NEIGHBOUR = "127.0.0.3"
IN_ZONE = "web.default.svc.cluster.local"  # 10.96.0.10
FORWARDED = "www.default.svc.upstream.test"  # 192.0.2.53, from the upstream


def udp_from(source: str, addr: tuple[str, int], name: str, timeout: float = 3.0) -> DNSRecord:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.sendto(DNSRecord.question(name).pack(), addr)
        return DNSRecord.parse(sock.recv(65535))


def tcp_from(source: str, addr: tuple[str, int], name: str, timeout: float = 3.0) -> DNSRecord:
    with socket.create_connection(addr, timeout=timeout, source_address=(source, 0)) as sock:
        packed = DNSRecord.question(name).pack()
        sock.sendall(struct.pack("!H", len(packed)) + packed)
        return DNSRecord.parse(read_frame(sock))


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def settle(condition: Callable[[], bool], timeout: float) -> None:
    """Wait until `condition` holds, at most `timeout` seconds (the test's asserts decide)."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def closed_by_peer(sock: socket.socket, within: float) -> bool:
    """The peer ended the connection (EOF or reset) within `within` seconds."""
    sock.settimeout(within)
    try:
        return sock.recv(10) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@contextmanager
def fake_upstream(answer_ip: str = "192.0.2.7") -> Iterator[tuple[str, int]]:
    """A UDP resolver on 127.0.0.1: names starting with "slow." get no reply, others an A."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, client = sock.recvfrom(65535)
            except TimeoutError:
                continue
            request = DNSRecord.parse(data)
            if str(request.q.qname).startswith("slow."):
                continue
            reply = request.reply()
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(answer_ip), ttl=5))
            sock.sendto(reply.pack(), client)

    thread = threading.Thread(target=serve, name="fake-upstream", daemon=True)
    thread.start()
    try:
        yield sock.getsockname()
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def test_idle_tcp_flood_from_one_pod_does_not_deny_dns_to_the_others() -> None:
    with ExitStack() as stack:
        upstream = stack.enter_context(serving(UPSTREAM))
        # An idle timeout longer than the test: only the per-source budget may save the others.
        running: Running = stack.enter_context(
            serving(CLUSTER, [upstream.addr], timeout=2.0, tcp_idle_timeout=30.0)
        )
        flood = []
        for _ in range(1100):
            flood.append(stack.enter_context(
                socket.create_connection(running.addr, timeout=5, source_address=(FLOODER, 0))
            ))
        # Until the server has accepted (and refused) the flood: then the others are tried.
        refused = 1100 - DnsLimits().tcp_max_per_source
        settle(lambda: getattr(running.server.stats, "tcp_refused", 0) >= refused, timeout=5.0)
        for send in (udp_from, tcp_from):
            assert addresses(send(NEIGHBOUR, running.addr, IN_ZONE)) == ["10.96.0.10"]
            forwarded = send(NEIGHBOUR, running.addr, FORWARDED)
            assert forwarded.header.rcode == RCODE.NOERROR
            assert addresses(forwarded) == ["192.0.2.53"]
        # the flooder's UDP still works too; its next TCP connection is closed at once
        assert addresses(udp_from(FLOODER, running.addr, FORWARDED)) == ["192.0.2.53"]
        with socket.create_connection(running.addr, timeout=5, source_address=(FLOODER, 0)) as extra:
            assert closed_by_peer(extra, within=2.0)
        assert running.server.stats.tcp_refused >= refused


def test_tcp_connections_that_send_nothing_or_half_a_query_are_closed() -> None:
    limits = DnsLimits(tcp_read_timeout=0.3, tcp_idle_timeout=5.0)
    with serving(CLUSTER, limits=limits) as running:
        with socket.create_connection(running.addr, timeout=3) as silent:
            started = time.monotonic()
            assert closed_by_peer(silent, within=3.0)
            assert time.monotonic() - started < 2.0
        with socket.create_connection(running.addr, timeout=3) as half:
            half.sendall(struct.pack("!H", 100) + b"0123456789")  # 10 of 100 bytes, then stall
            assert closed_by_peer(half, within=3.0)
        assert running.server.stats.tcp_timeouts == 2


def test_idle_between_queries_gets_the_longer_idle_timeout() -> None:
    limits = DnsLimits(tcp_read_timeout=2.0, tcp_idle_timeout=0.3)
    with serving(CLUSTER, limits=limits) as running:
        with socket.create_connection(running.addr, timeout=3) as sock:
            packed = DNSRecord.question(IN_ZONE).pack()
            sock.sendall(struct.pack("!H", len(packed)) + packed)
            assert addresses(DNSRecord.parse(read_frame(sock))) == ["10.96.0.10"]
            started = time.monotonic()
            assert closed_by_peer(sock, within=3.0)
            assert time.monotonic() - started < 1.5


def test_one_source_cannot_take_every_forwarding_slot() -> None:
    limits = DnsLimits(forward_max=8, forward_max_per_source=4)
    with fake_upstream() as upstream, serving(CLUSTER, [upstream], timeout=2.0,
                                              limits=limits) as running:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flooder:
            flooder.bind((FLOODER, 0))
            flooder.settimeout(1.0)
            for i in range(10):  # each waits on the silent upstream for 2 s
                flooder.sendto(DNSRecord.question(f"slow.{i}.example").pack(), running.addr)
            refused = [DNSRecord.parse(flooder.recv(65535)) for _ in range(6)]  # at once
            assert {r.header.rcode for r in refused} == {RCODE.SERVFAIL}
            assert running.server.stats.forward_refused == 6
            # another pod's out-of-zone name is still forwarded and answered
            reply = udp_from(NEIGHBOUR, running.addr, "fast.example")
            assert reply.header.rcode == RCODE.NOERROR and addresses(reply) == ["192.0.2.7"]
            # the flooder's own share frees when its queries end (upstream timeout: SERVFAIL)
            flooder.settimeout(5.0)
            late = [DNSRecord.parse(flooder.recv(65535)) for _ in range(4)]
            assert {r.header.rcode for r in late} == {RCODE.SERVFAIL}
            assert udp_from(FLOODER, running.addr, "fast.example").header.rcode == RCODE.NOERROR


@pytest.mark.parametrize("source", [FLOODER, NEIGHBOUR])
def test_loopback_sources_are_usable(source: str) -> None:
    """The premise of these tests: 127.0.0.x can be bound as a source address here."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        assert sock.getsockname()[0] == source
