"""Service behaviour is the same whichever way the objects come in (issue 12, "One API"): a
representative set of tests/integration/test_services.py and test_host_access.py, each run with
the objects applied by `localsvc apply` and by `kubectl apply`. One environment for the module;
each case in a namespace of its own."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from localsvc.host.api import Environment
from tests.integration.conftest import DEMO_IMAGE, free_port, localsvc, wait_for, write
from tests.integration.kubectl_support import (  # noqa: F401  (fixtures used by name)
    Kubectl, kubectl, shared_env)
from tests.integration.test_host_access import try_get
from tests.integration.test_services import backend, fetch_many, py, service, toolbox

Deliver = Callable[[str], None]


def namespace_doc(name: str) -> str:
    return f"\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n"


def live_pods(env: Environment, namespace: str) -> tuple[int, int]:
    """How many pods of `namespace` are not terminating, and how many of those are Ready."""
    pods = [p for p in env.get("pods", namespace=namespace)
            if "deletionTimestamp" not in p["metadata"]]
    ready = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                    for c in p["status"].get("conditions") or [])]
    return len(pods), len(ready)


@pytest.fixture(params=["localsvc", "kubectl"])
def deliver(request: pytest.FixtureRequest, kubectl: Kubectl,
            tmp_path: Path) -> Iterator[Deliver]:
    """Apply a manifest (which names its namespaces) the way the parameter says, and wait
    until the pods in it are Ready; its namespaces are deleted afterwards."""
    env = kubectl.env
    made: set[str] = set()

    def apply(text: str) -> None:
        path = write(tmp_path, f"objects-{uuid.uuid4().hex[:6]}.yaml", text)
        if request.param == "localsvc":
            localsvc(env, "apply", "-f", str(path), "--wait", "90")
        else:
            kubectl.run("apply", "-f", str(path))
        docs = [d for d in yaml.safe_load_all(text) if d]
        namespaces = {d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"}
        made.update(namespaces)
        expected = sum(1 if d["kind"] == "Pod" else d["spec"].get("replicas", 1)
                       for d in docs if d["kind"] in ("Pod", "Deployment"))

        def ready() -> bool:
            counts = [live_pods(env, n) for n in namespaces]
            return all(total == up for total, up in counts) and \
                sum(total for total, _ in counts) >= expected

        wait_for(ready, timeout=90, what=f"{expected} pods Ready in {sorted(namespaces)}")

    yield apply
    for namespace in made:
        kubectl.remove_namespace(namespace)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_clusterip_by_dns_name_spreads_over_replicas(deliver: Deliver, kubectl: Kubectl,
                                                     node_image: str) -> None:
    ns = unique("svc")
    deliver("\n---".join([namespace_doc(ns), backend("web", namespace=ns),
                          service("web", "web", namespace=ns), toolbox(node_image, namespace=ns)]))
    env = kubectl.env
    counts = fetch_many(env, "http://web/", 60, namespace=ns)
    assert len(counts) == 3 and min(counts.values()) >= 5, counts
    fqdn = fetch_many(env, f"http://web.{ns}.svc.cluster.local/", 6, namespace=ns)
    assert sum(fqdn.values()) == 6
    ip = kubectl.json("get", "svc", "web", "-n", ns)["spec"]["clusterIP"]
    assert py(env, "toolbox", "import socket;print(socket.gethostbyname('web'))",
              namespace=ns).strip() == ip


def test_nodeport_reachable_from_the_host(deliver: Deliver, kubectl: Kubectl) -> None:
    ns, port = unique("np"), free_port()
    deliver("\n---".join([namespace_doc(ns), backend("web", replicas=2, namespace=ns), f"""
apiVersion: v1
kind: Service
metadata: {{name: web-np, namespace: {ns}}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: http, nodePort: {port}}}]
"""]))
    assert "hello from web-" in wait_for(lambda: try_get(f"http://127.0.0.1:{port}/"), timeout=15,
                                         what=f"the NodePort {port} from the host")
    table = kubectl.out("get", "svc", "web-np", "-n", ns)
    assert f"80:{port}/TCP" in table and "NodePort" in table


def test_headless_service_dns_records(deliver: Deliver, kubectl: Kubectl, node_image: str) -> None:
    ns = unique("headless")
    pods = "\n---".join(f"""
apiVersion: v1
kind: Pod
metadata: {{name: db-{i}, namespace: {ns}, labels: {{app: db}}}}
spec:
  hostname: db-{i}
  subdomain: db
  terminationGracePeriodSeconds: 0
  containers:
  - name: db
    image: {DEMO_IMAGE}
    args: ["serve", "--port", "5432"]
    ports: [{{name: pg, containerPort: 5432}}]
""" for i in range(2))
    deliver("\n---".join([namespace_doc(ns), pods, f"""
apiVersion: v1
kind: Service
metadata: {{name: db, namespace: {ns}}}
spec:
  clusterIP: None
  selector: {{app: db}}
  ports: [{{name: pg, port: 5432}}]
""", toolbox(node_image, namespace=ns)]))
    env = kubectl.env
    ips = {p["metadata"]["name"]: p["status"]["podIP"]
           for p in kubectl.json("get", "pods", "-n", ns, "-l", "app=db")["items"]}
    out = json.loads(py(env, "toolbox", """
import json, socket
print(json.dumps({
  "db": sorted({a[4][0] for a in socket.getaddrinfo('db', 5432, socket.AF_INET,
                                                     socket.SOCK_STREAM)}),
  "db-1": socket.gethostbyname('db-1.db'),
}))
""", namespace=ns))
    assert out == {"db": sorted(ips.values()), "db-1": ips["db-1"]}
    assert kubectl.json("get", "svc", "db", "-n", ns)["spec"]["clusterIP"] == "None"


def test_selectorless_service_with_endpoints(deliver: Deliver, kubectl: Kubectl,
                                             node_image: str) -> None:
    ns = unique("ext")
    deliver("\n---".join([namespace_doc(ns), backend("target", replicas=1, namespace=ns),
                          toolbox(node_image, namespace=ns)]))
    target = next(p for p in kubectl.json("get", "pods", "-n", ns)["items"]
                  if p["metadata"]["name"].startswith("target-"))
    deliver("\n---".join([namespace_doc(ns), f"""
apiVersion: v1
kind: Service
metadata: {{name: external-db, namespace: {ns}}}
spec:
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: external-db, namespace: {ns}}}
subsets:
- addresses: [{{ip: {target["status"]["podIP"]}}}]
  ports: [{{name: http, port: 8080}}]
"""]))
    counts = wait_for(lambda: _fetch(kubectl.env, "http://external-db/", 3, ns), timeout=10,
                      what="traffic through the selector-less Service")
    assert set(counts) == {target["metadata"]["name"]}


def _fetch(env: Environment, url: str, count: int, namespace: str) -> object:
    try:
        return fetch_many(env, url, count, namespace=namespace)
    except AssertionError:
        return None
