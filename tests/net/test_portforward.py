"""Port-forward on real sockets: a node app (aiohttp, with the tunnel routes and a token check
standing in for the API's middleware) on 127.0.0.1 port 0, target servers on 127.0.0.1 port 0,
and a PortForwarder on 127.0.0.1 port 0 between a client and the node."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from localsvc.errors import LocalsvcError
from localsvc.node.longstreams import add_stream_tracking
from localsvc.node.tunnel import add_tunnel_routes
from localsvc.runtime.nodeaddress import NodeAddress
from localsvc.runtime.pki import Pki, Sans, ensure_pki
from localsvc.host.portforward import (
    BackgroundPortForward,
    ForwardTarget,
    PortForwarder,
    parse_port_spec,
)
from tests.net.loops import loop_fixture, run
from tests.net.ports import free_port

HOST = "127.0.0.1"
TOKEN = "s3cret"
loop_kind = loop_fixture(autouse=False)


# ---------------------------------------------------------------------------------- helpers


@dataclass
class Echo:
    """Echoes until EOF, then answers b"<eof>" and closes; counts open connections."""

    open: int = 0
    server: asyncio.AbstractServer | None = None

    async def handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        self.open += 1
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
            w.write(b"<eof>")
            await w.drain()
        except OSError:
            pass
        finally:
            self.open -= 1
            w.close()


@asynccontextmanager
async def echo_server() -> AsyncIterator[tuple[Echo, int]]:
    echo = Echo()
    server = await asyncio.start_server(echo.handle, HOST, 0)
    echo.server = server
    try:
        yield echo, server.sockets[0].getsockname()[1]
    finally:
        server.close()


@web.middleware
async def bearer_only(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        raise web.HTTPUnauthorized(text="bad token")
    return await handler(request)


@cache
def _pki() -> Pki:
    """One environment CA for the module's node stand-ins (they serve HTTPS, as the node)."""
    directory = Path(tempfile.mkdtemp(prefix="localsvc-pftest-"))
    return ensure_pki(directory, Sans("pftest", "10.9.0.2", "10.9.128.1"))


@asynccontextmanager
async def node_api() -> AsyncIterator[str]:
    """The node's tunnel routes over HTTPS on 127.0.0.1, their shutdown as the node's server
    ends them (longstreams); yields the URL (see `address`)."""
    app = web.Application(middlewares=[bearer_only])
    add_tunnel_routes(app)
    add_stream_tracking(app)
    runner = web.AppRunner(app, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0, ssl_context=_pki().ssl_server_context())
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"https://{HOST}:{port}"
    finally:
        await runner.cleanup()


def address(api_url: str, token: str = TOKEN) -> NodeAddress:
    return NodeAddress(api_url, token, _pki().ca_pem)


@dataclass
class Stack:
    api_url: str
    forwarder: PortForwarder
    port: int
    errors: list[str] = field(default_factory=list)


@asynccontextmanager
async def forwarding(target_port: int, token: str = TOKEN) -> AsyncIterator[Stack]:
    async with node_api() as api_url:
        errors: list[str] = []
        target = ForwardTarget(HOST, target_port, "svc/echo")
        forwarder = PortForwarder(address(api_url, token), target, on_error=errors.append)
        port = await forwarder.start()
        try:
            yield Stack(api_url, forwarder, port, errors)
        finally:
            await forwarder.stop()


async def read_all(reader: asyncio.StreamReader, timeout: float = 10) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout)


async def wait_until(check: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


# ------------------------------------------------------------------------------------ tests


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("8080:80", (8080, 80)),
        ("80", (80, 80)),
        (":80", (0, 80)),
        ("0:5432", (0, 5432)),
        (" 65535:1 ", (65535, 1)),
    ],
)
def test_parse_port_spec(spec: str, expected: tuple[int, int]) -> None:
    assert parse_port_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("", "remote port ''"),
        ("http", "remote port 'http'"),
        ("8080:", "remote port ''"),
        ("8080:0", "remote port '0'"),
        ("0", "remote port '0'"),
        ("70000:80", "local port '70000'"),
        ("1:2:3", "local port '1:2'"),
        ("-1:80", "local port '-1'"),
        ("80:65536", "remote port '65536'"),
    ],
)
def test_parse_port_spec_errors(spec: str, words: str) -> None:
    with pytest.raises(LocalsvcError) as info:
        parse_port_spec(spec)
    assert words in str(info.value)
    assert "[LOCAL:]REMOTE" in str(info.value)


