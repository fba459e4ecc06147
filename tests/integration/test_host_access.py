"""Reaching Services from the developer's machine and the machine from pods: NodePort,
LoadBalancer, ExternalName, host.docker.internal. Real engine, real host ports (127.0.0.1 only)."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from localsvc.host.api import Environment
from tests.integration.conftest import free_port, localsvc, wait_for, write
from tests.integration.test_services import backend, py, toolbox


def get(url: str, timeout: float = 3) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return str(r.read().decode())


def try_get(url: str) -> str:
    try:
        return get(url)
    except OSError:
        return ""


def np_service(name: str, node_port: int | None, stype: str = "NodePort", port: int = 80,
               extra: str = "") -> str:
    np = f", nodePort: {node_port}" if node_port else ""
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec:
  type: {stype}
  selector: {{app: web}}
  ports: [{{port: {port}, targetPort: http{np}}}]
{extra}"""


@pytest.fixture
def web(env: Environment, tmp_path: Path) -> Environment:
    env.up([write(tmp_path, "web.yaml", backend("web", replicas=2))], wait=60)
    return env


def test_nodeport_from_host_and_pod(web: Environment, node_image: str, tmp_path: Path) -> None:
    port = free_port()
    web.apply([write(tmp_path, "np.yaml", np_service("web-np", port) + "\n---\n" + toolbox(node_image))])
    web.wait_ready(60)
    assert "hello from web-" in wait_for(lambda: try_get(f"http://127.0.0.1:{port}/"), timeout=15)
    table = localsvc(web, "get", "svc").stdout
    assert f"80:{port}/TCP" in table
    node_ip = web.info().node_ip
    out = py(web, "toolbox", f"import urllib.request;print(urllib.request.urlopen("
             f"'http://{node_ip}:{port}/', timeout=3).read().decode())")
    assert "hello from web-" in out
    # An allocated nodePort is stable across apply and a node restart.
    web.apply([write(tmp_path, "auto.yaml", np_service("web-auto", None))])
    allocated = web.get("svc", "web-auto")[0]["spec"]["ports"][0]["nodePort"]
    assert 30000 <= allocated <= 32767
    web.docker.containers.get(f"localsvc-{web.name}-node").restart(timeout=5)
    web.ensure()
    web.apply([tmp_path / "auto.yaml"])
    assert web.get("svc", "web-auto")[0]["spec"]["ports"][0]["nodePort"] == allocated


def test_nodeport_conflicts_are_clear_errors(web: Environment, tmp_path: Path) -> None:
    taken = free_port()
    web.apply([write(tmp_path, "a.yaml", np_service("first", taken))])
    before = json.dumps(web.get("svc"), sort_keys=True)
    cases = {
        "range.yaml": (np_service("bad", 8080), "provided port is not in the valid range"),
        "dup.yaml": (np_service("second", taken), "provided port is already allocated"),
    }
    holder = socket.socket()
    busy = free_port()
    holder.bind(("127.0.0.1", busy))
    holder.listen()
    try:
        cases["busy.yaml"] = (np_service("third", busy), f"port {busy} is already in use on the host")
        for name, (text, message) in cases.items():
            result = localsvc(web, "apply", "-f", str(write(tmp_path, name, text)), check=False)
            assert result.returncode == 1, name
            assert message in result.stderr and f"{name}:" in result.stderr
            assert "spec.ports[0].nodePort" in result.stderr
    finally:
        holder.close()
    assert json.dumps(web.get("svc"), sort_keys=True) == before


def test_loadbalancer_ingress_pending_and_handover(web: Environment, tmp_path: Path) -> None:
    port = free_port(20000, 29999)
    first = write(tmp_path, "lb1.yaml", np_service("lb-one", None, "LoadBalancer", port))
    web.apply([first])
    svc = wait_for(lambda: (s := web.get("svc", "lb-one")[0])["status"]["loadBalancer"].get("ingress")
                   and s, timeout=10, what="ingress")
    assert svc["status"]["loadBalancer"]["ingress"][0]["ip"] == "127.0.0.1"
    assert "hello from web-" in wait_for(lambda: try_get(f"http://127.0.0.1:{port}/"), timeout=15)
    web.apply([write(tmp_path, "lb2.yaml", np_service("lb-two", None, "LoadBalancer", port))])
    two = web.get("svc", "lb-two")[0]
    assert not two["status"]["loadBalancer"].get("ingress")
    assert "lb-one" in two["status"]["conditions"][0]["message"]
    assert "<pending>" in localsvc(web, "get", "svc", "lb-two").stdout
    localsvc(web, "delete", "svc", "lb-one")
    wait_for(lambda: web.get("svc", "lb-two")[0]["status"]["loadBalancer"].get("ingress"),
             timeout=15, what="lb-two to get the port")
    assert "hello from web-" in wait_for(lambda: try_get(f"http://127.0.0.1:{port}/"), timeout=15)


