"""The svclb forwarder on real sockets: targets are small asyncio servers on 127.0.0.1 ports the
kernel chooses; the forwarder listens on 127.0.0.1 port 0; clients connect from 127.0.0.x."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from localsvc.errors import LocalsvcError
from localsvc.net.forwarder import Forwarder, ForwardRule, rules_from_json, rules_to_json
from tests.net.loops import loop_fixture, run
from tests.net.ports import free_port

HOST = "127.0.0.1"
loop_kind = loop_fixture(autouse=True)


# ---------------------------------------------------------------------------------- helpers


async def tcp_echo() -> tuple[asyncio.AbstractServer, int]:
    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
            w.write(b"<eof>")  # half-close seen: answer after the client's EOF
            await w.drain()
        finally:
            w.close()

    server = await asyncio.start_server(handle, HOST, 0)
    return server, int(server.sockets[0].getsockname()[1])


class UdpEcho(asyncio.DatagramProtocol):
    """Answers each datagram with `<data>|<source ip>:<source port>` it came from."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data + f"|{addr[0]}:{addr[1]}".encode(), addr)


async def udp_echo() -> tuple[asyncio.DatagramTransport, int]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(UdpEcho, local_addr=(HOST, 0))
    return transport, int(transport.get_extra_info("sockname")[1])


@asynccontextmanager
async def forwarding(*rules: ForwardRule, **kw: Any) -> AsyncIterator[Forwarder]:
    fwd = Forwarder(rules, listen_host=HOST, **kw)
    await fwd.start()
    try:
        yield fwd
    finally:
        await fwd.stop()


def tcp(target: int, **kw: Any) -> ForwardRule:
    return ForwardRule(0, "TCP", HOST, target, **kw)


class UdpClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.replies.put_nowait((data, addr))


async def udp_client(port: int) -> tuple[asyncio.DatagramTransport, UdpClient]:
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(UdpClient, local_addr=("127.0.0.5", 0))
    return transport, client


# ------------------------------------------------------------------------------------- spec


def test_the_spec_carries_the_host_alias_only_when_there_is_one() -> None:
    """node/svclb.py writes the alias the forwarder's run_forwarder reads as "host_alias"."""
    rules = [ForwardRule(8080, "TCP", "10.1.128.5", 80)]
    with_alias = rules_to_json(rules, host_alias="172.17.0.1")
    assert json.loads(with_alias)["host_alias"] == "172.17.0.1"
    assert rules_from_json(with_alias) == rules
    assert "host_alias" not in json.loads(rules_to_json(rules))


def test_rules_round_trip_and_bad_spec() -> None:
    rules = [
        ForwardRule(8080, "TCP", "10.1.128.5", 80, ("10.0.0.0/8", "192.168.1.0/24")),
        ForwardRule(53, "UDP", "10.1.128.10", 53),
    ]
    assert rules_from_json(rules_to_json(rules)) == rules
    with pytest.raises(LocalsvcError, match=r"rules\[0\].protocol"):
        rules_from_json('{"rules": [{"listen_port": 1, "protocol": "SCTP"}]}')
    with pytest.raises(LocalsvcError, match="target_port"):
        rules_from_json('[{"listen_port": 1, "target_ip": "10.0.0.1", "target_port": 0}]')
    with pytest.raises(LocalsvcError, match="not valid JSON"):
        rules_from_json("{")


def test_port_in_use_is_a_clear_error() -> None:
    async def main() -> None:
        with socket.socket() as busy:
            busy.bind((HOST, 0))
            busy.listen()
            port = busy.getsockname()[1]
            fwd = Forwarder([ForwardRule(port, "TCP", HOST, 1)], listen_host=HOST)
            with pytest.raises(LocalsvcError, match=f"cannot listen on {HOST}:{port}/tcp"):
                await fwd.start()
            assert fwd.bound_ports == {}

    run(main)


# -------------------------------------------------------------------------------------- TCP


