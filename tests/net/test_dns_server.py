"""The DNS server on real sockets: 127.0.0.1, ports chosen by the kernel. Upstream resolvers are
other servers started here on 127.0.0.1 (never a real DNS server). Each server runs its own event
loop in a thread, so the tests can use plain blocking sockets as clients."""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

from localsvc.dns.server import DnsServer, resolv_conf_upstreams
from localsvc.model.snapshot import Endpoint, ServiceInfo, ServicePort, Snapshot

HOST = "127.0.0.1"
Z = "cluster.local"
T = TypeVar("T")

CLUSTER = Snapshot(
    version=1,
    services=(
        ServiceInfo("default", "web", "ClusterIP", "10.96.0.10", (ServicePort("http", "TCP", 80),)),
        ServiceInfo(
            "default",
            "many",
            "ClusterIP",
            None,
            (ServicePort("http", "TCP", 80),),
            tuple(Endpoint(f"10.0.3.{i}", True, {"http": 8080}) for i in range(1, 41)),
        ),
        ServiceInfo(
            "default", "ext", "ExternalName", None, external_name="www.default.svc.upstream.test"
        ),
    ),
)
# What the fake upstream resolver knows: its own zone, upstream.test.
UPSTREAM = Snapshot(
    cluster_domain="upstream.test",
    services=(
        ServiceInfo("default", "www", "ClusterIP", "192.0.2.53"),
        ServiceInfo(
            "default",
            "big",
            "ClusterIP",
            None,
            endpoints=tuple(Endpoint(f"192.0.2.{i}", True) for i in range(1, 61)),
        ),
    ),
)


