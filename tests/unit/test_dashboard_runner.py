"""The dashboard's serving (host/dashboard/runner.py, server.py) on real loopback sockets, with
no environment behind it: the port choice, a port that is taken, the login flow, the Host and
CSRF refusals, the 404 of unknown routes, and a node that cannot be reached."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from typing import Any

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
                **kwargs: Any) -> tuple[int, dict[str, str], str]:
    async with session.request(method, url, allow_redirects=False, **kwargs) as response:
        return response.status, dict(response.headers), await response.text()


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
