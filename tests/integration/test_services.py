"""Services inside the environment, seen from a client pod: ClusterIPs, load balancing, probes,
DNS (queried with a real resolver), cross-namespace names. Real engine, real packets."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from localsvc.host.api import Environment
from tests.integration.conftest import DEMO_IMAGE, localsvc, unique_env, wait_for, write


@pytest.fixture(params=["nftables", "userspace"])
def env(request: pytest.FixtureRequest, node_image: str, demo_image: str) -> Iterator[Environment]:
    """Every test here runs against both dataplanes: they must behave the same."""
    environment = Environment(unique_env(request.param[0]), node_image=node_image,
                              proxy_mode=request.param)
    try:
        yield environment
    finally:
        environment.down()


def toolbox(node_image: str, name: str = "toolbox", namespace: str = "default") -> str:
    """A client pod with python3 and dnslib (the node image has both)."""
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: tools
    image: {node_image}
    command: ["sleep", "infinity"]
"""


def py(env: Environment, pod: str, code: str, namespace: str = "default", check: bool = True) -> str:
    cid = env.container_id(pod, None, namespace)
    result = env.docker.containers.get(cid).exec_run(["python3", "-c", code])
    out = result.output.decode(errors="replace")
    if check:
        assert result.exit_code == 0, out
    return out


HTTP_GET = """
import sys, urllib.request
url = sys.argv[1] if len(sys.argv) > 1 else {url!r}
names = []
for _ in range({count}):
    with urllib.request.urlopen({url!r}, timeout=3) as r:
        names.append(r.read().decode().split()[2])
print(" ".join(names))
"""


def fetch_many(env: Environment, url: str, count: int, pod: str = "toolbox",
               namespace: str = "default") -> Counter[str]:
    return Counter(py(env, pod, HTTP_GET.format(url=url, count=count), namespace).split())


def backend(name: str, replicas: int = 3, namespace: str = "default", extra_spec: str = "",
            port: int = 8080) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: {DEMO_IMAGE}
        args: ["serve", "--port", "{port}"]
        env:
        - {{name: POD_NAME, valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}}}
        - {{name: DEMO_ACCESS_LOG, value: "0"}}
        ports: [{{name: http, containerPort: {port}}}]
{extra_spec}"""


def service(name: str, selector: str, namespace: str = "default", spec: str = "") -> str:
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  selector: {{app: {selector}}}
  ports: [{{name: http, port: 80, targetPort: http}}]
{spec}"""


@pytest.fixture
def app(env: Environment, node_image: str, tmp_path: Path) -> Environment:
    manifest = write(tmp_path, "app.yaml", "\n---".join([
        backend("web"), service("web", "web"), service("sticky", "web", spec="""  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}
"""),
        service("nobody", "nothing-matches"), toolbox(node_image)]))
    env.up([manifest], wait=120)
    return env


def test_clusterip_spreads_over_ready_replicas(app: Environment) -> None:
    counts = fetch_many(app, "http://web/", 60)
    assert len(counts) == 3, counts
    assert min(counts.values()) >= 5, counts  # even spread, not one favourite


def test_session_affinity_pins_a_client(app: Environment) -> None:
    counts = fetch_many(app, "http://sticky.default.svc.cluster.local/", 20)
    assert len(counts) == 1, counts


def test_no_ready_endpoint_is_refused_at_once(app: Environment) -> None:
    out = py(app, "toolbox", """
import socket, time
t = time.monotonic()
try:
    socket.create_connection(("nobody", 80), timeout=5)
    print("connected")
except ConnectionRefusedError:
    print("refused", round(time.monotonic() - t, 3))
""")
    verdict, seconds = out.split()
    assert verdict == "refused" and float(seconds) < 1.0


def test_clusterip_is_stable_across_apply_and_node_restart(app: Environment, tmp_path: Path) -> None:
    before = app.get("svc", "web")[0]["spec"]["clusterIP"]
    app.docker.containers.get(f"localsvc-{app.name}-node").restart(timeout=5)
    app.ensure()
    assert app.get("svc", "web")[0]["spec"]["clusterIP"] == before
    counts = wait_for(lambda: _try_fetch(app, "http://web/", 3), timeout=10, what="traffic after restart")
    assert sum(counts.values()) == 3