def test_load_balancer_source_ranges(web: Environment, tmp_path: Path) -> None:
    allowed, denied = free_port(20000, 29999), free_port(20000, 29999) + 1
    web.apply([write(tmp_path, "lb.yaml", "\n---\n".join([
        np_service("lb-local", None, "LoadBalancer", allowed,
                   "  loadBalancerSourceRanges: [127.0.0.0/8]"),
        np_service("lb-office", None, "LoadBalancer", denied,
                   "  loadBalancerSourceRanges: [192.0.2.0/24]"),
    ]))])
    assert "hello from web-" in wait_for(lambda: try_get(f"http://127.0.0.1:{allowed}/"), timeout=15)
    wait_for(lambda: web.get("svc", "lb-office")[0]["status"]["loadBalancer"].get("ingress"), timeout=10)
    time.sleep(1)
    with pytest.raises(OSError):
        get(f"http://127.0.0.1:{denied}/")


class _Hello(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(b"hello from the host\n")


@pytest.fixture
def host_server(env: Environment) -> Iterator[tuple[str, int]]:
    """A server on the developer's machine, on the environment bridge's host address."""
    env.ensure()
    from localsvc.model.network import plan_for

    gateway = plan_for(env.info().subnet).gateway
    server = socketserver.ThreadingTCPServer((gateway, 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield gateway, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_externalname_and_the_host(env: Environment, node_image: str, tmp_path: Path,
                                   host_server: tuple[str, int]) -> None:
    gateway, port = host_server
    env.up([write(tmp_path, "ext.yaml", "\n---\n".join([
        "\napiVersion: v1\nkind: Namespace\nmetadata: {name: shared}\n",
        backend("db", replicas=1, namespace="shared"),
        """
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shared}
spec:
  selector: {app: db}
  ports: [{name: http, port: 80, targetPort: http}]
""", """
apiVersion: v1
kind: Service
metadata: {name: database}
spec:
  type: ExternalName
  externalName: db.shared.svc.cluster.local
""", """
apiVersion: v1
kind: Service
metadata: {name: laptop}
spec:
  type: ExternalName
  externalName: host.docker.internal
""", toolbox(node_image)]))], wait=90)
    dns = env.get("svc", "kube-dns", "kube-system")[0]["spec"]["clusterIP"]
    db_ip = env.get("svc", "db", "shared")[0]["spec"]["clusterIP"]
    out = json.loads(py(env, "toolbox", f"""
import json, socket, urllib.request
from dnslib import DNSRecord
def q(name):
    r = DNSRecord.parse(DNSRecord.question(name, "A").send({dns!r}, 53, timeout=3))
    return [(str(x.rname), str(x.rdata)) for x in r.rr]
s = socket.create_connection(("laptop", {port}), timeout=3)
print(json.dumps({{
  "database": q("database.default.svc.cluster.local"),
  "laptop": q("laptop.default.svc.cluster.local"),
  "via_alias": urllib.request.urlopen("http://database/", timeout=3).read().decode(),
  "host": s.recv(100).decode(),
}}))
"""))
    database = [tuple(r) for r in out["database"]]
    assert database[0] == ("database.default.svc.cluster.local.", "db.shared.svc.cluster.local.")
    assert ("db.shared.svc.cluster.local.", db_ip) in database
    assert [tuple(r) for r in out["laptop"]] == [
        ("laptop.default.svc.cluster.local.", "host.docker.internal."),
        ("host.docker.internal.", gateway)]
    assert out["via_alias"].startswith("hello from db-")
    assert out["host"] == "hello from the host\n"
    svc = env.get("svc", "laptop")[0]
    assert svc["spec"]["type"] == "ExternalName" and "clusterIP" not in svc["spec"]
    assert "laptop" not in {e["metadata"]["name"] for e in env.get("endpoints")}


def test_adding_and_removing_nodeports_keeps_other_connections(web: Environment, tmp_path: Path) -> None:
    port = free_port()
    echo = backend("echo", replicas=1).replace('args: ["serve", "--port", "8080"]',
                                               'args: ["tcp-echo", "--port", "8080"]')
    keep = np_service("keep", port).replace("{app: web}", "{app: echo}")
    web.apply([write(tmp_path, "keep.yaml", echo + "\n---\n" + keep)])
    web.wait_ready(60)

    def echo_once() -> bytes:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"ping")
                return s.recv(10)
        except OSError:
            return b""
    wait_for(lambda: echo_once() == b"ping", timeout=15, what="the echo NodePort")
    keep_forwarder = web.docker.containers.get(f"localsvc-{web.name}-svclb-default-keep").id
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.sendall(b"one")
    assert conn.recv(10) == b"one"
    extra = free_port()
    web.apply([write(tmp_path, "extra.yaml", np_service("extra", extra))])
    wait_for(lambda: try_get(f"http://127.0.0.1:{extra}/"), timeout=15)
    localsvc(web, "delete", "svc", "extra")
    wait_for(lambda: not try_get(f"http://127.0.0.1:{extra}/"), timeout=15)
    conn.sendall(b"two")
    assert conn.recv(10) == b"two"
    conn.close()
    assert web.docker.containers.get(f"localsvc-{web.name}-svclb-default-keep").id == keep_forwarder


def test_port_forward_with_50_concurrent_connections(web: Environment, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    web.apply([write(tmp_path, "svc.yaml", np_service("web", None, "ClusterIP"))])
    environ = dict(os.environ, LOCALSVC_ENV=web.name, NO_COLOR="1")
    proc = subprocess.Popen([sys.executable, "-m", "localsvc", "port-forward", "svc/web", ":80"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("Forwarding from 127.0.0.1:"), line + (proc.stderr.read() if proc.stderr else "")
        port = int(line.split(":")[1].split()[0])
        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(lambda _: get(f"http://127.0.0.1:{port}/", timeout=10), range(50)))
        assert all(a.startswith("hello from web-") for a in answers)
        assert len({a.split()[2] for a in answers}) == 2  # through the ClusterIP: both pods
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    # The Python API gives a host URL for a ClusterIP Service through the same tunnel.
    url = web.service_url("web")
    assert get(url).startswith("hello from web-")


def test_url_dns_command_and_host_dns(node_image: str, demo_image: str, tmp_path: Path) -> None:
    from dnslib import DNSRecord

    from tests.integration.conftest import unique_env

    env = Environment(unique_env("d"), node_image=node_image, host_dns_port=0)
    try:
        port = free_port()
        env.up([write(tmp_path, "app.yaml", backend("web", replicas=1) + "\n---\n"
                      + np_service("web-np", port) + "\n---\n" + np_service("web", None, "ClusterIP"))],
               wait=60)
        url = localsvc(env, "url", "svc/web-np").stdout.strip()
        assert url == f"http://127.0.0.1:{port}"
        assert get(url).startswith("hello from web-")
        status = localsvc(env, "status").stdout
        np_row = next(line for line in status.splitlines() if " web-np " in line)
        assert f"http://127.0.0.1:{port}" in np_row and "1/1" in np_row
        assert "kube-dns" in status
        refused = localsvc(env, "url", "svc/web", check=False)
        assert refused.returncode == 1 and "port-forward" in refused.stderr
        ip = env.get("svc", "web")[0]["spec"]["clusterIP"]
        out = localsvc(env, "dns", "web.default.svc.cluster.local").stdout
        assert "NOERROR" in out and ip in out
        assert "NXDOMAIN" in localsvc(env, "dns", "nope.default.svc.cluster.local").stdout
        host_dns = env.info().host_dns
        assert host_dns and host_dns.startswith("127.0.0.1:")
        reply = DNSRecord.parse(DNSRecord.question("web.default.svc.cluster.local").send(
            "127.0.0.1", int(host_dns.split(":")[1]), timeout=3))
        assert [str(r.rdata) for r in reply.rr] == [ip]
    finally:
        env.down()