def test_echo_through_one_connection(loop_kind: str) -> None:
    async def scenario() -> None:
        async with echo_server() as (_, target), forwarding(target) as stack:
            r, w = await asyncio.open_connection(HOST, stack.port)
            w.write(b"ping")
            assert await asyncio.wait_for(r.readexactly(4), 5) == b"ping"
            assert stack.forwarder.active == 1
            w.write_eof()
            assert await read_all(r) == b"<eof>"
            w.close()
            await wait_until(lambda: stack.forwarder.active == 0)
            assert stack.errors == []

    run(scenario)


def test_fifty_concurrent_connections(loop_kind: str) -> None:
    async def one(port: int, i: int) -> bool:
        r, w = await asyncio.open_connection(HOST, port)
        payload = f"connection {i} ".encode() * (i * 100 + 1)
        w.write(payload)
        await w.drain()
        w.write_eof()
        got = await read_all(r)
        w.close()
        return got == payload + b"<eof>"

    async def scenario() -> None:
        async with echo_server() as (echo, target), forwarding(target) as stack:
            results = await asyncio.gather(*(one(stack.port, i) for i in range(50)))
            assert all(results)
            await wait_until(lambda: stack.forwarder.active == 0 and echo.open == 0)
            assert stack.errors == []

    run(scenario)


def test_five_megabytes_intact(loop_kind: str) -> None:
    async def scenario() -> None:
        data = os.urandom(5 * 1024 * 1024)
        async with echo_server() as (_, target), forwarding(target) as stack:
            r, w = await asyncio.open_connection(HOST, stack.port)

            async def send() -> None:
                for i in range(0, len(data), 100_000):
                    w.write(data[i : i + 100_000])
                    await w.drain()
                w.write_eof()

            sender = asyncio.create_task(send())
            got = await read_all(r, 20)
            await sender
            w.close()
            assert len(got) == len(data) + 5
            assert got == data + b"<eof>"

    run(scenario)


def test_half_close_still_receives_the_rest(loop_kind: str) -> None:
    async def late_answer(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        request = await r.read()  # until the client's EOF
        await asyncio.sleep(0.2)
        w.write(b"got " + request)
        await w.drain()
        w.write(b" and more")
        w.close()

    async def scenario() -> None:
        server = await asyncio.start_server(late_answer, HOST, 0)
        async with forwarding(server.sockets[0].getsockname()[1]) as stack:
            r, w = await asyncio.open_connection(HOST, stack.port)
            w.write(b"question")
            w.write_eof()
            assert await read_all(r) == b"got question and more"
            w.close()
        server.close()

    run(scenario)


def test_target_closing_first_closes_the_client(loop_kind: str) -> None:
    async def talker(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(b"hello, bye")
        w.close()

    async def scenario() -> None:
        server = await asyncio.start_server(talker, HOST, 0)
        async with forwarding(server.sockets[0].getsockname()[1]) as stack:
            r, w = await asyncio.open_connection(HOST, stack.port)
            assert await read_all(r, 5) == b"hello, bye"
            w.close()
            await wait_until(lambda: stack.forwarder.active == 0)
        server.close()

    run(scenario)


def test_refused_target_closes_client_and_reports(loop_kind: str) -> None:
    async def scenario() -> None:
        target = free_port()
        async with forwarding(target) as stack:
            r, w = await asyncio.open_connection(HOST, stack.port)
            started = time.monotonic()
            assert await read_all(r, 5) == b""
            assert time.monotonic() - started < 2
            w.close()
            await wait_until(lambda: len(stack.errors) == 1)
            expected = (
                f"error forwarding port {target} to svc/echo: "
                f"connect to {HOST}:{target}: Connection refused"
            )
            assert stack.errors == [expected]

    run(scenario)


def test_wrong_token_closes_client_and_reports(loop_kind: str) -> None:
    async def scenario() -> None:
        async with echo_server() as (_, target), forwarding(target, token="wrong") as stack:
            r, w = await asyncio.open_connection(HOST, stack.port)
            assert await read_all(r, 5) == b""
            w.close()
            await wait_until(lambda: len(stack.errors) == 1)
            assert "401" in stack.errors[0]

    run(scenario)


def test_stop_closes_open_tunnels(loop_kind: str) -> None:
    async def scenario() -> None:
        async with echo_server() as (echo, target), forwarding(target) as stack:
            clients = [await asyncio.open_connection(HOST, stack.port) for _ in range(3)]
            for r, w in clients:
                w.write(b"x")
                assert await asyncio.wait_for(r.readexactly(1), 5) == b"x"
            assert stack.forwarder.active == 3
            assert echo.open == 3
            started = time.monotonic()
            await stack.forwarder.stop()
            assert stack.forwarder.active == 0
            for r, w in clients:
                assert await read_all(r, 2) == b""
                w.close()
            assert time.monotonic() - started < 3
            await wait_until(lambda: echo.open == 0)
            with pytest.raises(OSError):
                await asyncio.open_connection(HOST, stack.port)
            await asyncio.wait_for(stack.forwarder.serve_forever(), 1)

    run(scenario)


def test_node_rejects_bad_targets() -> None:
    async def scenario() -> None:
        async with node_api() as api_url, aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                ssl=address(api_url).ssl_context)) as session:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            for query, words in [
                ("ip=10.0.0.1", "port"),
                ("ip=10.0.0.1&port=0", "port"),
                ("ip=10.0.0.1&port=65536", "port"),
                ("ip=10.0.0.1&port=http", "port"),
                ("ip=web&port=80", "IPv4"),
                ("ip=::1&port=80", "IPv4"),
                ("ip=0.0.0.0&port=80", "unicast"),
                ("ip=224.0.0.1&port=80", "unicast"),
                ("port=80", "IPv4"),
            ]:
                url = f"{api_url}/v1/tunnel?{query}"
                async with session.get(url, headers=headers) as response:
                    assert response.status == 400, query
                    assert words in await response.text(), query

    run(scenario)