class Running:
    """A DnsServer serving from its own event loop in a background thread."""

    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def call(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(5)

    @property
    def addr(self) -> tuple[str, int]:
        return (HOST, self.server.bound_port)


@contextmanager
def serving(
    snapshot: Snapshot, upstream: list[tuple[str, int]] | None = None, **kw: Any
) -> Iterator[Running]:
    running = Running(DnsServer(HOST, 0, upstream=upstream or [], **kw))
    running.thread.start()
    running.server.update(snapshot)
    asyncio.run_coroutine_threadsafe(running.server.start(), running.loop).result(5)
    try:
        yield running
    finally:
        asyncio.run_coroutine_threadsafe(running.server.stop(), running.loop).result(5)
        running.loop.call_soon_threadsafe(running.loop.stop)
        running.thread.join(5)
        running.loop.close()


@pytest.fixture
def upstream() -> Iterator[Running]:
    with serving(UPSTREAM) as running:
        yield running


@pytest.fixture
def cluster(upstream: Running) -> Iterator[Running]:
    with serving(CLUSTER, [upstream.addr], timeout=1.0) as running:
        yield running


@contextmanager
def silent_udp() -> Iterator[tuple[str, int]]:
    """An 'upstream' that receives and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        yield (HOST, sock.getsockname()[1])


def udp(addr: tuple[str, int], request: DNSRecord | bytes, timeout: float = 3.0) -> DNSRecord:
    data = request if isinstance(request, bytes) else request.pack()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(data, addr)
        return DNSRecord.parse(sock.recv(65535))


def tcp(addr: tuple[str, int], request: DNSRecord, timeout: float = 3.0) -> DNSRecord:
    return DNSRecord.parse(request.send(addr[0], addr[1], tcp=True, timeout=timeout))


def read_frame(sock: socket.socket) -> bytes:
    def exactly(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    (length,) = struct.unpack("!H", exactly(2))
    return exactly(length)


def addresses(reply: DNSRecord) -> list[str]:
    return [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]


# -- cluster names ----------------------------------------------------------------------------


def test_udp_and_tcp_answer_cluster_names(cluster: Running) -> None:
    for send in (udp, tcp):
        reply = send(cluster.addr, DNSRecord.question(f"web.default.svc.{Z}"))
        assert reply.header.rcode == RCODE.NOERROR and reply.header.aa == 1
        assert addresses(reply) == ["10.96.0.10"]
        missing = send(cluster.addr, DNSRecord.question(f"nope.default.svc.{Z}"))
        assert missing.header.rcode == RCODE.NXDOMAIN and missing.auth[0].rtype == QTYPE.SOA


def test_reply_ids_follow_the_queries_even_from_the_cache(cluster: Running) -> None:
    for qid in (1, 2, 0xFFFF, 2):
        request = DNSRecord.question(f"web.default.svc.{Z}")
        request.header.id = qid
        assert udp(cluster.addr, request).header.id == qid


def test_large_answer_truncated_over_udp_then_complete_over_tcp(cluster: Running) -> None:
    request = DNSRecord.question(f"many.default.svc.{Z}")
    cut = udp(cluster.addr, request)
    assert cut.header.tc == 1 and cut.rr == []
    full = tcp(cluster.addr, request)
    assert full.header.tc == 0
    assert addresses(full) == [f"10.0.3.{i}" for i in range(1, 41)]
    edns = DNSRecord.question(f"many.default.svc.{Z}")
    edns.add_ar(EDNS0(udp_len=4096))
    big = udp(cluster.addr, edns)
    assert big.header.tc == 0 and len(addresses(big)) == 40


def test_several_queries_on_one_tcp_connection(cluster: Running) -> None:
    names = [f"web.default.svc.{Z}", f"many.default.svc.{Z}", f"nope.{Z}"]
    with socket.create_connection(cluster.addr, timeout=3) as sock:
        frames = b""
        for i, name in enumerate(names):
            packed = DNSRecord.question(name).pack()
            packed = struct.pack("!H", 100 + i) + packed[2:]
            frames += struct.pack("!H", len(packed)) + packed
        sock.sendall(frames)  # pipelined in one write
        replies = {r.header.id: r for r in (DNSRecord.parse(read_frame(sock)) for _ in names)}
        assert addresses(replies[100]) == ["10.96.0.10"]
        assert len(replies[101].rr) == 40
        assert replies[102].header.rcode == RCODE.NXDOMAIN
        # and the connection is still usable afterwards
        packed = DNSRecord.question(f"web.default.svc.{Z}").pack()
        sock.sendall(struct.pack("!H", len(packed)) + packed)
        assert addresses(DNSRecord.parse(read_frame(sock))) == ["10.96.0.10"]


def test_idle_tcp_connection_is_closed() -> None:
    with (
        serving(CLUSTER, tcp_idle_timeout=0.3) as running,
        socket.create_connection(running.addr, timeout=3) as sock,
    ):
        time.sleep(0.6)
        assert sock.recv(10) == b""


def test_update_takes_effect_at_once(cluster: Running) -> None:
    request = DNSRecord.question(f"new.default.svc.{Z}")
    assert udp(cluster.addr, request).header.rcode == RCODE.NXDOMAIN
    added = Snapshot(
        version=2,
        services=(*CLUSTER.services, ServiceInfo("default", "new", "ClusterIP", "10.96.0.99")),
    )
    cluster.call(lambda: cluster.server.update(added))
    assert addresses(udp(cluster.addr, request)) == ["10.96.0.99"]


# -- forwarding -------------------------------------------------------------------------------


def test_outside_names_are_forwarded_unchanged_with_the_client_id(
    cluster: Running, upstream: Running
) -> None:
    request = DNSRecord.question("www.default.svc.upstream.test")
    request.header.id = 0xBEEF
    via_cluster = udp(cluster.addr, request).pack()
    direct = udp(upstream.addr, request).pack()
    assert via_cluster[:2] == b"\xbe\xef"
    assert via_cluster[2:] == direct[2:]  # the upstream's reply, byte for byte
    assert addresses(DNSRecord.parse(via_cluster)) == ["192.0.2.53"]
    assert upstream.server.stats.queries >= 2


def test_forwarded_over_tcp(cluster: Running) -> None:
    reply = tcp(cluster.addr, DNSRecord.question("www.default.svc.upstream.test"))
    assert addresses(reply) == ["192.0.2.53"]


def test_large_forwarded_answer_tc_over_udp_then_tcp(cluster: Running) -> None:
    request = DNSRecord.question("big.default.svc.upstream.test")
    cut = udp(cluster.addr, request)
    assert cut.header.tc == 1
    assert len(addresses(tcp(cluster.addr, request))) == 60


def test_external_name_outside_the_zone_is_resolved_upstream(cluster: Running) -> None:
    reply = udp(cluster.addr, DNSRecord.question(f"ext.default.svc.{Z}"))
    assert [QTYPE[rr.rtype] for rr in reply.rr] == ["CNAME", "A"]
    assert addresses(reply) == ["192.0.2.53"]
    assert reply.header.aa == 1


def test_upstream_timeout_is_servfail_and_blocks_nothing() -> None:
    with silent_udp() as dead, serving(CLUSTER, [dead], timeout=1.0) as running:
        results: dict[str, Any] = {}

        def slow() -> None:
            started = time.monotonic()
            results["reply"] = udp(running.addr, DNSRecord.question("example.com"))
            results["took"] = time.monotonic() - started

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.1)
        started = time.monotonic()
        assert addresses(udp(running.addr, DNSRecord.question(f"web.default.svc.{Z}"))) == [
            "10.96.0.10"
        ]
        assert time.monotonic() - started < 0.5  # not stuck behind the forwarded query
        thread.join(5)
        assert results["reply"].header.rcode == RCODE.SERVFAIL
        assert 0.9 <= results["took"] < 2.5
        # ExternalName: the CNAME alone when its target cannot be resolved
        ext = udp(running.addr, DNSRecord.question(f"ext.default.svc.{Z}"))
        assert ext.header.rcode == RCODE.NOERROR and [QTYPE[r.rtype] for r in ext.rr] == ["CNAME"]


def test_refused_upstream_is_servfail() -> None:
    with silent_udp() as (host, port):
        pass  # the port is free again: nobody listens there
    with serving(CLUSTER, [(host, port)], timeout=1.0) as running:
        reply = udp(running.addr, DNSRecord.question("example.com"))
        assert reply.header.rcode == RCODE.SERVFAIL


def test_no_upstream_is_servfail() -> None:
    with serving(CLUSTER, []) as running:
        assert udp(running.addr, DNSRecord.question("example.com")).header.rcode == RCODE.SERVFAIL


def test_resolv_conf_upstreams(tmp_path: Any) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# x\nsearch a.b\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\noptions x\n")
    assert resolv_conf_upstreams(str(conf)) == [("10.0.0.2", 53), ("fe80::1", 53)]
    assert resolv_conf_upstreams(str(tmp_path / "missing")) == []


# -- robustness -------------------------------------------------------------------------------


def fuzz_packets(seed: int, count: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    names = [f"web.default.svc.{Z}", f"many.default.svc.{Z}", "10.0.96.10.in-addr.arpa", Z]
    valid = []
    for name in names:
        for qtype in ("A", "AAAA", "SRV", "PTR", "ANY", "TXT"):
            request = DNSRecord.question(name, qtype)
            valid.append(request.pack())
            request.add_ar(EDNS0(udp_len=rng.choice([0, 100, 512, 4096, 65535])))
            valid.append(request.pack())
    for _ in range(count):
        kind = rng.random()
        if kind < 0.25:
            yield rng.randbytes(rng.randint(0, 600))
        elif kind < 0.5:  # flip bytes
            data = bytearray(rng.choice(valid))
            for _ in range(rng.randint(1, 6)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            yield bytes(data)
        elif kind < 0.7:  # cut short or grown
            data = rng.choice(valid)
            yield data[: rng.randrange(len(data))] + rng.randbytes(rng.choice([0, 0, 3, 40]))
        elif kind < 0.85:  # a valid header with random counts and junk
            yield struct.pack(
                "!HHHHHH",
                rng.randrange(65536),
                rng.randrange(65536) & 0x7FFF,
                *(rng.randrange(65536) for _ in range(4)),
            ) + rng.randbytes(rng.randint(0, 100))
        else:  # compression pointer loops and bad labels
            yield bytes.fromhex("abcd01000001000000000000") + rng.choice(
                [b"\xc0\x0c\x00\x01\x00\x01", b"\x40abc\x00\x00\x01\x00\x01", b"\x3f" + b"a" * 10]
            )


def test_fuzzed_packets_do_not_break_the_server() -> None:
    with serving(CLUSTER, []) as running:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            for i, packet in enumerate(fuzz_packets(seed=20261126, count=2000)):
                sock.sendto(packet, running.addr)
                if i % 50 == 0:
                    time.sleep(0.002)  # let the server keep up instead of filling the buffer
                    try:
                        while sock.recv(65535):
                            pass
                    except BlockingIOError:
                        pass
        with socket.create_connection(running.addr, timeout=3) as conn:
            for packet in fuzz_packets(seed=7, count=100):
                conn.sendall(struct.pack("!H", len(packet)) + packet)
        stats = running.server.stats
        assert stats.malformed > 100
        assert stats.errors == 0, "a packet raised inside the server"
        good = DNSRecord.question(f"web.default.svc.{Z}")
        assert addresses(udp(running.addr, good)) == ["10.96.0.10"]
        assert addresses(tcp(running.addr, good)) == ["10.96.0.10"]


def test_garbage_with_a_header_gets_formerr(cluster: Running) -> None:
    reply = udp(cluster.addr, bytes.fromhex("beef0100000100000000000003") + b"\xff" * 5)
    assert reply.header.id == 0xBEEF and reply.header.rcode == RCODE.FORMERR


# -- throughput -------------------------------------------------------------------------------

CLIENT = r"""
import random, socket, sys, time
from dnslib import DNSRecord
host, port, seconds, mixed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1"
names = ["web.default.svc.cluster.local", "many.default.svc.cluster.local",
         "nope.default.svc.cluster.local", "10.0.96.10.in-addr.arpa"]
rng = random.Random()
def query(i):
    name = names[i % len(names)]
    if mixed:  # an in-zone name never asked before (search-path style): a cache miss
        name = f"q{i}-{rng.randrange(1 << 30)}.{names[i % 3]}"
    # random 0x20 case, as some resolvers send: the same cache entry whatever the case
    name = "".join(c.upper() if rng.random() < 0.5 else c for c in name)
    return DNSRecord.question(name, "A" if i % 4 != 3 else "PTR").pack()
packets = [query(i) for i in range(15000 if mixed else 4000)]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(1.0)
done = lost = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    sock.sendto(packets[done % len(packets)], (host, port))
    try:
        sock.recv(65535)
        done += 1
    except socket.timeout:
        lost += 1
print(done, lost)
"""


def measure_qps(
    addr: tuple[str, int], clients: int, seconds: float, mixed: bool
) -> tuple[float, float]:
    """Queries per second answered, and per CPU-second the server (this process) spent."""
    argv = [sys.executable, "-c", CLIENT, addr[0], str(addr[1]), str(seconds), str(int(mixed))]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(clients)]
    cpu = time.process_time()
    total = 0
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 60)
        total += int(out.split()[0])
    cpu = time.process_time() - cpu
    return total / seconds, total / max(cpu, 1e-3)


def test_throughput_of_cluster_names(capsys: pytest.CaptureFixture[str]) -> None:
    with serving(CLUSTER, []) as running:
        hits, hits_cpu = measure_qps(running.addr, clients=4, seconds=2.0, mixed=False)
        misses, misses_cpu = measure_qps(running.addr, clients=4, seconds=2.0, mixed=True)
    with capsys.disabled():
        print(
            f"\nDNS, 4 UDP clients x 2 s: {hits:,.0f} q/s with reply-cache hits "
            f"({hits_cpu:,.0f} per server CPU-second); {misses:,.0f} q/s with every name new "
            f"({misses_cpu:,.0f} per server CPU-second)"
        )
    assert hits > 500 and misses > 200  # a sanity floor, not a benchmark


def test_every_path_echoes_the_case_of_the_question(cluster: Running) -> None:
    """Resolvers that randomise the case of names (0x20) drop replies that do not echo it: cluster
    names (first asked, then from the cache), forwarded names and chased ExternalName CNAMEs."""
    for name in (f"wEb.Default.SVC.{Z}", f"WEB.default.svc.{Z}", f"nOpE.default.svc.{Z}",
                 "WwW.default.svc.Upstream.TEST", f"EXT.default.svc.{Z}"):
        for _ in range(2):
            reply = udp(cluster.addr, DNSRecord.question(name))
            assert str(reply.q.qname) == name + ".", name
    assert cluster.server.stats.cache_hits >= 3