def _try_fetch(env: Environment, url: str, count: int) -> Counter[str] | None:
    try:
        return fetch_many(env, url, count)
    except AssertionError:
        return None


def test_dns_records_through_a_real_resolver(app: Environment) -> None:
    svc = app.get("svc", "web")[0]["spec"]["clusterIP"]
    dns = app.get("svc", "kube-dns", "kube-system")[0]["spec"]["clusterIP"]
    out = json.loads(py(app, "toolbox", f"""
import json, socket
from dnslib import DNSRecord, QTYPE
def q(name, qtype):
    reply = DNSRecord.parse(DNSRecord.question(name, qtype).send({dns!r}, 53, timeout=3))
    return {{"rcode": reply.header.rcode, "answers": [str(r.rdata) for r in reply.rr],
             "auth": [QTYPE[r.rtype] for r in reply.auth]}}
print(json.dumps({{
  "short": socket.gethostbyname("web"),
  "ns": socket.gethostbyname("web.default"),
  "fqdn": q("web.default.svc.cluster.local", "A"),
  "srv": q("_http._tcp.web.default.svc.cluster.local", "SRV"),
  "ptr": q(".".join(reversed({svc!r}.split("."))) + ".in-addr.arpa", "PTR"),
  "txt": q("dns-version.cluster.local", "TXT"),
  "nx": q("nope.default.svc.cluster.local", "A"),
  "aaaa": q("web.default.svc.cluster.local", "AAAA"),
  "kubedns": socket.gethostbyname("kube-dns.kube-system"),
}}))
"""))
    assert out["short"] == out["ns"] == svc
    assert out["fqdn"]["answers"] == [svc]
    assert out["srv"]["answers"] == ["0 100 80 web.default.svc.cluster.local."]
    assert out["ptr"]["answers"] == ["web.default.svc.cluster.local."]
    assert "1.1.0" in out["txt"]["answers"][0]
    assert out["nx"]["rcode"] == 3 and out["nx"]["auth"] == ["SOA"]
    assert out["aaaa"]["rcode"] == 0 and out["aaaa"]["answers"] == []
    assert out["kubedns"] == dns
    # Names outside the cluster zone are forwarded upstream (answered, not NXDOMAIN'd by us).
    resolv = py(app, "toolbox", "print(open('/etc/resolv.conf').read())")
    assert f"nameserver {dns}" in resolv and "ndots:5" in resolv
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in resolv


def test_headless_service_and_readiness_flips(env: Environment, node_image: str, tmp_path: Path) -> None:
    pods = "\n---\n".join(f"""
apiVersion: v1
kind: Pod
metadata: {{name: db-{i}, labels: {{app: db}}}}
spec:
  hostname: db-{i}
  subdomain: db
  terminationGracePeriodSeconds: 0
  containers:
  - name: db
    image: {DEMO_IMAGE}
    command: ["sh", "-c", "touch /tmp/ready; exec python3 /app/demo.py serve --port 5432"]
    ports: [{{name: pg, containerPort: 5432}}]
    readinessProbe:
      exec: {{command: ["test", "-f", "/tmp/ready"]}}
      periodSeconds: 1
      failureThreshold: 1
""" for i in range(3))
    manifest = write(tmp_path, "db.yaml", "\n---\n".join([pods, """
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: pg, port: 5432}]
""", toolbox(node_image)]))
    env.up([manifest], wait=90)
    ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in env.get("pods")}

    def resolve() -> set[str]:
        out = py(env, "toolbox", "import socket;print(' '.join(sorted({a[4][0] for a in "
                 "socket.getaddrinfo('db', 5432, socket.AF_INET, socket.SOCK_STREAM)})))", check=False)
        return set(out.split()) if "Error" not in out else set()

    assert resolve() == {ips["db-0"], ips["db-1"], ips["db-2"]}
    assert py(env, "toolbox", "import socket;print(socket.gethostbyname('db-1.db'))").strip() == ips["db-1"]
    env.docker.containers.get(env.container_id("db-1")).exec_run(["rm", "/tmp/ready"])
    started = time.monotonic()
    wait_for(lambda: resolve() == {ips["db-0"], ips["db-2"]}, timeout=4, interval=0.1,
             what="db-1 to leave the headless answer")
    assert time.monotonic() - started < 3.0
    eps = json.loads(localsvc(env, "get", "ep", "db", "-o", "json").stdout)
    not_ready = [a["ip"] for s in eps["subsets"] for a in s.get("notReadyAddresses", [])]
    assert not_ready == [ips["db-1"]]
    env.docker.containers.get(env.container_id("db-1")).exec_run(["touch", "/tmp/ready"])
    wait_for(lambda: resolve() == set(ips[f"db-{i}"] for i in range(3)), timeout=4, interval=0.1,
             what="db-1 to come back")
    slices = json.loads(localsvc(env, "get", "endpointslices", "-o", "json").stdout)["items"]
    db_slice = next(s for s in slices if s["metadata"]["labels"]["kubernetes.io/service-name"] == "db")
    assert all(e["conditions"]["ready"] for e in db_slice["endpoints"])


