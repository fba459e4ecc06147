"""The dashboard's serving (host/dashboard/runner.py, server.py) on real loopback sockets, with
no environment behind it: the port choice, a port that is taken, the login flow, the Host and
CSRF refusals, the 404 of unknown routes, and a node that cannot be reached."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from localsvc.host.dashboard.access import Logins
from localsvc.host.dashboard.proxy import NodeProxy
from localsvc.host.dashboard.runner import Dashboard, DashboardError, chosen_port
from localsvc.host.dashboard.server import Site
from localsvc.runtime.nodeaddress import NodeAddress

TIMEOUT = aiohttp.ClientTimeout(total=10)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_port_comes_from_the_flag_then_the_variable() -> None:
    assert chosen_port(None, {}) == 0
    assert chosen_port(None, {"LOCALSVC_UI_PORT": " 8123 "}) == 8123
    assert chosen_port(9000, {"LOCALSVC_UI_PORT": "8123"}) == 9000
    assert chosen_port(None, {"LOCALSVC_UI_PORT": ""}) == 0


@pytest.mark.parametrize("port,environ,words", [
    (None, {"LOCALSVC_UI_PORT": "http"}, "LOCALSVC_UI_PORT='http' is not a port number"),
    (None, {"LOCALSVC_UI_PORT": "70000"}, "port 70000 is out of range"),
    (-1, {}, "port -1 is out of range"),
])
def test_bad_ports_are_named(port: int | None, environ: dict[str, str], words: str) -> None:
    with pytest.raises(DashboardError, match=words):
        chosen_port(port, environ)


@pytest.fixture
def dashboard() -> Iterator[Dashboard]:
    node = NodeProxy(NodeAddress(f"http://127.0.0.1:{closed_port()}", "secret-token"))
    served = Dashboard(Site(env="unit", context="localsvc-unit", logins=Logins()), node)
    served.start()
    try:
        yield served
    finally:
        served.stop()


def test_a_taken_port_is_a_clear_error(dashboard: Dashboard) -> None:
    with pytest.raises(DashboardError) as caught:
        Dashboard(Site(env="unit", context="localsvc-unit"), dashboard.node, port=dashboard.port)
    assert f"port {dashboard.port} on 127.0.0.1 is already in use" in str(caught.value)
    assert "--port or LOCALSVC_UI_PORT" in str(caught.value)


async def fetch(session: aiohttp.ClientSession, method: str, url: str,
                **kwargs: Any) -> tuple[int, Mapping[str, str], str]:
    """Status, headers (case-insensitive) and text of one answer."""
    async with session.request(method, url, allow_redirects=False, **kwargs) as response:
        return response.status, response.headers.copy(), await response.text()


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 20))


def test_login_flow_and_refusals(dashboard: Dashboard) -> None:
    base = dashboard.url.rstrip("/")
    link = dashboard.login_url()
    assert link.startswith(f"http://127.0.0.1:{dashboard.port}/login?code=")

    async def scenario() -> None:
        # unsafe=True: aiohttp keeps no cookies of IP-address hosts otherwise.
        async with aiohttp.ClientSession(timeout=TIMEOUT,
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            status, _, text = await fetch(browser, "GET", base + "/")
            assert status == 401 and "localsvc ui" in text
            status, _, text = await fetch(browser, "GET", base + "/localsvc/info")
            assert status == 401 and '"Unauthorized"' in text
            status, _, _ = await fetch(browser, "GET", base + "/api/v1/pods")
            assert status == 401
            status, headers, _ = await fetch(browser, "GET", link)
            assert status == 303 and headers["Location"] == "/"
            assert {"HttpOnly", "SameSite=Strict"} <= set(headers["Set-Cookie"].split("; "))
            status, headers, text = await fetch(browser, "GET", base + "/")
            assert status == 200 and "<html" in text
            assert headers["X-Frame-Options"] == "DENY"
            status, _, text = await fetch(browser, "GET", link)  # used
            assert status == 403 and "was used or expired: run `localsvc ui`" in text
            status, _, text = await fetch(browser, "GET", base + "/localsvc/info")
            assert status == 200
            assert json.loads(text) == {"env": "unit", "namespace": "default",
                                          "hostAddress": "127.0.0.1", "context": "localsvc-unit",
                                          "devloop": False, "version": "0.1.0"}
            # Signed in, but the node is not there: a Status saying so, no token in it.
            status, _, text = await fetch(browser, "GET", base + "/api/v1/pods")
            assert status == 502 and "cannot reach the environment's API" in text
            assert "secret-token" not in text
            # Routes outside the contract.
            for method, path in (("GET", "/v1/apply"), ("GET", "/nothing"),
                                 ("POST", "/v1/connections")):
                status, _, _ = await fetch(browser, method, base + path,
                                           headers={"X-Localsvc-Dashboard": "1"})
                assert status == 404, (method, path)
            # A change without the header, or from another origin.
            status, _, text = await fetch(browser, "PATCH", base + "/api/v1/namespaces/x",
                                          data=b"{}")
            assert status == 403 and "X-Localsvc-Dashboard: 1" in text
            status, _, _ = await fetch(browser, "DELETE", base + "/api/v1/namespaces/x",
                                       headers={"X-Localsvc-Dashboard": "1",
                                                "Origin": "http://evil.example"})
            assert status == 403
            # A rebinding page's Host: refused before anything else, the static files too.
            for path in ("/", "/login?code=x", "/static/index.html", "/api/v1/pods"):
                status, _, text = await fetch(browser, "GET", base + path,
                                              headers={"Host": f"evil.example:{dashboard.port}"})
                assert status == 403 and "answers at http://127.0.0.1:" in text, path
            status, _, _ = await fetch(browser, "GET",
                                       f"http://localhost:{dashboard.port}/static/index.html")
            assert status == 200

    run(scenario())


def test_stop_frees_the_port(dashboard: Dashboard) -> None:
    port = dashboard.port
    dashboard.stop()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # bindable again: nothing listens there


class StubNode:
    """A stand-in node on a loopback port: takes one request (kept in `seen`) and answers it
    with `answer`, on its own thread."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.seen: list[bytes] = []
        threading.Thread(target=self.serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def serve(self) -> None:
        connection, _ = self.sock.accept()
        with connection:
            connection.settimeout(10)
            self.seen.append(connection.recv(65536))
            self.answer(connection)

    def answer(self, connection: socket.socket) -> None:
        raise NotImplementedError


class CuttingNode(StubNode):
    """A node that breaks off a watch mid-answer (a node restarting): one event line, then the
    connection closes without the chunked body's end."""

    def answer(self, connection: socket.socket) -> None:
        line = b'{"type":"ADDED","object":{}}\n'
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n"
                           + f"{len(line):x}\r\n".encode() + line + b"\r\n")
        time.sleep(0.3)


