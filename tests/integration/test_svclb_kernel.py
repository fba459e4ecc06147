"""Host -> NodePort/LoadBalancer through the svclb containers: kernel forwarding (nftables DNAT in
each svclb, as k3s's klipper-lb does) where the node's proxy runs on nftables, the userspace relay
where it does not or where the kernel path is refused. Real engine, real host ports (127.0.0.1)."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from localsvc.host.api import Environment
from localsvc.model.network import plan_for
from localsvc.net.forwarder import SPEC_VARIABLE, ForwardRule, rules_to_json
from localsvc.runtime import labels as L
from tests.integration.conftest import DEMO_IMAGE, free_port, unique_env, wait_for, write

TABLE_CMD = ["nft", "list", "table", "ip", "localsvc-svclb"]


def multi(name: str = "multi") -> str:
    """Two pods, each with an HTTP server (8080, "web") and a UDP echo (6000, "echo")."""
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: {DEMO_IMAGE}
        args: ["serve", "--port", "8080"]
        env: [{{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}},
              {{name: DEMO_ACCESS_LOG, value: "0"}}]
        ports: [{{name: web, containerPort: 8080}}]
      - name: echo
        image: {DEMO_IMAGE}
        args: ["udp-echo", "--port", "6000"]
        env: [{{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}]
        ports: [{{name: echo, containerPort: 6000, protocol: UDP}}]
"""


def service(name: str, stype: str, http: tuple[int, int | None], udp: tuple[int, int | None],
            ranges: str = "", app: str = "multi") -> str:
    """`http`/`udp`: (Service port, nodePort or None)."""
    def node_port(value: int | None) -> str:
        return f", nodePort: {value}" if value else ""
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: {stype}
  selector: {{app: {app}}}
  ports:
  - {{name: http, port: {http[0]}, targetPort: web{node_port(http[1])}}}
  - {{name: echo, port: {udp[0]}, targetPort: echo, protocol: UDP{node_port(udp[1])}}}
{f"  loadBalancerSourceRanges: {ranges}" if ranges else ""}"""


def http_get(port: int, host: str = "127.0.0.1") -> str:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/", timeout=3) as r:
            return str(r.read().decode())
    except OSError:
        return ""


def udp_ask(port: int, timeout: float = 1.0, host: str = "127.0.0.1") -> str:
    """One datagram to host:port; the echo's answer, or "" when none came."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        try:
            s.send(b"ping")
            return s.recv(200).decode()
        except OSError:  # timeout, or refused while the forwarder starts
            return ""


def svclb(env: Environment, name: str) -> Any:
    return env.docker.containers.get(f"localsvc-{env.name}-svclb-default-{name}")


def exec_text(container: Any, *cmd: str) -> str:
    result = container.exec_run(list(cmd))
    out = str(result.output.decode(errors="replace"))
    assert result.exit_code == 0, out
    return out


def listening_ports(container: Any) -> set[int]:
    """Ports a process in the container listens on (TCP) or has bound (UDP)."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/udp"):
        for line in exec_text(container, "cat", table).splitlines()[1:]:
            fields = line.split()
            if table.endswith("udp") or fields[3] == "0A":  # 0A: LISTEN
                ports.add(int(fields[1].split(":")[1], 16))
    return ports


def relay_ports(env: Environment, name: str) -> set[int]:
    """The ports the Service's svclb listens on; none while it is not there yet."""
    try:
        return listening_ports(svclb(env, name))
    except (docker.errors.NotFound, AssertionError):  # not created / not started yet
        return set()


