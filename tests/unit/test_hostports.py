"""The host-port check before apply (hostports.host_port_free), on real loopback sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from localsvc.host.hostports import host_port_free


@pytest.fixture
def held_udp() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Some programs set SO_REUSEADDR on UDP; the port is still theirs.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def test_a_listening_tcp_port_is_busy_and_free_once_closed() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    assert not host_port_free("127.0.0.1", port, "TCP")
    server.close()
    assert host_port_free("127.0.0.1", port, "TCP")


def test_a_tcp_port_with_connections_in_time_wait_is_free() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first: its end goes to TIME_WAIT
    client.close()
    server.close()
    assert host_port_free("127.0.0.1", port, "TCP")


def test_a_udp_port_held_with_reuseaddr_is_busy(held_udp: int) -> None:
    # Regression: the check set SO_REUSEADDR on UDP too, and so bound beside the holder.
    assert not host_port_free("127.0.0.1", held_udp, "UDP")


def test_tcp_and_udp_ports_are_apart() -> None:
    # A UDP port whose TCP twin is known free: the TCP number is reserved first (a random UDP
    # port's TCP twin may be held by any program on a shared machine), then released.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as reserve:
        reserve.bind(("127.0.0.1", 0))
        port = int(reserve.getsockname()[1])
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", port))
    with udp:
        assert host_port_free("127.0.0.1", port, "TCP")


def test_an_ipv6_host_address_is_checked_as_ipv6() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this kernel")
    try:
        server = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no ::1 on this machine")
    port = server.getsockname()[1]
    with server:
        assert not host_port_free("::1", port, "TCP")
    # Regression: the check bound an IPv4 socket, so every IPv6 port looked busy.
    assert host_port_free("::1", port, "TCP")


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    sock.close()
    return port


SERVICE = """apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80%s}]
"""


@pytest.mark.parametrize("node_port, asks_the_node", [("", False), (", nodePort: 30999", True)])
def test_the_services_are_listed_only_for_an_explicit_node_port(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, node_port: str,
        asks_the_node: bool) -> None:
    """`up` of manifests without an explicit nodePort makes no request for the check: here
    the node's address is a closed loopback port, so a request fails."""
    from localsvc.errors import NodeError
    from localsvc.host.client import NodeClient
    from localsvc.host.hostports import host_port_conflicts
    from localsvc.host.manifests import load_manifests
    from localsvc.runtime.nodeaddress import NodeAddress

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_CONTEXT", "default")
    (tmp_path / "svc.yaml").write_text(SERVICE % node_port)
    manifests = load_manifests([tmp_path / "svc.yaml"]).manifests
    node = NodeClient(NodeAddress(f"http://127.0.0.1:{closed_port()}", "token"), timeout=5)
    if asks_the_node:
        with pytest.raises(NodeError):
            host_port_conflicts(manifests, node, "127.0.0.1")
    else:
        assert host_port_conflicts(manifests, node, "127.0.0.1") == []
