"""The node's /v1/connections (and its watch) in both proxy modes: connections made from a pod
to a LoadBalancer Service's ClusterIP and to its NodePort on the node's address, and from the
host to its port on 127.0.0.1 (through the svclb), show up as that Service port's new
connections, counted by the dataplane (nftables map counters, or the userspace proxy's
listeners). Real engine, real packets."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localsvc.host.api import Environment
from tests.integration.conftest import free_port, unique_env, wait_for, write
from tests.integration.test_services import backend, toolbox

CONNECT = """
import socket, sys
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=3) as s:
        s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
        assert s.recv(100).startswith(b"HTTP/1."), target
"""


@pytest.fixture(params=["nftables", "userspace"])
def env(request: pytest.FixtureRequest, node_image: str, demo_image: str,
        tmp_path: Path) -> Iterator[Environment]:
    environment = Environment(unique_env("c" + request.param[0]), node_image=node_image,
                              proxy_mode=request.param)
    port = free_port(20000, 29999)  # the Service port, also the LoadBalancer's host port
    web = f"""
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  type: LoadBalancer
  selector: {{app: web}}
  ports: [{{name: http, port: {port}, targetPort: http}}]
"""
    try:
        manifest = write(tmp_path, "app.yaml", "\n---".join([
            backend("web", replicas=1), web, toolbox(node_image)]))
        environment.up([manifest], wait=120)
        yield environment
    finally:
        environment.down()


def connect(env: Environment, *targets: str) -> None:
    cid = env.container_id("toolbox", None, "default")
    result = env.docker.containers.get(cid).exec_run(["python3", "-c", CONNECT, *targets])
    assert result.exit_code == 0, result.output.decode(errors="replace")


def web_port(body: dict[str, Any]) -> int:
    [entry] = [s for s in body["services"] if (s["namespace"], s["name"]) == ("default", "web")]
    assert entry["protocol"] == "TCP"
    return int(entry["connections"])


def test_connections_to_cluster_ip_and_node_port_are_counted(env: Environment) -> None:
    node = env.node()
    svc = node.get("/api/v1/namespaces/default/services/web")
    cluster_ip, port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["port"]
    node_port = svc["spec"]["ports"][0]["nodePort"]
    before = node.get("/v1/connections")
    assert before["kind"] == "ConnectionCounts"
    assert before["counting"] == env.proxy_mode
    assert abs(before["time"] - time.time()) < 30
    [entry] = [s for s in before["services"] if s["name"] == "web"]
    assert entry["port"] == port
    start = web_port(before)
    connect(env, *[f"{cluster_ip}:{port}"] * 5)
    assert web_port(node.get("/v1/connections")) - start == 5
    connect(env, *[f"{env.info().node_ip}:{node_port}"] * 3)
    assert web_port(node.get("/v1/connections")) - start == 8
    for _ in range(2):  # host -> svclb -> the NodePort on the node
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
            assert answer.status == 200
    assert web_port(node.get("/v1/connections")) - start == 10


def test_watch_streams_a_body_a_second(env: Environment) -> None:
    node = env.node()
    spec = node.get("/api/v1/namespaces/default/services/web")["spec"]
    target = f"{spec['clusterIP']}:{spec['ports'][0]['port']}"
    lines: list[tuple[float, dict[str, Any]]] = []
    stream = node.open_stream("/v1/connections?watch=1")

    def read() -> None:
        for line in stream:
            lines.append((time.monotonic(), json.loads(line)))
            if len(lines) >= 6:
                break

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: len(lines) >= 2, timeout=15, what="two watch lines")
        start = web_port(lines[-1][1])
        connect(env, *[target] * 4)
        reader.join(timeout=15)
        assert not reader.is_alive(), "the watch sent fewer than 6 lines in time"
    finally:
        stream.close()
    assert all(body["kind"] == "ConnectionCounts" for _, body in lines)
    gaps = [b - a for (a, _), (b, _) in zip(lines, lines[1:])]
    assert all(0.5 < gap < 3.0 for gap in gaps), gaps
    assert web_port(lines[-1][1]) - start == 4