def test_tcp_echo_with_50_concurrent_connections() -> None:
    async def main() -> None:
        server, port = await tcp_echo()
        async with forwarding(tcp(port)) as fwd:
            listen = fwd.bound_ports[0]

            async def one(i: int) -> bytes:
                r, w = await asyncio.open_connection(HOST, listen)
                w.write(f"hello {i}\n".encode())
                line = await r.readline()
                w.close()
                return line

            lines = await asyncio.gather(*(one(i) for i in range(50)))
            assert lines == [f"hello {i}\n".encode() for i in range(50)]
        server.close()

    run(main)


def test_large_transfer_intact() -> None:
    async def main() -> None:
        server, port = await tcp_echo()
        payload = os.urandom(10 * 1024 * 1024)
        async with forwarding(tcp(port)) as fwd:
            r, w = await asyncio.open_connection(HOST, fwd.bound_ports[0])

            async def send() -> None:
                for i in range(0, len(payload), 256 * 1024):
                    w.write(payload[i : i + 256 * 1024])
                    await w.drain()
                w.write_eof()

            sender = asyncio.ensure_future(send())
            got = await r.read()  # until the echo's EOF
            await sender
            w.close()
            assert got == payload + b"<eof>"
        server.close()

    run(main)


def test_backpressure_reaches_the_target() -> None:
    """A client that does not read stops the forwarder reading from the target."""

    async def main() -> None:
        sent = [0]
        chunk = b"x" * (1024 * 1024)

        async def flood(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                for _ in range(64):
                    w.write(chunk)
                    await w.drain()
                    sent[0] += len(chunk)
            finally:
                w.close()

        server = await asyncio.start_server(flood, HOST, 0)
        async with forwarding(tcp(int(server.sockets[0].getsockname()[1]))) as fwd:
            r, w = await asyncio.open_connection(HOST, fwd.bound_ports[0], limit=1024)
            await asyncio.sleep(0.5)
            assert 0 < sent[0] < 32 * len(chunk)  # stalled long before the end
            total = 0
            while data := await r.read(1024 * 1024):
                total += len(data)
            assert total == 64 * len(chunk) == sent[0]
            w.close()
        server.close()

    run(main)


def test_half_close_keeps_the_other_direction() -> None:
    async def main() -> None:
        server, port = await tcp_echo()
        async with forwarding(tcp(port)) as fwd:
            r, w = await asyncio.open_connection(HOST, fwd.bound_ports[0])
            w.write(b"abc")
            await w.drain()
            assert await r.readexactly(3) == b"abc"
            w.write_eof()
            assert await r.read() == b"<eof>"  # the answer after our EOF still arrives
            w.close()
            await asyncio.sleep(0.1)
            assert fwd.tcp_connections == {0: 0}
        server.close()

    run(main)


def test_stop_closes_open_connections() -> None:
    async def main() -> None:
        server, port = await tcp_echo()
        fwd = Forwarder([tcp(port)], listen_host=HOST)
        await fwd.start()
        listen = fwd.bound_ports[0]
        r, w = await asyncio.open_connection(HOST, listen)
        w.write(b"hi\n")
        assert await r.readline() == b"hi\n"
        await fwd.stop()
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(r.readexactly(1), 1)
        w.close()
        with pytest.raises(OSError):
            await asyncio.open_connection(HOST, listen)
        server.close()

    run(main)


async def expect_refused(port: int, source: str = HOST) -> None:
    started = time.monotonic()
    r, w = await asyncio.open_connection(HOST, port, local_addr=(source, 0))
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        w.write(b"x")
        await r.readexactly(1)
    w.close()
    assert time.monotonic() - started < 1.0


def test_refusing_target_resets_the_client_quickly() -> None:
    async def main() -> None:
        async with forwarding(tcp(free_port())) as fwd:
            await expect_refused(fwd.bound_ports[0])
            assert fwd.tcp_connections == {0: 0}

    run(main)


def test_source_ranges() -> None:
    async def main() -> None:
        server, port = await tcp_echo()
        outside = tcp(port, source_ranges=("10.0.0.0/8",))
        inside = tcp(port, source_ranges=("10.0.0.0/8", "127.0.0.7/32"))
        async with forwarding(outside, inside) as fwd:
            await expect_refused(fwd.bound_ports[0])
            await expect_refused(fwd.bound_ports[1], source="127.0.0.8")
            r, w = await asyncio.open_connection(
                HOST, fwd.bound_ports[1], local_addr=("127.0.0.7", 0)
            )
            w.write(b"in\n")
            assert await r.readline() == b"in\n"
            w.close()
        server.close()

    run(main)


# -------------------------------------------------------------------------------------- UDP


def test_udp_echo_replies_from_the_forwarder() -> None:
    async def main() -> None:
        echo, port = await udp_echo()
        async with forwarding(ForwardRule(0, "UDP", HOST, port)) as fwd:
            listen = fwd.bound_ports[0]
            transport, client = await udp_client(listen)
            for i in range(3):
                transport.sendto(f"ping{i}".encode(), (HOST, listen))
                data, addr = await asyncio.wait_for(client.replies.get(), 2)
                assert addr == (HOST, listen)
                assert data.startswith(f"ping{i}|{HOST}:".encode())
            assert fwd.udp_flows == {0: 1}
            # A second client gets a flow of its own.
            other, other_client = await udp_client(listen)
            other.sendto(b"two", (HOST, listen))
            data, _ = await asyncio.wait_for(other_client.replies.get(), 2)
            assert data.startswith(b"two|") and fwd.udp_flows == {0: 2}
            transport.close()
            other.close()
        echo.close()

    run(main)


def test_udp_source_ranges_drop() -> None:
    async def main() -> None:
        echo, port = await udp_echo()
        rule = ForwardRule(0, "UDP", HOST, port, ("10.0.0.0/8",))
        async with forwarding(rule) as fwd:
            transport, client = await udp_client(fwd.bound_ports[0])
            transport.sendto(b"x", (HOST, fwd.bound_ports[0]))
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(client.replies.get(), 0.3)
            assert fwd.udp_flows == {0: 0}
            transport.close()
        echo.close()

    run(main)


def test_udp_idle_flow_expires() -> None:
    async def main() -> None:
        echo, port = await udp_echo()
        async with forwarding(ForwardRule(0, "UDP", HOST, port), udp_idle_timeout=0.3) as fwd:
            listen = fwd.bound_ports[0]
            transport, client = await udp_client(listen)
            transport.sendto(b"a", (HOST, listen))
            first, _ = await asyncio.wait_for(client.replies.get(), 2)
            await asyncio.sleep(0.15)
            transport.sendto(b"b", (HOST, listen))  # activity keeps the flow
            second, _ = await asyncio.wait_for(client.replies.get(), 2)
            assert first.split(b"|")[1] == second.split(b"|")[1]
            deadline = time.monotonic() + 2
            while fwd.udp_flows[0] and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert fwd.udp_flows == {0: 0}
            transport.sendto(b"c", (HOST, listen))  # a new flow: a new source port upstream
            third, _ = await asyncio.wait_for(client.replies.get(), 2)
            assert third.startswith(b"c|") and third.split(b"|")[1] != first.split(b"|")[1]
            transport.close()
        echo.close()

    run(main)


# -------------------------------------------------------------------------------- the process


def test_run_forwarder_exits_promptly_on_sigterm(loop_kind: str) -> None:
    if loop_kind != "asyncio":
        pytest.skip("one process run is enough")
    port = free_port()
    spec = rules_to_json([ForwardRule(port, "TCP", HOST, free_port())])
    spec = spec[:-1] + f', "listen_host": "{HOST}"}}'
    code = (
        "import asyncio, sys\n"
        "from localsvc.net.forwarder import run_forwarder\n"
        "asyncio.run(run_forwarder(sys.argv[1]))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, spec])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((HOST, port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - started < 1.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
