"""What the tests that run the real kubectl (v1.32, /usr/bin/kubectl) against a tiny aiohttp API
on 127.0.0.1 share: serving the app on its own event loop thread, a temporary kubeconfig
pointing at it, running kubectl with timeouts, and the discovery answers built from
localsvc.model.kubeapi.discovery.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiohttp import web

from localsvc.model.kubeapi import discovery
from tests.net.ports import free_port

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
requires_kubectl = pytest.mark.skipif(not Path(KUBECTL).exists(),
                                      reason="kubectl is not installed")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def write_kubeconfig(directory: Path, port: int, namespace: str | None = None) -> Path:
    """A kubeconfig in `directory` whose one context is http://127.0.0.1:`port`, anonymous."""
    context = {"cluster": "test", "user": "test"} | ({"namespace": namespace} if namespace
                                                     else {})
    kubeconfig = directory / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "test", "user": {}}],
        "contexts": [{"name": "test", "context": context}],
    }))
    return kubeconfig


def kubectl_home(tmp_path_factory: pytest.TempPathFactory, name: str,
                 namespace: str | None = None) -> tuple[Path, int, Path]:
    """A fresh directory named after `name`, a free loopback port for the API, and the
    kubeconfig in that directory pointing at it: (directory, port, kubeconfig)."""
    tmp = tmp_path_factory.mktemp(name)
    port = free_port()
    return tmp, port, write_kubeconfig(tmp, port, namespace)


@contextmanager
def serving(handle: Handler, port: int, method: str = "*") -> Iterator[None]:
    """`handle` answering every path's `method` requests on 127.0.0.1:`port` from a daemon
    thread's event loop while the block runs (kubectl is a blocking subprocess, so the loop
    cannot be the test's)."""
    app = web.Application()
    app.router.add_route(method, "/{tail:.*}", handle)
    with serving_app(app, port):
        yield


@contextmanager
def serving_app(app: web.Application, port: int) -> Iterator[None]:
    """`app`, with routes of its own, served as `serving` serves a handler."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def run_kubectl(kubeconfig: Path, home: Path, *args: str, cache: Path | None = None,
                stdin: str | None = None, cwd: Path | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """kubectl `args` against `kubeconfig`, with `home` as HOME and `cache` as its discovery
    cache (default: HOME's), each request limited to 10 s and the whole run to `timeout`."""
    cache_args = ["--cache-dir", str(cache)] if cache else []
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *cache_args, "--request-timeout=10s", *args],
        input=stdin, capture_output=True, text=True, timeout=timeout, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(home)}, cwd=cwd)


def json_answer(document: object, code: int = 200,
                content_type: str = "application/json") -> web.Response:
    return web.Response(status=code, body=json.dumps(document).encode(),
                        headers={"Content-Type": content_type})


def root_discovery(path: str, accept: str, port: int) -> web.Response | None:
    """The answer to /version, /api or /apis as the node gives it (aggregated or legacy by the
    Accept header); None for any other path."""
    if path == "/version":
        return json_answer(discovery.version_info())
    if path not in ("/api", "/apis"):
        return None
    chosen = discovery.negotiate(accept)
    if chosen is None:
        return web.Response(status=406)
    if chosen.aggregated:
        assert chosen.version is not None
        return json_answer(discovery.aggregated_discovery(path == "/api", chosen.version),
                           content_type=chosen.content_type)
    return json_answer(discovery.api_versions(f"127.0.0.1:{port}") if path == "/api"
                       else discovery.api_group_list())


def split_resource_path(path: str) -> tuple[str, str, str | None, list[str]]:
    """(group, version, namespace or None, the rest) of /api/V/... or /apis/G/V/...: the rest is
    [plural] or [plural, name, ...]."""
    parts = path.strip("/").split("/")
    group, version, rest = ("", parts[1], parts[2:]) if parts[0] == "api" else (
        parts[1], parts[2], parts[3:])
    if len(rest) >= 3 and rest[0] == "namespaces":
        return group, version, rest[1], rest[2:]
    return group, version, None, rest