def test_node_shutdown_closes_tunnels(loop_kind: str) -> None:
    async def scenario() -> None:
        async with echo_server() as (echo, target):
            async with node_api() as api_url:
                forwarder = PortForwarder(address(api_url), ForwardTarget(HOST, target, "x"))
                port = await forwarder.start()
                r, w = await asyncio.open_connection(HOST, port)
                w.write(b"x")
                assert await asyncio.wait_for(r.readexactly(1), 5) == b"x"
            # the node is gone: its tunnel closed, so the client connection is closed too
            assert await read_all(r, 5) == b""
            w.close()
            await wait_until(lambda: forwarder.active == 0 and echo.open == 0)
            await forwarder.stop()

    run(scenario)


class NodeThread:
    """The node app and an echo target on their own loop in a thread, for synchronous tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.done = asyncio.Event()
        self.api_url = ""
        self.target = 0
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.main(),))
        self.thread.start()
        assert self.ready.wait(10)

    async def main(self) -> None:
        self.done = asyncio.Event()
        async with echo_server() as (_, target), node_api() as api_url:
            self.api_url, self.target = api_url, target
            self.ready.set()
            await self.done.wait()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.done.set)
        self.thread.join(10)
        self.loop.close()


def test_background_port_forward_from_sync_code() -> None:
    node = NodeThread()
    try:
        target = ForwardTarget(HOST, node.target, "svc/echo")
        with BackgroundPortForward(address(node.api_url), target) as pf:
            assert pf.port > 0
            assert pf.url == f"http://{HOST}:{pf.port}"
            with socket.create_connection((HOST, pf.port), timeout=5) as s:
                s.sendall(b"sync hello")
                s.shutdown(socket.SHUT_WR)
                got = b""
                while chunk := s.recv(65536):
                    got += chunk
            assert got == b"sync hello<eof>"
        with pytest.raises(OSError):
            socket.create_connection((HOST, pf.port), timeout=1).close()
    finally:
        node.close()


def test_background_port_forward_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        target = ForwardTarget(HOST, 80, "svc/web")
        with pytest.raises(LocalsvcError, match=f"cannot listen on {HOST}:{port}"):
            BackgroundPortForward(NodeAddress("http://127.0.0.1:1", TOKEN), target,
                                  local_port=port)


_CLI = """
import sys
from localsvc.host.portforward import ForwardTarget, run_port_forward
from localsvc.runtime.nodeaddress import NodeAddress
target = ForwardTarget("127.0.0.1", int(sys.argv[3]), "svc/echo")
node = NodeAddress(sys.argv[1], sys.argv[2], open(sys.argv[4], "rb").read())
run_port_forward(node, target, 0, lambda port: print(port, flush=True))
print("stopped", flush=True)
"""


def test_run_port_forward_until_ctrl_c() -> None:
    node = NodeThread()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _CLI, node.api_url, TOKEN, str(node.target),
             str(_pki().ca_cert_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            port = int(proc.stdout.readline())
            with socket.create_connection((HOST, port), timeout=5) as s:
                s.sendall(b"abc")
                assert s.recv(3) == b"abc"
                proc.send_signal(signal.SIGINT)
                assert s.recv(10) == b""  # the open tunnel is closed on Ctrl-C
            assert proc.wait(10) == 0
            assert proc.stdout.read() == "stopped\n"
        finally:
            proc.kill()
            proc.wait()
    finally:
        node.close()