def test_nodeport_and_load_balancer_tcp_and_udp_in_the_kernel(env: Environment,
                                                                tmp_path: Path) -> None:
    np_http, np_udp = free_port(), free_port()
    lb_http, lb_udp = free_port(20000, 29999), free_port(20000, 29999)
    env.up([write(tmp_path, "app.yaml", multi() + "---" + service(
        "multi", "LoadBalancer", (lb_http, np_http), (lb_udp, np_udp)))], wait=90)
    for port in (np_http, lb_http):
        assert "hello from multi-" in wait_for(lambda p=port: http_get(p), timeout=15)
    for port in (np_udp, lb_udp):
        assert wait_for(lambda p=port: udp_ask(p), timeout=15).startswith("multi-")
    # both pods answer through the ClusterIP the svclb DNATs to
    names = {wait_for(lambda: udp_ask(np_udp), timeout=5).split()[0] for _ in range(20)}
    assert len(names) == 2, names

    forwarder = svclb(env, "multi")
    host_config = forwarder.attrs["HostConfig"]
    assert host_config["CapAdd"] == ["NET_ADMIN"] and not host_config["Privileged"]
    assert host_config["Sysctls"]["net.ipv4.ip_forward"] == "1"
    assert "kernel forwarding (nftables)" in forwarder.logs().decode()
    table = exec_text(forwarder, *TABLE_CMD)
    cluster_ip = env.get("svc", "multi")[0]["spec"]["clusterIP"]
    assert f"dnat to {cluster_ip}:{lb_http}" in table and f"dnat to {cluster_ip}:{lb_udp}" in table
    # nothing listens in the svclb: the kernel carries the traffic
    assert not listening_ports(forwarder) & {np_http, np_udp, lb_http, lb_udp}
    forwarder.stop(timeout=20)  # SIGTERM ends it (exit 0); SIGKILL after the timeout: 137
    forwarder.reload()
    assert forwarder.attrs["State"]["ExitCode"] == 0


def test_source_ranges_in_the_kernel_tcp_and_udp(env: Environment, tmp_path: Path) -> None:
    allowed = (free_port(20000, 29999), free_port(20000, 29999))
    denied = (free_port(20000, 29999), free_port(20000, 29999))
    env.up([write(tmp_path, "app.yaml", "\n---\n".join([
        multi(),
        service("local", "LoadBalancer", (allowed[0], None), (allowed[1], None), "[127.0.0.0/8]"),
        service("office", "LoadBalancer", (denied[0], None), (denied[1], None),
                "[192.0.2.0/24, 10.0.0.0/8]"),
    ]))], wait=90)
    assert "hello from multi-" in wait_for(lambda: http_get(allowed[0]), timeout=15)
    assert wait_for(lambda: udp_ask(allowed[1]), timeout=15).startswith("multi-")
    office = svclb(env, "office")
    wait_for(lambda: "kernel forwarding" in office.logs().decode(), timeout=15, what="office's rules")
    table = exec_text(office, *TABLE_CMD)
    assert "192.0.2.0/24" in table and "reject with tcp reset" in table
    # the host's loopback (the bridge gateway, through Docker's proxy) is outside the ranges
    started = time.monotonic()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{denied[0]}/", timeout=10).read()
    assert time.monotonic() - started < 5  # reset at once, not left to time out
    assert udp_ask(denied[1]) == ""
    assert udp_ask(allowed[1]).startswith("multi-")  # the allowed one still answers


def test_a_service_change_replaces_its_svclb(env: Environment, tmp_path: Path) -> None:
    first, second, udp = free_port(), free_port(), free_port()
    env.up([write(tmp_path, "app.yaml", multi() + "---" + service(
        "multi", "NodePort", (80, first), (53, udp)))], wait=90)
    assert "hello from multi-" in wait_for(lambda: http_get(first), timeout=15)
    before = svclb(env, "multi").id
    env.apply([write(tmp_path, "svc.yaml", service("multi", "NodePort", (80, second), (53, udp)))])
    assert "hello from multi-" in wait_for(lambda: http_get(second), timeout=15)
    after = svclb(env, "multi")
    assert after.id != before
    assert before not in {c.id for c in env.docker.containers.list(all=True)}
    assert f"tcp dport {second} dnat" in exec_text(after, *TABLE_CMD)
    assert wait_for(lambda: not http_get(first), timeout=10, what="the old nodePort to close")
    assert udp_ask(udp).startswith("multi-")


def test_only_the_node_and_svclb_containers_hold_net_admin(env: Environment, node_image: str,
                                                          tmp_path: Path) -> None:
    port = free_port()
    env.up([write(tmp_path, "app.yaml", multi() + "---" + service(
        "multi", "NodePort", (80, port), (53, None)))], wait=90)
    wait_for(lambda: http_get(port), timeout=15)
    found: dict[str, list[Any]] = {}
    for summary in env.docker.api.containers(all=True, filters=L.env_filter(env.name)):
        attrs = env.docker.api.inspect_container(summary["Id"])
        host_config = attrs["HostConfig"]
        assert not host_config["Privileged"], attrs["Name"]
        found.setdefault(attrs["Config"]["Labels"].get(L.ROLE, ""), []).append(
            host_config.get("CapAdd") or [])
    assert {"node", "svclb"} <= set(found) and len(found) > 2  # pods' containers too
    for role, caps in found.items():
        assert all(c == (["NET_ADMIN"] if role in ("node", "svclb") else []) for c in caps), \
            (role, caps)