def test_liveness_failure_restarts_the_container(env: Environment, tmp_path: Path) -> None:
    manifest = write(tmp_path, "live.yaml", f"""
apiVersion: v1
kind: Pod
metadata: {{name: live}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: {DEMO_IMAGE}
    command: ["sh", "-c", "touch /tmp/alive; exec python3 /app/demo.py serve --port 8080"]
    livenessProbe:
      exec: {{command: ["test", "-f", "/tmp/alive"]}}
      periodSeconds: 1
      failureThreshold: 2
""")
    env.up([manifest], wait=60)
    env.docker.containers.get(env.container_id("live")).exec_run(["rm", "/tmp/alive"])
    wait_for(lambda: env.pod("live")["status"]["containerStatuses"][0]["restartCount"] >= 1,
             timeout=20, what="a liveness restart")
    env.wait_ready(30)


def test_named_target_port_multi_port_and_udp(env: Environment, node_image: str, tmp_path: Path) -> None:
    pods = "\n---\n".join(f"""
apiVersion: v1
kind: Pod
metadata: {{name: multi-{i}, labels: {{app: multi}}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: web
    image: {DEMO_IMAGE}
    args: ["serve", "--port", "{port}"]
    env: [{{name: POD_NAME, value: multi-{i}}}]
    ports: [{{name: web, containerPort: {port}}}]
  - name: udp
    image: {DEMO_IMAGE}
    args: ["udp-echo", "--port", "{udp}"]
    env: [{{name: POD_NAME, value: multi-{i}}}]
    ports: [{{name: echo, containerPort: {udp}, protocol: UDP}}]
""" for i, port, udp in ((0, 8080, 6000), (1, 9090, 6001)))
    manifest = write(tmp_path, "multi.yaml", "\n---\n".join([pods, """
apiVersion: v1
kind: Service
metadata: {name: multi}
spec:
  selector: {app: multi}
  ports:
  - {name: http, port: 80, targetPort: web}
  - {name: alt, port: 8000, targetPort: web}
  - {name: echo, port: 53, targetPort: echo, protocol: UDP}
""", toolbox(node_image)]))
    env.up([manifest], wait=90)
    assert set(fetch_many(env, "http://multi/", 30)) == {"multi-0", "multi-1"}
    assert set(fetch_many(env, "http://multi:8000/", 30)) == {"multi-0", "multi-1"}
    ip = env.get("svc", "multi")[0]["spec"]["clusterIP"]
    out = py(env, "toolbox", f"""
import socket
seen = set()
for i in range(30):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect(({ip!r}, 53))          # connected: only replies from the ClusterIP are accepted
    s.send(b"ping")
    seen.add(s.recv(100).decode().split()[0])
    s.close()
print(" ".join(sorted(seen)))
""")
    assert out.split() == ["multi-0", "multi-1"]


