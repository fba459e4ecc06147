"""The examples under examples/ (service-types, cross-namespace, from-compose, dev-loop) behave as
their READMEs say. Host ports the examples fix (30080, 8080) may be taken on a CI machine or by a
parallel run, so those tests run a copy of the manifests with the ports rewritten to free ones."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from localsvc.host.api import Environment, load_manifests
from tests.integration.conftest import ROOT, free_port, localsvc, wait_for

EXAMPLES = ROOT / "examples"
Obj = dict[str, Any]


# ---- helpers ------------------------------------------------------------------------------------

def copy_manifests(src: Path, dst: Path, edit: Callable[[Obj], None]) -> Path:
    """Copy every manifest under src to dst, passing each object through edit()."""
    for path in sorted(src.rglob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        for doc in docs:
            edit(doc)
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return dst


def service_ports(doc: Obj, name: str) -> list[Obj]:
    if doc.get("kind") == "Service" and doc["metadata"]["name"] == name:
        return list(doc["spec"]["ports"])
    return []


def get(url: str, timeout: float = 3) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return str(resp.read().decode())


def eventually_get(url: str, timeout: float = 20) -> str:
    def attempt() -> str:
        try:
            return get(url)
        except OSError:
            return ""
    return str(wait_for(attempt, timeout=timeout, interval=0.3, what=f"an answer from {url}"))


def records(answer: Obj, rtype: str) -> list[str]:
    """rdata of the answer records of one type (`name. ttl IN TYPE rdata`)."""
    out = []
    for rr in answer["answer"]:
        fields = rr.split()
        if len(fields) >= 5 and fields[3] == rtype:
            out.append(fields[4])
    return out


def pod_log(env: Environment, pod: str, namespace: str = "default", container: str | None = None) -> str:
    return b"".join(env.logs(pod, container, namespace, tail=50)).decode(errors="replace")


def pods_named(env: Environment, prefix: str, namespace: str = "default") -> list[Obj]:
    return [p for p in env.get("pods", namespace=namespace)
            if p["metadata"]["name"].startswith(prefix) and not p["metadata"].get("deletionTimestamp")]


def exec_in(env: Environment, pod: str, namespace: str, code: str) -> tuple[int, str]:
    cid = env.container_id(pod, None, namespace)
    result = env.docker.containers.get(cid).exec_run(["python3", "-c", code])
    return result.exit_code, result.output.decode(errors="replace")


ECHO = ("import socket; s = socket.create_connection(({host!r}, 5432), timeout=3); "
        "s.sendall(b'hello postgres\\n'); print(s.recv(100).decode(), end='')")


# ---- service-types ------------------------------------------------------------------------------

def test_service_types_each_type_behaves_as_the_readme_says(env: Environment, tmp_path: Path) -> None:
    node_port = free_port()
    lb_port = free_port(20000, 29999)

    def edit(doc: Obj) -> None:
        for port in service_ports(doc, "web-nodeport"):
            assert port["nodePort"] == 30080
            port["nodePort"] = node_port
        for port in service_ports(doc, "web-lb"):
            assert port["port"] == 8080
            port["port"] = lb_port

    manifests = copy_manifests(EXAMPLES / "service-types", tmp_path / "service-types", edit)
    env.up([manifests], wait=120)

    services = {s["metadata"]["name"]: s for s in env.get("svc")}
    assert {n: s["spec"].get("type", "ClusterIP") for n, s in services.items()} == {
        "kubernetes": "ClusterIP", "web": "ClusterIP", "web-nodeport": "NodePort",
        "web-lb": "LoadBalancer", "web-headless": "ClusterIP", "web-alias": "ExternalName"}
    assert services["web-headless"]["spec"]["clusterIP"] == "None"
    assert "clusterIP" not in services["web-alias"]["spec"]
    web_ip = services["web"]["spec"]["clusterIP"]
    pod_ips = {p["status"]["podIP"] for p in pods_named(env, "web-")}
    assert len(pod_ips) == 2

    # `localsvc get svc` as shown in the README: LoadBalancer EXTERNAL-IP and the NodePort.
    table = localsvc(env, "get", "svc").stdout
    assert re.search(rf"web-lb +LoadBalancer +\S+ +127\.0\.0\.1 +{lb_port}:\d+/TCP", table), table
    assert re.search(rf"web-nodeport +NodePort +\S+ +<none> +80:{node_port}/TCP", table), table

    # NodePort and LoadBalancer from the host (`curl http://127.0.0.1:30080/`, `:8080/`).
    assert eventually_get(f"http://127.0.0.1:{node_port}/").startswith("hello from web-")
    assert eventually_get(f"http://127.0.0.1:{lb_port}/").startswith("hello from web-")
    assert localsvc(env, "url", "svc/web-nodeport").stdout.strip() == f"http://127.0.0.1:{node_port}"
    assert env.service_url("web-lb") == f"http://127.0.0.1:{lb_port}"

    # ClusterIP through a port-forward (what `localsvc port-forward svc/web 9000:80` does).
    forwarded = env.service_url("web", 80)
    assert get(forwarded).startswith("hello from web-")

    # Headless: one A record per ready pod, the pods' own IPs.
    headless = wait_for(lambda: set(records(env.dns("web-headless.default.svc.cluster.local"), "A"))
                        == pod_ips, timeout=10, what="headless A records = pod IPs")
    assert headless

    # ExternalName: a CNAME to web, then web's ClusterIP.
    alias = env.dns("web-alias.default.svc.cluster.local")
    assert alias["rcode"] == "NOERROR"
    assert records(alias, "CNAME") == ["web.default.svc.cluster.local."]
    assert records(alias, "A") == [web_ip]

    # The client pod calls http://web/ and gets answers from the web pods; http://web-alias/
    # works from a pod too.
    wait_for(lambda: "hello from web-" in pod_log(env, "client"), timeout=20,
             what="client logs showing answers from web pods")
    code, out = exec_in(env, "client", "default",
                        "import urllib.request; print(urllib.request.urlopen('http://web-alias/', "
                        "timeout=3).read().decode())")
    assert code == 0 and out.startswith("hello from web-"), out


# ---- cross-namespace ----------------------------------------------------------------------------

def test_cross_namespace_names_and_external_name_alias(env: Environment) -> None:
    report = env.up([EXAMPLES / "cross-namespace"], wait=120)
    assert not report.warnings, report.warnings  # every namespace is declared

    for host in ("database", "db.data.svc.cluster.local"):
        code, out = exec_in(env, "checker", "api", ECHO.format(host=host))
        assert code == 0 and out == "hello postgres\n", (host, out)
    # The other namespace's short name does not resolve, as in a cluster.
    code, out = exec_in(env, "checker", "api", "import socket; socket.gethostbyname('db')")
    assert code != 0 and "Name or service not known" in out, out

    alias = env.dns("database.api.svc.cluster.local")
    assert records(alias, "CNAME") == ["db.data.svc.cluster.local."]
    assert records(alias, "A") == [env.get("svc", "db", "data")[0]["spec"]["clusterIP"]]

    frontend = pods_named(env, "frontend-", "web")
    assert len(frontend) == 1
    name = frontend[0]["metadata"]["name"]
    wait_for(lambda: "hello from backend-" in pod_log(env, name, "web"), timeout=20,
             what="frontend logs showing answers from backend pods")


# ---- from-compose -------------------------------------------------------------------------------

def test_from_compose_manifests_run_the_compose_application(env: Environment, tmp_path: Path) -> None:
    compose = yaml.safe_load((EXAMPLES / "from-compose" / "docker-compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"web", "api", "store", "db"}
    # The database's data is a named volume on both sides: compose's db-data, the StatefulSet's
    # claim template (k8s/db.yaml), mounted at the same path.
    assert compose["volumes"] == {"db-data": None}
    assert services["db"]["volumes"] == ["db-data:/var/lib/postgresql/data"]
    assert services["web"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert services["api"]["deploy"]["replicas"] == 2
    healthcheck = services["api"]["healthcheck"]["test"]

    lb_port = free_port(20000, 29999)

    def edit(doc: Obj) -> None:
        for port in service_ports(doc, "api"):
            assert doc["spec"]["type"] == "LoadBalancer" and port["port"] == 8080
            port["port"] = lb_port
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "web":
            # The Service port is also the port pods call (http://api:8080/): move it too.
            spec = doc["spec"]["template"]["spec"]
            for container in spec.get("initContainers", []) + spec["containers"]:
                for key in ("command", "args"):
                    if key in container:
                        container[key] = [a.replace("api:8080", f"api:{lb_port}") for a in container[key]]

    manifests = copy_manifests(EXAMPLES / "from-compose" / "k8s", tmp_path / "k8s", edit)
    env.up([manifests], wait=120)

    api_pods = pods_named(env, "api-")
    assert len(api_pods) == 2
    web = pods_named(env, "web-")
    assert len(web) == 1
    wait_for(lambda: "hello from api-" in pod_log(env, web[0]["metadata"]["name"]), timeout=20,
             what="web logs showing answers from api pods")
    assert env.service_url("api") == f"http://127.0.0.1:{lb_port}"
    assert eventually_get(f"http://127.0.0.1:{lb_port}/").startswith("hello from api-")

    # The compose healthcheck command works in the demo image (exit 0 against a running api).
    assert healthcheck[0] == "CMD"
    cid = env.container_id(api_pods[0]["metadata"]["name"])
    result = env.docker.containers.get(cid).exec_run(healthcheck[1:])
    assert result.exit_code == 0, result.output.decode(errors="replace")


# ---- dev-loop -----------------------------------------------------------------------------------

def test_dev_loop_manifests_and_project_file_validate() -> None:
    loaded = load_manifests([EXAMPLES / "dev-loop" / "k8s"])
    kinds = sorted((m.kind, m.name) for m in loaded.manifests)
    assert kinds == [("Deployment", "app"), ("Service", "app")]
    for name in ("service-types", "cross-namespace", "from-compose/k8s"):
        load_manifests([EXAMPLES / name])

    from localsvc.model.project import load_project

    project = load_project(EXAMPLES / "dev-loop" / "localsvc.yaml")
    assert project.environment == "dev-loop"
    [image] = project.images
    assert image.name == "dev-loop/app:dev" and image.context == EXAMPLES / "dev-loop" / "app"
    static = EXAMPLES / "dev-loop" / "app" / "static"
    assert [(r.src, r.dest) for r in image.sync] == [(static, "/app/static")]
