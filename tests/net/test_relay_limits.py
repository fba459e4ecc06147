"""Bounds on what clients can make the node's relays hold (issue 10, cases 6 and 10).

The budget and the limits are pure (first section); the relays are then tested on loopback:
the userspace proxy and the svclb forwarder on 127.0.0.1, clients from 127.0.0.2/127.0.0.3 (Linux
routes all of 127/8 to lo), upstreams that are plain servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import pytest

from localsvc.model.snapshot import Endpoint, ServiceInfo, ServicePort, Snapshot
from localsvc.errors import LocalsvcError
from localsvc.net.forwarder import Forwarder, ForwardRule, limits_from_spec
from localsvc.net.limits import RelayLimits, SourceBudget
from localsvc.net.proxy import ListenerKey, UserspaceProxy
from tests.net.loops import loop_fixture, run
from tests.net.ports import free_port

# ------------------------------------------------------------------------------ pure: budget


def test_budget_caps_each_source_and_the_total() -> None:
    budget = SourceBudget(total=5, per_source=2)
    assert [budget.acquire("a") for _ in range(3)] == [True, True, False]
    assert [budget.acquire("b") for _ in range(2)] == [True, True]
    assert budget.acquire("c") is True  # the fifth and last slot
    assert budget.acquire("d") is False  # total spent, although d holds nothing
    assert (budget.in_use, budget.refused) == (5, 2)
    assert (budget.held("a"), budget.held("b"), budget.held("c"), budget.held("d")) == (2, 2, 1, 0)


def test_budget_release_gives_the_slot_back_to_everyone() -> None:
    budget = SourceBudget(total=2, per_source=2)
    assert budget.acquire("a") and budget.acquire("a")
    assert not budget.acquire("b")
    budget.release("a")
    assert budget.acquire("b")
    budget.release("a")
    budget.release("b")
    assert budget.in_use == 0 and budget.held("a") == 0
    with pytest.raises(ValueError, match="holds no slot"):
        budget.release("a")  # an unmatched release is a bug, not a free slot


def test_budget_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SourceBudget(total=0, per_source=1)
    with pytest.raises(ValueError):
        SourceBudget(total=1, per_source=0)


def test_relay_limits_defaults_and_validation() -> None:
    limits = RelayLimits()
    assert limits.tcp_max_per_source < limits.tcp_max_connections
    assert limits.udp_max_flows_per_source < limits.udp_max_flows
    assert limits.tcp_idle_timeout == 3600.0 and limits.udp_idle_timeout == 30.0
    assert RelayLimits(tcp_idle_timeout=None).tcp_idle_timeout is None
    with pytest.raises(ValueError, match="RelayLimits.tcp_max_per_source must be at least 1"):
        RelayLimits(tcp_max_per_source=0)
    with pytest.raises(ValueError, match="RelayLimits.udp_idle_timeout must be positive"):
        RelayLimits(udp_idle_timeout=0)
    with pytest.raises(ValueError, match="RelayLimits.tcp_idle_timeout must be positive or None"):
        RelayLimits(tcp_idle_timeout=-1)


def test_svclb_spec_limits() -> None:
    assert limits_from_spec(None) == RelayLimits()
    assert limits_from_spec({"tcp_max_per_source": 8, "tcp_idle_timeout": None}) == RelayLimits(
        tcp_max_per_source=8, tcp_idle_timeout=None
    )
    bad = [
        ([], 'svclb spec: "limits" must be an object'),
        ({"tcp_max": 1}, "svclb spec: limits.tcp_max is not a limit .known: connect_timeout"),
        ({"udp_max_flows": "9"}, r"svclb spec: limits.udp_max_flows must be a number \(got '9'\)"),
        ({"udp_max_flows": None}, "svclb spec: limits.udp_max_flows must be a number"),
        ({"udp_max_flows": True}, "svclb spec: limits.udp_max_flows must be a number"),
        ({"udp_max_flows": 0}, "svclb spec: limits: RelayLimits.udp_max_flows must be at least 1"),
    ]
    for value, message in bad:
        with pytest.raises(LocalsvcError, match=message):
            limits_from_spec(value)


# ----------------------------------------------------------------------- loopback: the relays

HOST = "127.0.0.1"
SOURCES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
_cluster_ips = itertools.count(1)
loop_kind = loop_fixture(autouse=False)


def cluster_ip() -> str:
    """A fresh 127.0.1.x per test (test_proxy.py uses 127.0.0.50 and up)."""
    return f"127.0.1.{next(_cluster_ips)}"


async def greeter() -> tuple[asyncio.AbstractServer, int]:
    """A TCP upstream that says hello, then echoes."""

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"hello\n")
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except OSError:
            pass
        w.close()

    server = await asyncio.start_server(handle, HOST, 0)
    return server, int(server.sockets[0].getsockname()[1])


class UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(b"echo:" + data, addr)


class UdpClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.put_nowait(data)


async def udp_echo() -> tuple[asyncio.DatagramTransport, int]:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        UdpEcho, local_addr=(HOST, 0)
    )
    return transport, int(transport.get_extra_info("sockname")[1])


@dataclass
class Relayed:
    """A relay under test: where clients connect, and its flow count (UDP)."""

    ip: str
    port: int
    flows: Callable[[], int]


@asynccontextmanager
async def relay(kind: str, protocol: str, upstream_port: int,
                limits: RelayLimits) -> AsyncIterator[Relayed]:
    """The svclb forwarder or the userspace proxy, relaying to 127.0.0.1:upstream_port."""
    if kind == "forwarder":
        fwd = Forwarder([ForwardRule(0, protocol, HOST, upstream_port)],  # type: ignore[arg-type]
                        listen_host=HOST, limits=limits)
        await fwd.start()
        try:
            yield Relayed(HOST, fwd.bound_ports[0], lambda: sum(fwd.udp_flows.values()))
        finally:
            await fwd.stop()
        return
    ip = cluster_ip()
    port = free_port(ip, socket.SOCK_DGRAM if protocol == "UDP" else socket.SOCK_STREAM)
    proxy = UserspaceProxy(limits=limits)
    proxy.update(Snapshot(services=(ServiceInfo(
        "default", "svc", "ClusterIP", ip, (ServicePort("", protocol, port),),
        (Endpoint(ip=HOST, ready=True, ports={"": upstream_port}),),
    ),)))
    await proxy.wait_started()
    listener: Any = proxy.listeners[ListenerKey(ip, port, protocol)]
    try:
        yield Relayed(ip, port, lambda: len(listener.flows))
    finally:
        await proxy.stop()


async def connect(target: Relayed, source: str) -> tuple[asyncio.StreamReader,
                                                          asyncio.StreamWriter]:
    return await asyncio.wait_for(
        asyncio.open_connection(target.ip, target.port, local_addr=(source, 0)), 5
    )


async def greeted(reader: asyncio.StreamReader) -> bool:
    """The connection was relayed (the upstream's hello came through) rather than refused."""
    try:
        return await asyncio.wait_for(reader.readline(), 5) == b"hello\n"
    except (ConnectionError, asyncio.IncompleteReadError):
        return False


async def ended(reader: asyncio.StreamReader, within: float) -> bool:
    """The relay ended the connection (EOF or reset) within `within` seconds."""
    try:
        return await asyncio.wait_for(reader.read(100), within) == b""
    except ConnectionError:
        return True
    except TimeoutError:
        return False


RELAYS = ["forwarder", "proxy"]


@pytest.mark.parametrize("kind", RELAYS)
def test_tcp_over_the_source_limit_is_refused_at_once_while_others_get_through(
    kind: str, loop_kind: str
) -> None:
    async def main() -> None:
        server, port = await greeter()
        limits = RelayLimits(tcp_max_connections=5, tcp_max_per_source=3)
        async with relay(kind, "TCP", port, limits) as target:
            first, second, third = SOURCES
            held = [await connect(target, first) for _ in range(3)]
            assert [await greeted(r) for r, _ in held] == [True] * 3
            r, w = await connect(target, first)  # a 4th from the same source
            started = time.monotonic()
            assert not await greeted(r)
            assert time.monotonic() - started < 2.0, "refused, not left hanging"
            w.close()
            others = [await connect(target, second) for _ in range(2)]
            assert [await greeted(r) for r, _ in others] == [True, True]
            # 5 in all: a third source is refused too, although it holds nothing
            r, w = await connect(target, third)
            assert not await greeted(r)
            w.close()
            # a connection that ends gives its slot back
            held[0][1].close()
            await asyncio.sleep(0.2)
            r, w = await connect(target, first)
            assert await greeted(r)
            for _, writer in [*held, *others, (r, w)]:
                writer.close()
        server.close()

    run(main)


@pytest.mark.parametrize("kind", RELAYS)
def test_idle_tcp_relay_is_closed_and_a_busy_one_is_not(kind: str, loop_kind: str) -> None:
    async def main() -> None:
        server, port = await greeter()
        async with relay(kind, "TCP", port, RelayLimits(tcp_idle_timeout=0.4)) as target:
            idle_r, idle_w = await connect(target, SOURCES[0])
            busy_r, busy_w = await connect(target, SOURCES[1])
            assert await greeted(idle_r) and await greeted(busy_r)
            for i in range(8):  # 1.2 s of traffic, a byte every 0.15 s
                busy_w.write(b"x")
                assert await asyncio.wait_for(busy_r.readexactly(1), 2) == b"x"
                await asyncio.sleep(0.15)
            assert await ended(idle_r, within=0.1), "idle for 1.2 s: closed after 0.4 s"
            assert not await ended(busy_r, within=0.1)
            assert await ended(busy_r, within=2.0), "then idle itself"
            idle_w.close()
            busy_w.close()
        server.close()

    run(main)


@pytest.mark.parametrize("kind", RELAYS)
def test_udp_flow_table_is_capped_per_source_and_flows_expire(kind: str, loop_kind: str) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        echo, port = await udp_echo()
        limits = RelayLimits(udp_max_flows=4, udp_max_flows_per_source=2, udp_idle_timeout=0.4)
        async with relay(kind, "UDP", port, limits) as target:
            clients = []
            for source in (SOURCES[0],) * 3 + (SOURCES[1],):
                transport, client = await loop.create_datagram_endpoint(
                    UdpClient, local_addr=(source, 0)
                )
                clients.append((transport, client))

            async def ask(i: int, within: float = 2.0) -> bytes | None:
                transport, client = clients[i]
                transport.sendto(b"q%d" % i, (target.ip, target.port))
                try:
                    return await asyncio.wait_for(client.got.get(), within)
                except TimeoutError:
                    return None

            assert [await ask(0), await ask(1)] == [b"echo:q0", b"echo:q1"]
            assert await ask(2, within=0.3) is None  # a third flow of the same source: dropped
            assert await ask(3) == b"echo:q3"  # another source still gets through
            assert target.flows() == 3
            await asyncio.sleep(1.0)  # idle: every flow expires, and its slot is free again
            assert target.flows() == 0
            assert await ask(2) == b"echo:q2"
            for transport, _ in clients:
                transport.close()
        echo.close()

    run(main)
