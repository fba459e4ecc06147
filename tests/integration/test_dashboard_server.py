"""The dashboard's host server against a real environment, through aiohttp's client on loopback
(a browser's requests): the login flow, the proxied Kubernetes API (a list, a watch that streams
an object kubectl creates, a followed log), the CSRF header on changes kubectl then sees, a
foreign Host refused, and `localsvc ui --no-open` / foreground `localsvc up` as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from localsvc.host.api import Environment
from localsvc.host.dashboard.runner import Dashboard, for_environment
from localsvc.runtime.environment import node_name
from tests.integration.conftest import DEMO_IMAGE, labelled, unique_env, wait_for
from tests.integration.kubectl_support import (  # noqa: F401  (fixtures used by name)
    Kubectl, kubectl, ns, shared_env)

TIMEOUT = aiohttp.ClientTimeout(total=30)
CHANGE = {"X-Localsvc-Dashboard": "1"}

TICKER = f"""apiVersion: v1
kind: Pod
metadata: {{name: ticker}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: {DEMO_IMAGE}
    command: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done"]
"""


@pytest.fixture(scope="module")
def dashboard(shared_env: Environment) -> Iterator[Dashboard]:
    served = for_environment(shared_env)
    served.start()
    try:
        yield served
    finally:
        served.stop()


def run(coroutine: Any, timeout: float = 50) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


@asynccontextmanager
async def browser(link: str | None = None) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session holding cookies as a browser does (aiohttp keeps none of IP-address
    hosts unless unsafe), signed in through `link` when given."""
    async with aiohttp.ClientSession(timeout=TIMEOUT,
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        if link is not None:
            async with session.get(link, allow_redirects=False) as response:
                assert response.status == 303, await response.text()
        yield session


async def lines(response: aiohttp.ClientResponse, timeout: float) -> AsyncIterator[bytes]:
    """The answer's lines as they arrive; a line not there within `timeout` fails the test."""
    while True:
        line = await asyncio.wait_for(response.content.readline(), timeout)
        if not line:
            return
        yield line


def test_login_flow(dashboard: Dashboard) -> None:
    async def scenario() -> None:
        async with browser() as session:
            async with session.get(dashboard.url) as response:
                assert response.status == 401
                assert "localsvc ui" in await response.text()
            link = dashboard.login_url()
            async with session.get(link) as response:  # 303 -> / with the cookie
                assert response.status == 200 and str(response.url) == dashboard.url
                assert "<html" in await response.text()
                assert [r.status for r in response.history] == [303]
            async with session.get(link) as response:
                assert response.status == 403
                assert "was used or expired" in await response.text()
            async with session.get(dashboard.url) as response:  # the session stays
                assert response.status == 200
        async with browser() as session:  # another browser, without the cookie
            async with session.get(dashboard.url + "api/v1/namespaces") as response:
                assert response.status == 401

    run(scenario())


def test_info_and_a_proxied_list(dashboard: Dashboard, kubectl: Kubectl, ns: str) -> None:
    kubectl.run("create", "configmap", "listed", "-n", ns, "--from-literal=a=1")

    async def scenario() -> None:
        async with browser(dashboard.login_url()) as session:
            async with session.get(dashboard.url + "localsvc/info") as response:
                info = await response.json()
            assert info["env"] == kubectl.env.name and info["devloop"] is False
            assert info["context"] == f"localsvc-{kubectl.env.name}"
            assert info["hostAddress"] == "127.0.0.1" and info["namespace"] == "default"
            async with session.get(f"{dashboard.url}api/v1/namespaces/{ns}/configmaps") as response:
                assert response.status == 200
                listed = await response.json()
            assert listed["kind"] == "ConfigMapList"
            assert "listed" in [c["metadata"]["name"] for c in listed["items"]]
            async with session.get(dashboard.url + "version") as response:
                assert "gitVersion" in await response.json()
            async with session.get(f"{dashboard.url}api/v1/namespaces/{ns}/configmaps/none") as r:
                assert r.status == 404 and (await r.json())["reason"] == "NotFound"

    run(scenario())


def test_a_watch_streams_what_kubectl_creates(dashboard: Dashboard, kubectl: Kubectl,
                                              ns: str) -> None:
    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        async with browser(dashboard.login_url()) as session:
            url = f"{dashboard.url}api/v1/namespaces/{ns}/configmaps?watch=1&timeoutSeconds=60"
            async with session.get(url) as response:
                assert response.status == 200
                await asyncio.sleep(0.3)  # the watch is registered on the node
                await loop.run_in_executor(None, lambda: kubectl.run(
                    "create", "configmap", "watched", "-n", ns, "--from-literal=a=1"))
                created = time.monotonic()
                async for line in lines(response, timeout=5):
                    event = json.loads(line)
                    if event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "watched":
                        latency = time.monotonic() - created
                        break
                assert dashboard.node.open_streams == 1
            # The browser closed its fetch: the upstream watch is closed too.
            await asyncio.sleep(0)
            deadline = time.monotonic() + 5
            while dashboard.node.open_streams and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert dashboard.node.open_streams == 0
            return latency

    latency = run(scenario())
    assert latency < 1.0, latency


def test_a_watch_over_a_websocket_streams_what_kubectl_creates(dashboard: Dashboard,
                                                                kubectl: Kubectl, ns: str) -> None:
    """The same watch through /localsvc/stream (browsers hold only six HTTP/1.1 connections per
    host; WebSockets do not count against them)."""
    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        async with browser(dashboard.login_url()) as session:
            path = f"/api/v1/namespaces/{ns}/configmaps?watch=1&timeoutSeconds=60"
            url = f"{dashboard.url}localsvc/stream?path={quote(path)}"
            async with session.ws_connect(url, origin=dashboard.url.rstrip("/")) as ws:
                assert json.loads(await ws.receive_str(timeout=10)) == {"status": 200}
                await asyncio.sleep(0.3)  # the watch is registered on the node
                await loop.run_in_executor(None, lambda: kubectl.run(
                    "create", "configmap", "socketed", "-n", ns, "--from-literal=a=1"))
                created = time.monotonic()
                while True:
                    event = json.loads(await ws.receive_str(timeout=5))
                    if event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "socketed":
                        latency = time.monotonic() - created
                        break
                assert dashboard.node.open_streams == 1
            deadline = time.monotonic() + 5
            while dashboard.node.open_streams and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert dashboard.node.open_streams == 0  # the page's close ended the node's watch
            return latency

    latency = run(scenario())
    assert latency < 1.0, latency


def test_a_followed_log_streams(dashboard: Dashboard, kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=TICKER)
    kubectl.run("wait", "-n", ns, "--for=condition=Ready", "pod/ticker", "--timeout=60s",
                request_timeout=None, timeout=70)

    async def scenario() -> list[tuple[float, int]]:
        seen: list[tuple[float, int]] = []
        async with browser(dashboard.login_url()) as session:
            url = f"{dashboard.url}api/v1/namespaces/{ns}/pods/ticker/log?follow=true&tailLines=1"
            async with session.get(url) as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain")
                async for line in lines(response, timeout=5):
                    match = re.match(rb"tick (\d+)", line)
                    assert match, line
                    seen.append((time.monotonic(), int(match[1])))
                    if len(seen) == 5:
                        break
        return seen

    seen = run(scenario())
    numbers = [n for _, n in seen]
    assert numbers == list(range(numbers[0], numbers[0] + 5))
    # Line by line as printed (every 0.3 s), not buffered into one late chunk.
    gaps = [later - earlier for (earlier, _), (later, _) in zip(seen, seen[1:])]
    assert max(gaps) < 1.5 and sum(gaps) > 0.6, gaps


def test_changes_need_the_header_and_kubectl_sees_them(dashboard: Dashboard, kubectl: Kubectl,
                                                        ns: str) -> None:
    kubectl.run("create", "configmap", "patched", "-n", ns, "--from-literal=a=1")
    url = f"{dashboard.url}api/v1/namespaces/{ns}/configmaps/patched"
    patch = json.dumps({"data": {"a": "2"}})
    merge = {"Content-Type": "application/merge-patch+json"}

    async def scenario() -> None:
        async with browser(dashboard.login_url()) as session:
            async with session.patch(url, data=patch, headers=merge) as response:
                assert response.status == 403
                assert "X-Localsvc-Dashboard: 1" in await response.text()
            assert kubectl.out("get", "configmap", "patched", "-n", ns,
                               "-o", "jsonpath={.data.a}") == "1"
            async with session.patch(url, data=patch, headers={**merge, **CHANGE,
                                                               "Origin": "http://evil.example"}) as r:
                assert r.status == 403
            async with session.patch(url, data=patch, headers={**merge, **CHANGE,
                                                               "Origin": dashboard.url[:-1]}) as r:
                assert r.status == 200 and (await r.json())["data"] == {"a": "2"}
            assert kubectl.out("get", "configmap", "patched", "-n", ns,
                               "-o", "jsonpath={.data.a}") == "2"
            async with session.delete(url, headers=CHANGE) as response:
                assert response.status == 200
            assert kubectl.run("get", "configmap", "patched", "-n", ns,
                               check=False).returncode != 0

    run(scenario())


def test_a_foreign_host_is_refused(dashboard: Dashboard, ns: str) -> None:
    async def scenario() -> None:
        async with browser(dashboard.login_url()) as session:
            for path in ("", f"api/v1/namespaces/{ns}/configmaps", "localsvc/info"):
                async with session.get(dashboard.url + path,
                                       headers={"Host": f"rebound.example:{dashboard.port}"}) as r:
                    assert r.status == 403, path
                    assert "kube-root-ca.crt" not in await r.text()

    run(scenario())


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_localsvc_ui_prints_a_working_link_and_stops_on_ctrl_c(shared_env: Environment,
                                                                tmp_path: Path) -> None:
    environ = dict(os.environ, LOCALSVC_ENV=shared_env.name, NO_COLOR="1")
    environ.pop("LOCALSVC_UI_PORT", None)
    out, err = (tmp_path / "ui.out").open("w+"), (tmp_path / "ui.err").open("w+")
    process = subprocess.Popen([sys.executable, "-m", "localsvc", "ui", "--no-open"],
                               stdout=out, stderr=err, env=environ)
    try:
        printed = wait_for(lambda: re.search(r"dashboard: (http://127\.0\.0\.1:(\d+)/login\?code=\S+)",
                                             (tmp_path / "ui.out").read_text()),
                           timeout=30, what="the login link")
        link, port = printed[1], int(printed[2])

        async def scenario() -> None:
            async with browser(link) as session:
                async with session.get(f"http://127.0.0.1:{port}/localsvc/info") as response:
                    assert (await response.json())["env"] == shared_env.name
                async with session.get(f"http://127.0.0.1:{port}/api/v1/namespaces") as response:
                    names = [n["metadata"]["name"] for n in (await response.json())["items"]]
                    assert "default" in names

        run(scenario())
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0, (tmp_path / "ui.err").read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        out.close()
        err.close()
    assert not listening(port)
    assert "Ctrl-C stops it" in (tmp_path / "ui.err").read_text()


def ui(*args: str, env_name: str) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ, LOCALSVC_ENV=env_name, NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "localsvc", "ui", "--no-open", *args],
                          capture_output=True, text=True, env=environ, timeout=30)