def test_the_relay_where_the_node_proxies_in_userspace(node_image: str, demo_image: str,
                                                       tmp_path: Path) -> None:
    env = Environment(unique_env("u"), node_image=node_image, proxy_mode="userspace")
    try:
        np_http, np_udp = free_port(), free_port()
        denied = free_port(20000, 29999)
        env.up([write(tmp_path, "app.yaml", "\n---\n".join([
            multi(), service("multi", "NodePort", (80, np_http), (53, np_udp)),
            service("office", "LoadBalancer", (denied, None), (denied, None), "[192.0.2.0/24]"),
        ]))], wait=90)
        assert "hello from multi-" in wait_for(lambda: http_get(np_http), timeout=15)
        assert wait_for(lambda: udp_ask(np_udp), timeout=15).startswith("multi-")
        forwarder = svclb(env, "multi")
        assert not forwarder.attrs["HostConfig"]["CapAdd"]
        assert "kernel" not in forwarder.logs().decode()
        assert {np_http, np_udp} <= listening_ports(forwarder)  # the relay listens
        wait_for(lambda: env.get("svc", "office")[0]["status"]["loadBalancer"].get("ingress"),
                 timeout=15, what="office's ingress")
        wait_for(lambda: denied in relay_ports(env, "office"), timeout=15,
                 what="office's relay to listen")
        assert not http_get(denied) and udp_ask(denied) == ""
        assert "NET_ADMIN" not in json.dumps(svclb(env, "office").attrs["HostConfig"])
    finally:
        env.down(volumes=True)


def test_a_svclb_refused_the_kernel_path_relays(env: Environment, node_image: str,
                                                 tmp_path: Path) -> None:
    """Kernel forwarding asked for, but the engine gave no NET_ADMIN: nft cannot program, and the
    container says so and relays (the same image and command as the node's svclb)."""
    env.up([write(tmp_path, "app.yaml", multi() + "---" + service(
        "multi", "ClusterIP", (80, None), (53, None)))], wait=90)
    info = env.info()
    cluster_ip = env.get("svc", "multi")[0]["spec"]["clusterIP"]
    http, udp = free_port(20000, 29999), free_port(20000, 29999)
    spec = rules_to_json([ForwardRule(8000, "TCP", cluster_ip, 80),
                          ForwardRule(5300, "UDP", cluster_ip, 53)],
                         host_alias=plan_for(info.subnet).gateway, mode="kernel")
    container = env.docker.containers.run(
        node_image, ["svclb"], detach=True, labels={L.ENV: env.name}, network=info.network,
        environment={SPEC_VARIABLE: spec}, sysctls={"net.ipv4.ip_forward": "1"},
        ports={"8000/tcp": ("127.0.0.1", http), "5300/udp": ("127.0.0.1", udp)})
    assert "hello from multi-" in wait_for(lambda: http_get(http), timeout=15)
    assert wait_for(lambda: udp_ask(udp), timeout=15).startswith("multi-")
    logs = container.logs().decode()
    assert "cannot forward in the kernel (nft failed" in logs, logs
    assert {8000, 5300} <= listening_ports(container)


def test_a_local_external_ip_through_the_kernel(env: Environment, tmp_path: Path) -> None:
    port = free_port(20000, 29999)
    env.up([write(tmp_path, "app.yaml", multi() + "---" + service(
        "multi", "ClusterIP", (port, None), (port, None)).replace(
        "  ports:", "  externalIPs: [127.0.0.2]\n  ports:"))], wait=90)
    assert "hello from multi-" in wait_for(lambda: http_get(port, "127.0.0.2"), timeout=15)
    assert wait_for(lambda: udp_ask(port, host="127.0.0.2"), timeout=15).startswith("multi-")
    forwarder = svclb(env, "multi")
    assert "NET_ADMIN" in forwarder.attrs["HostConfig"]["CapAdd"]
    cluster_ip = env.get("svc", "multi")[0]["spec"]["clusterIP"]
    assert f"dnat to {cluster_ip}:{port}" in exec_text(forwarder, *TABLE_CMD)
    assert not http_get(port)  # published on that address only
