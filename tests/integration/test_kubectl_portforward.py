"""`kubectl port-forward` (v1.32: SPDY/3.1 inside a WebSocket, KEP-4006) against a real
environment: the node serves pods/portforward as the kubelet would. Local ports are always
chosen by kubectl (`:PORT` asks for a free one, printed in its "Forwarding from" line)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from localsvc.host.api import Environment
from tests.integration.conftest import DEMO_IMAGE
from tests.integration.kubectl_support import (  # noqa: F401  (fixtures used by name)
    Kubectl, Stream, apply_example, kubectl, ns, shared_env, write_kubeconfig)
from tests.integration.proxy_echo import api_access, base, echo_objects

HTTP_PORT = 8080
ECHO_PORT = 7000
CLOSED_PORT = 9999  # nothing listens there in the pod

# A TCP echo server with a deep accept queue: the demo image's `tcp-echo` (socketserver) listens
# with a backlog of 5, and a burst of 50 connects overflows it and gets resets, with any path.
ECHO_SERVER = f"""import socket, threading
server = socket.create_server(("", {ECHO_PORT}), backlog=512)
def echo(conn):
    with conn:
        while data := conn.recv(65536):
            conn.sendall(data)
while True:
    conn, _ = server.accept()
    threading.Thread(target=echo, args=(conn,), daemon=True).start()
"""

# One pod, two servers in its network namespace: HTTP and a TCP echo. Ready once both listen
# (a refused connection ends kubectl's port-forward, so a test must not race the servers).
TWO_SERVERS = f"""apiVersion: v1
kind: Pod
metadata: {{name: two-servers, labels: {{app: two-servers}}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: http
    image: {DEMO_IMAGE}
    args: ["serve", "--port", "{HTTP_PORT}"]
    env: [{{name: DEMO_ACCESS_LOG, value: "0"}}]
    readinessProbe: {{tcpSocket: {{port: {HTTP_PORT}}}, periodSeconds: 1}}
  - name: echo
    image: {DEMO_IMAGE}
    command: ["python3", "-c", {json.dumps(ECHO_SERVER)}]
    readinessProbe: {{tcpSocket: {{port: {ECHO_PORT}}}, periodSeconds: 1}}
"""

FORWARDING = re.compile(r"^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)$")


def forward(kubectl: Kubectl, namespace: str, target: str, *remote_ports: int,
            **extra_env: str) -> tuple[Stream, dict[int, int]]:
    """A running `kubectl port-forward` and its local port per remote port."""
    args = ("port-forward", "-n", namespace, target, *(f":{port}" for port in remote_ports))
    stream = kubectl.stream(*args, **extra_env)

    def all_listening(lines: list[str]) -> bool:
        return len([line for line in lines if FORWARDING.match(line)]) == len(remote_ports)

    lines = stream.until(all_listening, 30, "port-forward listening")
    ports = {}
    for line in lines:
        if match := FORWARDING.match(line):
            ports[int(match.group(2))] = int(match.group(1))
    return stream, ports


def http_get(port: int, path: str = "/") -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.settimeout(10)
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def echo_roundtrip(port: int, payload: bytes) -> bytes:
    """Send `payload` (on a thread) while reading the echo; half-close when all is sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.settimeout(20)

        def send() -> None:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        received = bytearray()
        while chunk := sock.recv(1 << 20):
            received += chunk
        sender.join(timeout=20)
    return bytes(received)


@pytest.fixture
def two_servers(kubectl: Kubectl, ns: str) -> str:
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=TWO_SERVERS)
    kubectl.run("wait", "-n", ns, "--for=condition=Ready", "pod/two-servers", "--timeout=60s",
                request_timeout=None, timeout=70)
    return "pod/two-servers"


@pytest.fixture
def stopper() -> Iterator[list[Stream]]:
    streams: list[Stream] = []
    yield streams
    for stream in streams:
        stream.stop()


def test_service_resolves_to_a_pod_and_answers(kubectl: Kubectl, ns: str,
                                               stopper: list[Stream]) -> None:
    apply_example(kubectl, ns)
    stream, ports = forward(kubectl, ns, "svc/backend-service", 80)
    stopper.append(stream)
    pods = kubectl.out("get", "pods", "-n", ns, "-l", "app=backend", "-o",
                       "jsonpath={.items[*].metadata.name}").split()
    first = http_get(ports[80])
    assert first.startswith("HTTP/1.0 200"), first
    answered = re.search(r"hello from (\S+)", first)
    assert answered and answered.group(1) in pods, first
    # kubectl picked one pod: every connection goes to it.
    for _ in range(3):
        assert f"hello from {answered.group(1)}" in http_get(ports[80])
    assert stream.process.poll() is None


def test_several_ports_and_fifty_concurrent_connections(kubectl: Kubectl, ns: str,
                                                         two_servers: str,
                                                         stopper: list[Stream]) -> None:
    stream, ports = forward(kubectl, ns, two_servers, HTTP_PORT, ECHO_PORT)
    stopper.append(stream)
    assert "hello from two-servers" in http_get(ports[HTTP_PORT])

    def exchange(index: int) -> bool:
        payload = f"connection {index} ".encode() * (100 + index)
        return echo_roundtrip(ports[ECHO_PORT], payload) == payload

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(exchange, range(50)))
    assert results == [True] * 50
    # The demo HTTP server's backlog is 5 too: a few at a time.
    with ThreadPoolExecutor(max_workers=4) as pool:
        bodies = list(pool.map(lambda _: http_get(ports[HTTP_PORT]), range(20)))
    assert all("hello from two-servers" in body for body in bodies)
    assert stream.process.poll() is None