def test_localsvc_ui_errors_are_clear(shared_env: Environment, dashboard: Dashboard) -> None:
    missing = ui(env_name=unique_env("none"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert "localsvc up" in missing.stderr and missing.stdout == ""
    taken = ui("--port", str(dashboard.port), env_name=shared_env.name)
    assert taken.returncode == 1 and taken.stdout == ""
    assert f"port {dashboard.port} on 127.0.0.1 is already in use" in taken.stderr


CONFIG = """apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1"}
"""


def test_up_serves_the_dashboard_in_the_foreground_hints_with_d_and_no_ui_is_quiet(
        node_image: str, tmp_path: Path) -> None:
    name = unique_env("dui")
    (tmp_path / "app.yaml").write_text(CONFIG)
    environ = dict(os.environ, LOCALSVC_ENV=name, LOCALSVC_NODE_IMAGE=node_image, NO_COLOR="1")
    environ.pop("LOCALSVC_UI_PORT", None)
    try:
        detached = subprocess.run([sys.executable, "-m", "localsvc", "up", "-d", "-f", "app.yaml"],
                                  cwd=tmp_path, capture_output=True, text=True, env=environ,
                                  timeout=180)
        assert detached.returncode == 0, detached.stderr
        assert "dashboard: localsvc ui" in detached.stderr
        # A stopped node: `ui` says so and how to start it again.
        Environment(name).docker.containers.get(node_name(name)).stop(timeout=5)
        stopped = ui(env_name=name)
        assert stopped.returncode == 1 and stopped.stdout == ""
        assert f'the node of environment "{name}" is exited' in stopped.stderr
        assert "run `localsvc up` again" in stopped.stderr
        quiet = tmp_path / "quiet.err"
        with quiet.open("w") as stderr:
            without = subprocess.Popen(
                [sys.executable, "-m", "localsvc", "up", "-f", "app.yaml", "--no-ui", "--keep"],
                cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr, env=environ)
        try:
            wait_for(lambda: "Ctrl-C stops it" in quiet.read_text(), timeout=60, what="running")
            without.send_signal(signal.SIGINT)
            assert without.wait(timeout=30) == 0, quiet.read_text()
        finally:
            if without.poll() is None:
                without.kill()
                without.wait(timeout=10)
        assert "dashboard" not in quiet.read_text()
        err = tmp_path / "up.err"
        with err.open("w") as stderr:
            up = subprocess.Popen([sys.executable, "-m", "localsvc", "up", "-f", "app.yaml"],
                                  cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=stderr,
                                  env=environ)
        try:
            printed = wait_for(lambda: re.search(
                r"dashboard: (http://127\.0\.0\.1:(\d+)/login\?code=\S+)", err.read_text()),
                timeout=60, what="the dashboard link")
            wait_for(lambda: "Ctrl-C stops it" in err.read_text(), timeout=30, what="running")
            link, port = printed[1], int(printed[2])

            async def scenario() -> None:
                async with browser(link) as session:
                    async with session.get(f"http://127.0.0.1:{port}/localsvc/info") as response:
                        info = await response.json()
                    assert info["env"] == name and info["devloop"] is True
                    url = f"http://127.0.0.1:{port}/api/v1/namespaces/default/configmaps/settings"
                    async with session.get(url) as response:
                        assert (await response.json())["data"] == {"a": "1"}

            run(scenario())
            up.send_signal(signal.SIGINT)
            assert up.wait(timeout=60) == 0, err.read_text()
        finally:
            if up.poll() is None:
                up.kill()
                up.wait(timeout=10)
        assert not listening(port)
        assert "stopped cleanly" in err.read_text()
        assert labelled(Environment(name).docker, name) == {"containers": 0, "networks": 0,
                                                             "volumes": 0}
    finally:
        Environment(name).down(volumes=True)