def test_a_cut_off_answer_is_cut_off_for_the_browser_too(caplog: pytest.LogCaptureFixture) -> None:
    node = CuttingNode()
    served = Dashboard(Site(env="unit", context="localsvc-unit"),
                       NodeProxy(NodeAddress(node.url, "secret-token")))
    served.start()
    link = served.login_url()

    async def scenario() -> tuple[bytes, BaseException | None]:
        async with aiohttp.ClientSession(timeout=TIMEOUT,
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            await fetch(browser, "GET", link)
            async with browser.get(served.url + "api/v1/pods?watch=1") as response:
                first = await response.content.readline()
                try:
                    await response.content.read()
                except aiohttp.ClientPayloadError as err:
                    return first, err
                return first, None

    try:
        first, error = run(scenario())
    finally:
        served.stop()
    assert first == b'{"type":"ADDED","object":{}}\n'
    assert isinstance(error, aiohttp.ClientPayloadError)  # not a cleanly ended answer
    request = node.seen[0].decode()
    assert request.startswith("GET /api/v1/pods?watch=1 HTTP/1.1\r\n")
    assert "Authorization: Bearer secret-token" in request and "Cookie" not in request
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_assets_are_served_with_their_types_without_a_session(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><html></html>")
    (tmp_path / "js").mkdir()
    files = {"app.js": "text/javascript", "js/map.mjs": "text/javascript",
             "style.css": "text/css", "icon.svg": "image/svg+xml"}
    for name in files:
        (tmp_path / name).write_text("x")
    node = NodeProxy(NodeAddress(f"http://127.0.0.1:{closed_port()}", "secret-token"))
    served = Dashboard(Site(env="unit", context="localsvc-unit", static=tmp_path), node)
    served.start()

    async def scenario() -> None:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as browser:
            for name, content_type in files.items():
                status, headers, text = await fetch(browser, "GET", f"{served.url}static/{name}")
                assert status == 200 and text == "x", name
                assert headers["Content-Type"].split(";")[0] == content_type, name
                assert headers["X-Content-Type-Options"] == "nosniff"
                assert headers["Cache-Control"] == "no-cache" and headers["ETag"]
            for path in ("static/", "static/missing.js", "static/../index.html",
                         "static/%2e%2e/index.html", "static//etc/passwd",
                         "static/%2Fetc%2Fpasswd"):
                status, _, _ = await fetch(browser, "GET", served.url + path)
                assert status in (403, 404), path

    try:
        run(scenario())
    finally:
        served.stop()


class LinesNode(StubNode):
    """A node answering a watch with a 200 KB line sent in pieces, a short line, then (with
    `cut`) breaking off, or ending cleanly."""

    def __init__(self, cut: bool) -> None:
        self.cut = cut
        super().__init__()

    def answer(self, connection: socket.socket) -> None:
        long = b'{"type":"ADDED","object":{"data":"' + b"x" * 200_000 + b'"}}\n'
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n")
        for piece in (long[:70_000], long[70_000:] + b'{"type":"DELETED"}\n'):
            connection.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            time.sleep(0.05)
        if not self.cut:
            connection.sendall(b"0\r\n\r\n")
        time.sleep(0.3)


@pytest.mark.parametrize("cut,code", [(False, 1000), (True, 1011)])
def test_a_stream_over_a_websocket_sends_whole_lines(cut: bool, code: int) -> None:
    node = LinesNode(cut)
    served = Dashboard(Site(env="unit", context="localsvc-unit"),
                       NodeProxy(NodeAddress(node.url, "secret-token")))
    served.start()
    link = served.login_url()

    async def scenario() -> tuple[list[str], int | None]:
        async with aiohttp.ClientSession(timeout=TIMEOUT,
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            await fetch(browser, "GET", link)
            url = served.url + "localsvc/stream?path=" + quote("/api/v1/pods?watch=1")
            async with browser.ws_connect(url, max_msg_size=0) as ws:
                messages = [message.data async for message in ws]
                return messages, ws.close_code

    try:
        messages, close_code = run(scenario())
    finally:
        served.stop()
    assert messages[0] == '{"status": 200}'
    assert len(messages[1]) == len('{"type":"ADDED","object":{"data":""}}') + 200_000
    assert json.loads(messages[1])["object"]["data"] == "x" * 200_000
    assert messages[2:] == ['{"type":"DELETED"}']
    assert close_code == code


def test_a_websocket_stream_needs_a_session_its_origin_and_an_allowed_path(
        dashboard: Dashboard) -> None:
    stream = dashboard.url + "localsvc/stream?path="
    own = dashboard.url.rstrip("/")

    async def refused(browser: aiohttp.ClientSession, url: str, **kwargs: Any) -> int:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            async with browser.ws_connect(url, **kwargs):
                pass
        return caught.value.status

    async def scenario() -> None:
        async with aiohttp.ClientSession(timeout=TIMEOUT,
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            assert await refused(browser, stream + quote("/api/v1/pods?watch=1"),
                                 origin=own) == 401
            await fetch(browser, "GET", dashboard.login_url())
            for path in ("/v1/apply", "/api/../v1/apply", "", "/nothing"):
                assert await refused(browser, stream + quote(path), origin=own) == 404, path
            assert await refused(browser, stream + quote("/api/v1/pods?watch=1"),
                                 origin="http://evil.example") == 403
            # Signed in, allowed path, the node not there: status 502 said, then 1011.
            async with browser.ws_connect(stream + quote("/api/v1/pods?watch=1"),
                                          origin=own) as ws:
                messages = [message.data async for message in ws]
                assert messages[0] == '{"status": 502}'
                assert "cannot reach the environment's API" in messages[1]
                assert "secret-token" not in "".join(messages)
            assert ws.close_code == 1011

    run(scenario())