def test_large_transfer_is_byte_exact_both_ways(kubectl: Kubectl, ns: str, two_servers: str,
                                                stopper: list[Stream]) -> None:
    stream, ports = forward(kubectl, ns, two_servers, ECHO_PORT)
    stopper.append(stream)
    payload = os.urandom(24 * 1024 * 1024)
    started = time.monotonic()
    echoed = echo_roundtrip(ports[ECHO_PORT], payload)
    assert len(echoed) == len(payload)
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(payload).digest()
    assert time.monotonic() - started < 40


def test_refused_port_is_reported_as_the_kubelet_does(kubectl: Kubectl, ns: str,
                                                      two_servers: str,
                                                      stopper: list[Stream]) -> None:
    stream, ports = forward(kubectl, ns, two_servers, CLOSED_PORT)
    stopper.append(stream)
    with socket.create_connection(("127.0.0.1", ports[CLOSED_PORT]), timeout=10) as sock:
        sock.settimeout(10)
        assert sock.recv(1024) == b""  # kubectl closes the local connection
    # kubectl 1.32 logs the error stream's text, closes the SPDY connection and exits 1.
    stream.process.wait(timeout=20)
    stderr = stream.stderr()
    assert stream.process.returncode == 1, stderr
    assert f"an error occurred forwarding {ports[CLOSED_PORT]} -> {CLOSED_PORT}" in stderr, stderr
    assert re.search(rf"error forwarding port {CLOSED_PORT} to pod [0-9a-f]{{64}}, uid : failed "
                     rf"to execute portforward in network namespace ..?/var/run/docker/netns/",
                     stderr), stderr
    assert f"{CLOSED_PORT}: connect: connection refused" in stderr, stderr
    assert "error: lost connection to pod" in stderr, stderr


def test_missing_pod_is_not_found(kubectl: Kubectl, ns: str) -> None:
    result = kubectl.run("port-forward", "-n", ns, "pod/nowhere", ":80", check=False,
                         timeout=30)
    assert result.returncode == 1
    assert 'pods "nowhere" not found' in result.stderr, result.stderr


def test_the_spdy_upgrade_kubectl_falls_back_to_is_served_too(kubectl: Kubectl, ns: str,
                                                               two_servers: str,
                                                               stopper: list[Stream]) -> None:
    # kubectl's own switch back to the pre-1.31 upgrade (POST, Upgrade: SPDY/3.1): the same
    # SPDY frames straight on the connection instead of inside WebSocket messages.
    stream, ports = forward(kubectl, ns, two_servers, ECHO_PORT, HTTP_PORT,
                            KUBECTL_PORT_FORWARD_WEBSOCKETS="false")
    stopper.append(stream)
    payload = os.urandom(4 * 1024 * 1024)
    assert echo_roundtrip(ports[ECHO_PORT], payload) == payload
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda n: echo_roundtrip(ports[ECHO_PORT], b"%d" % n), range(10)))
    assert results == [b"%d" % n for n in range(10)]
    assert "hello from two-servers" in http_get(ports[HTTP_PORT])
    assert stream.process.poll() is None


# Accepts, reads a little, then resets the connection (SO_LINGER 0) while the client still sends.
RESETTER = f"""import socket, struct
server = socket.create_server(("", {ECHO_PORT}), backlog=64)
while True:
    conn, _ = server.accept()
    conn.recv(1)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
"""