def test_selectorless_service_with_endpoints(env: Environment, node_image: str, tmp_path: Path) -> None:
    first = write(tmp_path, "target.yaml", backend("target", replicas=1) + "---" + toolbox(node_image))
    env.up([first], wait=60)
    target_ip = env.get("pods", namespace="default")[0]
    target_ip = next(p for p in env.get("pods") if p["metadata"]["name"].startswith("target"))
    ip = target_ip["status"]["podIP"]
    manifest = write(tmp_path, "ext.yaml", f"""
apiVersion: v1
kind: Service
metadata: {{name: external-db}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: external-db}}
subsets:
- addresses: [{{ip: {ip}}}]
  ports: [{{name: http, port: 8080}}]
""")
    env.apply([manifest])
    counts = wait_for(lambda: _try_fetch(env, "http://external-db/", 3), timeout=10,
                      what="traffic through the selector-less Service")
    assert set(counts) == {target_ip["metadata"]["name"]}


def test_cross_namespace_names_and_service_env(env: Environment, node_image: str, tmp_path: Path) -> None:
    manifest = write(tmp_path, "ns.yaml", "\n---\n".join([
        "\napiVersion: v1\nkind: Namespace\nmetadata: {name: api}\n",
        "\napiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n",
        backend("backend-service", replicas=1, namespace="api"),
        service("backend-service", "backend-service", namespace="api"),
        toolbox(node_image, namespace="web"),
        toolbox(node_image, name="neighbour", namespace="api"),
    ]))
    env.up([manifest], wait=90)
    for url in ("http://backend-service.api/", "http://backend-service.api.svc.cluster.local/"):
        assert sum(fetch_many(env, url, 2, namespace="web").values()) == 2
    # The short name resolves only in the Service's own namespace.
    out = py(env, "toolbox", "import socket\ntry:\n socket.gethostbyname('backend-service')\n "
             "print('found')\nexcept socket.gaierror:\n print('unknown')", namespace="web")
    assert out.strip() == "unknown"
    assert sum(fetch_many(env, "http://backend-service/", 2, pod="neighbour", namespace="api").values()) == 2
    environ = py(env, "neighbour", "import os;print('\\n'.join(f'{k}={v}' for k,v in os.environ.items()))",
                 namespace="api")
    ip = env.get("svc", "backend-service", "api")[0]["spec"]["clusterIP"]
    assert f"BACKEND_SERVICE_SERVICE_HOST={ip}" in environ.splitlines()
    assert f"BACKEND_SERVICE_PORT_80_TCP=tcp://{ip}:80" in environ.splitlines()
    web_env = py(env, "toolbox", "import os;print(sorted(os.environ))", namespace="web")
    assert "BACKEND_SERVICE_SERVICE_HOST" not in web_env


def test_established_connection_survives_endpoint_updates(env: Environment, node_image: str,
                                                          tmp_path: Path) -> None:
    echo = backend("echo", replicas=1).replace('args: ["serve", "--port", "8080"]',
                                               'args: ["tcp-echo", "--port", "8080"]')
    manifest = write(tmp_path, "echo.yaml", "\n---\n".join([echo, service("echo", "echo"),
                                                            toolbox(node_image)]))
    env.up([manifest], wait=60)
    tools = env.docker.containers.get(env.container_id("toolbox"))
    tools.exec_run(["python3", "-c", """
import os, socket, time
s = socket.create_connection(("echo", 80), timeout=5)
s.sendall(b"one"); first = s.recv(10)
while not os.path.exists("/tmp/go"):
    time.sleep(0.05)
s.sendall(b"two"); second = s.recv(10)
open("/tmp/result", "w").write((first + b" " + second).decode())
"""], detach=True)
    time.sleep(1)
    # Endpoints change (scale up), a Service is added: the open connection must not notice.
    env.scale("echo", 3)
    env.apply([write(tmp_path, "more.yaml", service("other", "echo"))])
    env.wait_ready(60)
    time.sleep(1)
    tools.exec_run(["touch", "/tmp/go"])
    result = wait_for(lambda: tools.exec_run(["cat", "/tmp/result"]).output.decode()
                      if tools.exec_run(["test", "-f", "/tmp/result"]).exit_code == 0 else "",
                      timeout=10, what="the echo result")
    assert result == "one two"
