"""The host never sends the node's token through an HTTP proxy (issue 10, case 4).

A real aiohttp server on 127.0.0.1 stands in for the node's API, serving HTTPS with a certificate
of its own environment CA, as the node does; a real listening socket on 127.0.0.1 stands in for a
proxy and records every byte it receives. With HTTP_PROXY and friends
pointing at it, every way the host talks to the node must reach the server and leave the proxy
silent, whatever NO_PROXY says.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import WSMsgType, web

from localsvc.host.client import NodeClient
from localsvc.net.direct import open_direct
from localsvc.host.lease import LeaseHolder
from localsvc.runtime.nodeaddress import NodeAddress
from localsvc.runtime.pki import Sans, ensure_pki

HOST = "127.0.0.1"
TOKEN = "t0ken-for-the-node"
PROXY_VARIABLES = (
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
)


@dataclass
class FakeProxy:
    """Accepts connections, records what arrives, answers 502 (so a proxied call fails fast)."""

    sock: socket.socket
    received: bytearray = field(default_factory=bytearray)
    connections: int = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.sock.getsockname()[1]}"

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed by the fixture
            self.connections += 1
            with conn:
                conn.settimeout(2.0)
                try:
                    self.received += conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass


@dataclass
class FakeNode:
    """What the node's API saw: the Authorization header of every request."""

    url: str = ""
    ca_pem: bytes = b""
    authorizations: list[str] = field(default_factory=list)

    @property
    def address(self) -> NodeAddress:
        return NodeAddress(self.url, TOKEN, self.ca_pem)


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProxy]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    sock.listen(16)
    fake = FakeProxy(sock)
    thread = threading.Thread(target=fake.serve, name="fake-proxy", daemon=True)
    thread.start()
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, fake.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        yield fake
    finally:
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        thread.join(timeout=5)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[FakeNode]:
    """An aiohttp app on 127.0.0.1 port 0 over TLS, in a thread with its own event loop."""
    pki = ensure_pki(tmp_path / "pki", Sans("proxytest", "10.9.0.2", "10.9.128.1"))
    seen = FakeNode(ca_pem=pki.ca_pem)

    async def objects(request: web.Request) -> web.StreamResponse:
        """A Kubernetes API path: its answer names the method, path and content type; a watch
        answers two events, one per line."""
        seen.authorizations.append(request.headers.get("Authorization", ""))
        said = {"method": request.method, "path": request.path,
                "type": request.headers.get("Content-Type", "")}
        if request.query.get("watch") == "1":
            stream = web.StreamResponse()
            await stream.prepare(request)
            for kind in ("ADDED", "DELETED"):
                await stream.write(json.dumps({"type": kind, "object": said}).encode() + b"\n")
            return stream
        return web.json_response({"items": [], **said})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def lease(request: web.Request) -> web.WebSocketResponse:
        seen.authorizations.append(request.headers.get("Authorization", ""))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type is WSMsgType.CLOSE:
                break
        return ws

    app = web.Application()
    app.router.add_route("*", "/api/v1/{tail:.+}", objects)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/v1/lease", lease)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, shutdown_timeout=1)

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0, ssl_context=pki.ssl_server_context())
        await site.start()
        seen.url = f"https://{HOST}:{runner.addresses[0][1]}"

    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name="fake-node", daemon=True)
    thread.start()
    assert ready.wait(10), "the fake node did not start"
    try:
        yield seen
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


@pytest.mark.parametrize("no_proxy", [None, "example.invalid"])
def test_node_client_reaches_the_node_and_never_the_proxy(
    proxy: FakeProxy, node: FakeNode, monkeypatch: pytest.MonkeyPatch, no_proxy: str | None
) -> None:
    if no_proxy is not None:
        monkeypatch.setenv("NO_PROXY", no_proxy)
        monkeypatch.setenv("no_proxy", no_proxy)
    client = NodeClient(node.address, timeout=5)
    pods = "/api/v1/namespaces/default/pods"
    assert client.get(pods) == {"items": [], "method": "GET", "path": pods,
                                "type": "application/json"}
    assert client.post(pods, {"a": 1})["method"] == "POST"
    assert client.delete(pods + "/web")["method"] == "DELETE"
    patched = client.patch(pods + "/web", {"a": 1}, "application/strategic-merge-patch+json")
    assert (patched["method"], patched["type"]) == ("PATCH",
                                                    "application/strategic-merge-patch+json")
    events = list(client.watch(pods + "?watch=1"))
    assert [e["type"] for e in events] == ["ADDED", "DELETED"]
    assert node.authorizations == [f"Bearer {TOKEN}"] * 5
    assert proxy.connections == 0 and bytes(proxy.received) == b""


def test_healthz_polling_opens_the_node_directly(proxy: FakeProxy, node: FakeNode) -> None:
    # runtime.environment.wait_healthy polls /healthz through open_direct.
    with open_direct(node.url + "/healthz", timeout=5,
                     context=node.address.ssl_context) as response:
        assert json.load(response) == {"ok": True}
    assert proxy.connections == 0 and bytes(proxy.received) == b""


def test_lease_websocket_reaches_the_node_and_never_the_proxy(
    proxy: FakeProxy, node: FakeNode
) -> None:
    holder = LeaseHolder(node.address)
    try:
        assert holder.connected.is_set(), "the lease was not taken within 10 s"
    finally:
        holder.close()
    assert f"Bearer {TOKEN}" in node.authorizations
    assert proxy.connections == 0 and bytes(proxy.received) == b""


def test_the_fake_proxy_is_what_plain_urlopen_would_use(proxy: FakeProxy, node: FakeNode) -> None:
    """The test's premise: without the fix, urllib goes to the proxy (over HTTPS it asks the
    proxy for a tunnel: the token, inside TLS, still never reaches it)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        node.url + "/api/v1/pods", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    # A new opener reads the proxy variables now; urlopen's global opener may have been built
    # by an earlier test, before they were set.
    with pytest.raises(OSError, match="Tunnel connection failed: 502"):
        urllib.request.build_opener(urllib.request.HTTPSHandler(
            context=node.address.ssl_context)).open(request, timeout=5)
    assert bytes(proxy.received).startswith(b"CONNECT 127.0.0.1:")
    assert TOKEN.encode() not in bytes(proxy.received)


def test_port_forward_tunnel_reaches_the_node_and_never_the_proxy(proxy: FakeProxy) -> None:
    """localsvc.host.portforward's WebSocket to the node's tunnel endpoint (aiohttp) ignores proxies."""
    from tests.net.test_portforward import echo_server, forwarding

    async def main() -> None:
        async with echo_server() as (echo, target_port), forwarding(target_port) as stack:
            reader, writer = await asyncio.open_connection(HOST, stack.port)
            writer.write(b"through the tunnel")
            writer.write_eof()
            assert await asyncio.wait_for(reader.read(), 10) == b"through the tunnel<eof>"
            writer.close()
            assert stack.errors == []

    asyncio.run(asyncio.wait_for(main(), 30))
    assert proxy.connections == 0 and bytes(proxy.received) == b""