def test_pod_resetting_mid_upload_ends_that_connection_only(kubectl: Kubectl, ns: str,
                                                            stopper: list[Stream]) -> None:
    manifest = (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: resetter}}\nspec:\n"
                f"  terminationGracePeriodSeconds: 0\n  containers:\n  - name: app\n"
                f"    image: {DEMO_IMAGE}\n"
                f"    command: [\"python3\", \"-c\", {json.dumps(RESETTER)}]\n"
                f"    readinessProbe: {{tcpSocket: {{port: {ECHO_PORT}}}, periodSeconds: 1}}\n")
    kubectl.run("apply", "-n", ns, "-f", "-", stdin=manifest)
    kubectl.run("wait", "-n", ns, "--for=condition=Ready", "pod/resetter", "--timeout=60s",
                request_timeout=None, timeout=70)
    stream, ports = forward(kubectl, ns, "pod/resetter", ECHO_PORT)
    stopper.append(stream)
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", ports[ECHO_PORT]), timeout=10) as sock:
            sock.settimeout(10)
            try:
                for _ in range(64):  # 16 MiB: far more than the buffers between here and the pod
                    sock.sendall(b"x" * (256 * 1024))
            except OSError:
                pass  # kubectl closed the local connection while we were still sending
            try:
                assert sock.recv(1024) == b""  # ended, not hanging (the timeout raises)
            except ConnectionResetError:
                pass
    # Like a kubelet whose copy to the pod fails: no error text, the port-forward goes on.
    assert stream.process.poll() is None, stream.stderr()


def test_a_request_that_is_no_upgrade_is_a_bad_request(kubectl: Kubectl, ns: str,
                                                      two_servers: str) -> None:
    result = kubectl.run("get", "--raw", f"/api/v1/namespaces/{ns}/pods/two-servers/portforward",
                         check=False)
    assert result.returncode == 1
    assert "Error from server (BadRequest)" in result.stderr, result.stderr
    assert "port-forward is an upgrade" in result.stderr, result.stderr


def _echo_pod_env(env: Environment, tmp_path: Path) -> Kubectl:
    env.ensure()
    own = Kubectl(env, write_kubeconfig(env, tmp_path))
    own.run("apply", "-f", "-", stdin=echo_objects("default"))
    own.run("wait", "--for=condition=Ready", "pod/echo", "--timeout=60s",
            request_timeout=None, timeout=70)
    return own


def _stop_node(env: Environment) -> float:
    """Stop the node as Docker does (SIGTERM, then SIGKILL after 30 s): the seconds it took;
    it must have exited by itself, with code 0."""
    (node,) = env.docker.containers.list(filters={"label": [
        f"io.localsvc.env={env.name}", "io.localsvc.role=node"]})
    started = time.monotonic()
    node.stop(timeout=30)
    stopped_in = time.monotonic() - started
    node.reload()
    assert node.attrs["State"]["ExitCode"] == 0, node.attrs["State"]
    return stopped_in


def test_the_nodes_shutdown_ends_port_forwards(env: Environment, tmp_path: Path) -> None:
    """A port-forward with an open connection when the node stops: the node cancels it and
    exits by itself (untracked, aiohttp waited for it until Docker's stop killed the node)."""
    own = _echo_pod_env(env, tmp_path)
    forwarding, ports = forward(own, "default", "pod/echo", HTTP_PORT)
    try:
        with socket.create_connection(("127.0.0.1", ports[HTTP_PORT]), timeout=10) as sock:
            sock.settimeout(10)
            sock.sendall(b"GET /page HTTP/1.1\r\nHost: x\r\n\r\n")  # kept alive after
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            stopped_in = _stop_node(env)
            # Untracked, the node waited for kubectl's pod watch and lingered on the upgraded
            # connection: 10 s; Docker kills it at 30 s.
            assert stopped_in < 8, f"the node took {stopped_in:.1f}s to stop"
            forwarding.process.wait(timeout=10)  # kubectl: "lost connection to pod"
    finally:
        forwarding.stop()


def test_the_nodes_shutdown_ends_proxied_websockets(env: Environment, tmp_path: Path) -> None:
    """A proxied WebSocket open when the node stops: the node cancels it, its client sees the
    close, and the node exits by itself (untracked, Docker's stop killed it after 30 s)."""
    own = _echo_pod_env(env, tmp_path)
    server, context, token = api_access(own)
    opened = threading.Event()
    ended: dict[str, Any] = {}

    async def hold() -> None:
        url = f"{server}{base('default', f'pods/echo:{HTTP_PORT}')}/ws"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            async with session.ws_connect(url, ssl=context,
                                          headers={"Authorization": f"Bearer {token}"}) as ws:
                await ws.receive_str()  # the echo server's first message: relayed
                opened.set()
                ended["type"] = (await ws.receive(timeout=40)).type

    holder = threading.Thread(target=lambda: asyncio.run(hold()), daemon=True)
    holder.start()
    assert opened.wait(20), "the proxied WebSocket did not open"
    stopped_in = _stop_node(env)
    # Untracked, aiohttp lingered 10 s on the upgraded connection; Docker kills it at 30 s.
    assert stopped_in < 8, f"the node took {stopped_in:.1f}s to stop"
    holder.join(timeout=10)
    assert ended.get("type") in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                 aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR), ended

