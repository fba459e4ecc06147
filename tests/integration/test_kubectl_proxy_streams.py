"""services/proxy and pods/proxy streams: answers and request bodies passed on as they come,
a backend hanging up mid-body, WebSocket upgrades (through kubectl proxy, and straight to the
API where kubectl proxy would hide the answer). One environment for the module."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from tests.integration.kubectl_support import (  # noqa: F401  (fixtures used by name)
    Kubectl, kubectl, shared_env)
from tests.integration.proxy_echo import (  # noqa: F401  (fixtures used by name)
    api_access, base, call, echo_ns, proxy_port)


def test_kubectl_proxy_streams_the_response(proxy_port: int, echo_ns: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=30)
    try:
        started = time.monotonic()
        connection.request("GET", base(echo_ns, "pods/echo:8080") + "/slow")
        response = connection.getresponse()
        assert response.readline() == b"first\n"
        first = time.monotonic() - started
        assert response.readline() == b"second\n"
        second = time.monotonic() - started
    finally:
        connection.close()
    # The backend waits 2 s between its lines: the first arrives before the second is sent.
    assert first < 1.5 <= second, (first, second)


def test_a_backend_hanging_up_mid_body_cuts_the_callers_answer(proxy_port: int,
                                                                echo_ns: str) -> None:
    prefix = base(echo_ns, "pods/echo:8080")
    connection = http.client.HTTPConnection("127.0.0.1", proxy_port, timeout=30)
    try:
        # kubectl proxy (Go's ReverseProxy) aborts its own answer when the API's breaks off:
        # the caller sees the connection end early, never a complete answer.
        with pytest.raises((http.client.IncompleteRead, http.client.RemoteDisconnected)):
            connection.request("GET", prefix + "/cut")
            connection.getresponse().read()
    finally:
        connection.close()
    # The node is fine afterwards.
    response, data = call(proxy_port, "GET", prefix + "/after")
    assert json.loads(data)["path"] == "/after"


def test_kubectl_proxy_passes_websockets(proxy_port: int, echo_ns: str) -> None:
    async def talk() -> tuple[str | None, Any, str, bytes]:
        url = f"http://127.0.0.1:{proxy_port}{base(echo_ns, 'services/echo:web')}/ws"
        timeout = aiohttp.ClientWSTimeout(ws_receive=20)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            async with session.ws_connect(url, protocols=("echo.v1",), timeout=timeout) as ws:
                headers = json.loads(await ws.receive_str())
                await ws.send_str("hello")
                text = await ws.receive_str()
                await ws.send_bytes(b"\x00\x01" * 40_000)
                data = await ws.receive_bytes()
                return ws.protocol, headers, text, data

    protocol, headers, text, data = asyncio.run(asyncio.wait_for(talk(), 40))
    assert (protocol, text, data) == ("echo.v1", "hello", b"\x00\x01" * 40_000)
    assert "authorization" not in dict(headers)


def test_a_proxied_websocket_message_may_exceed_four_mib(proxy_port: int, echo_ns: str) -> None:
    """Regression: aiohttp's default 4 MiB message limit closed the proxied WebSocket (1009)."""
    message = bytes(range(256)) * (5 * 4096)  # 5 MiB

    async def talk() -> bytes:
        url = f"http://127.0.0.1:{proxy_port}{base(echo_ns, 'services/echo:web')}/ws"
        timeout = aiohttp.ClientWSTimeout(ws_receive=40)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=50)) as session:
            async with session.ws_connect(url, timeout=timeout, max_msg_size=0) as ws:
                await ws.receive_str()  # the echo server's headers
                await ws.send_bytes(message)
                return await ws.receive_bytes()

    assert asyncio.run(asyncio.wait_for(talk(), 55)) == message


def test_a_websocket_the_backend_refuses_gets_the_backends_answer(kubectl: Kubectl,
                                                                  echo_ns: str) -> None:
    """Straight to the API (kubectl proxy turns any non-101 answer into its own 500)."""
    server, context, token = api_access(kubectl)

    async def refused() -> int:
        url = f"{server}{base(echo_ns, 'services/echo:web')}/plain"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await session.ws_connect(url, ssl=context,
                                         headers={"Authorization": f"Bearer {token}"})
            return caught.value.status

    # The echo server answers /plain with its JSON 200, not 101: that 200 is what comes back.
    assert asyncio.run(asyncio.wait_for(refused(), 40)) == 200


def test_the_request_body_is_streamed_to_the_backend(kubectl: Kubectl, echo_ns: str) -> None:
    """The backend answers the first chunk of a body whose end the caller has not sent yet:
    only a proxy that passes the body on as it comes can deliver that answer."""
    url, context, token = api_access(kubectl)
    server = urlsplit(url)
    host = server.hostname or "127.0.0.1"
    path = base(echo_ns, "pods/echo:8080") + "/first-chunk"
    with socket.create_connection((host, server.port or 443), timeout=20) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        tls.settimeout(10)
        tls.sendall(f"POST {path} HTTP/1.1\r\nHost: {server.netloc}\r\n"
                    f"Authorization: Bearer {token}\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n".encode())
        answer = b""
        while b"hello\n" not in answer.partition(b"\r\n\r\n")[2]:
            data = tls.recv(65536)  # socket.timeout (a failure) if the answer waits
            assert data, f"connection closed after {answer!r}"
            answer += data
        tls.sendall(b"0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 "), answer
