"""Tests of localsvc.host.output (tables, `get` rendering) and localsvc.host.api.pod_reason."""

from __future__ import annotations

import json
from calendar import timegm
from typing import Any

import pytest
import yaml

from localsvc.host import output
from localsvc.host.api import pod_reason
from localsvc.host.output import render, render_one, table

Obj = dict[str, Any]
T0 = "2024-05-01T12:00:00Z"
NOW0 = float(timegm((2024, 5, 1, 12, 0, 0, 0, 0, 0)))


def test_table_alignment() -> None:
    rows = [["NAME", "READY", "STATUS"], ["a-long-name", "1/1", "Running"], ["b", "0/1", ""]]
    assert table(rows) == (
        "NAME          READY   STATUS\n"
        "a-long-name   1/1     Running\n"
        "b             0/1"  # trailing spaces stripped
    )
    assert table([]) == ""


@pytest.fixture
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output.time, "time", lambda: NOW0 + 90)


def svc(name: str, spec: Obj, status: Obj | None = None, namespace: str = "default") -> Obj:
    return {"metadata": {"name": name, "namespace": namespace, "creationTimestamp": T0},
            "spec": spec, "status": status or {}}


SERVICES = [
    svc("web", {"type": "ClusterIP", "clusterIP": "10.96.0.20", "selector": {"app": "web"},
                "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}),
    svc("node", {"type": "NodePort", "clusterIP": "10.96.0.21",
                 "ports": [{"port": 80, "nodePort": 30080}]}),
    svc("lb", {"type": "LoadBalancer", "clusterIP": "10.96.0.22",
               "ports": [{"port": 443, "nodePort": 30443, "protocol": "TCP"}]}),
    svc("lb-up", {"type": "LoadBalancer", "clusterIP": "10.96.0.23", "ports": [{"port": 80, "nodePort": 30081}]},
        {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"}]}}),
    svc("ext", {"type": "ExternalName", "externalName": "db.example.com"}),
    svc("headless", {"clusterIP": "None", "ports": [{"port": 5432}], "externalIPs": ["192.168.1.5"]}),
]


def test_render_services(fixed_now: None) -> None:
    assert render("Service", SERVICES, None, False) == (
        "NAME       TYPE           CLUSTER-IP   EXTERNAL-IP      PORT(S)         AGE\n"
        "web        ClusterIP      10.96.0.20   <none>           80/TCP,53/UDP   90s\n"
        "node       NodePort       10.96.0.21   <none>           80:30080/TCP    90s\n"
        "lb         LoadBalancer   10.96.0.22   <pending>        443:30443/TCP   90s\n"
        "lb-up      LoadBalancer   10.96.0.23   127.0.0.1        80:30081/TCP    90s\n"
        "ext        ExternalName   <none>       db.example.com   <none>          90s\n"
        "headless   ClusterIP      None         192.168.1.5      5432/TCP        90s"
    )


def test_render_services_wide_shows_selector(fixed_now: None) -> None:
    lines = render("Service", SERVICES[:2], "wide", False).splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    assert lines[1].split()[-1] == "app=web"
    assert lines[2].split()[-1] == "<none>"


def pod(name: str, status: Obj, namespace: str = "default", **meta: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": namespace, "creationTimestamp": T0, **meta},
            "spec": {"containers": [{"name": "c"}]}, "status": status}


RUNNING = {"phase": "Running", "podIP": "10.0.0.5", "containerStatuses": [
    {"name": "c", "ready": True, "restartCount": 2, "state": {"running": {}}},
    {"name": "d", "ready": False, "restartCount": 1, "state": {"running": {}}},
]}
PENDING = {"phase": "Pending", "containerStatuses": [
    {"name": "c", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}


def test_render_pods(fixed_now: None) -> None:
    pods = [pod("web-1", RUNNING), pod("web-2", PENDING)]
    assert render("Pod", pods, None, False) == (
        "NAME    READY   STATUS              RESTARTS   AGE\n"
        "web-1   1/1     Running             3          90s\n"
        "web-2   0/1     ContainerCreating   0          90s"
    )
    # -o wide: the columns kubectl prints against a cluster (the API server's Table).
    wide = render("Pod", pods, "wide", False).splitlines()
    assert wide[0].split()[-6:] == ["IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"]
    assert wide[1].split()[-4:] == ["10.0.0.5", "<none>", "<none>", "<none>"]  # no nodeName
    assert wide[2].split()[-4:] == ["<none>", "<none>", "<none>", "<none>"]


def test_render_all_namespaces_adds_namespace_column(fixed_now: None) -> None:
    pods = [pod("a", RUNNING, namespace="shop"), pod("b", PENDING, namespace="default")]
    lines = render("Pod", pods, None, True).splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert lines[1].startswith("shop        a ")
    assert lines[2].split()[:2] == ["default", "b"]
    namespaces = [{"metadata": {"name": "default", "creationTimestamp": T0},
                   "status": {"phase": "Active"}}]
    assert render("Namespace", namespaces, None, True) == "NAME      STATUS   AGE\ndefault   Active   90s"
    # Cluster-scoped kinds have no NAMESPACE column, as with kubectl -A.
    volume = {"metadata": {"name": "pvc-1", "creationTimestamp": T0},
              "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}}
    assert render("PersistentVolume", [volume], None, True).splitlines()[0].split()[:2] == [
        "NAME", "CAPACITY"]


def test_render_other_kinds(fixed_now: None) -> None:
    dep = {"metadata": {"name": "web", "creationTimestamp": T0}, "spec": {"replicas": 3},
           "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    assert render("Deployment", [dep], None, False).splitlines()[1].split() == ["web", "2/3", "3", "2", "90s"]
    ep = {"metadata": {"name": "web", "creationTimestamp": T0}, "subsets": [
        {"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 4)], "ports": [{"port": 80}, {"port": 81}]}]}
    assert render("Endpoints", [ep], None, False).splitlines()[1].split() == [
        "web", "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80", "+", "3", "more...", "90s"]
    empty_ep = {"metadata": {"name": "none"}}
    assert render("Endpoints", [empty_ep], None, False).splitlines()[1].split() == ["none", "<none>", "<unknown>"]
    cm = {"metadata": {"name": "cfg", "creationTimestamp": T0}, "data": {"a": "1"}, "binaryData": {"b": "AA=="}}
    assert render("ConfigMap", [cm], None, False).splitlines()[1].split() == ["cfg", "2", "90s"]
    secret = {"metadata": {"name": "s", "creationTimestamp": T0}, "type": "Opaque",
              "data": {"a": "MQ=="}}
    assert render("Secret", [secret], None, False).splitlines()[1].split() == ["s", "Opaque", "1", "90s"]


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_render_list_formats(fmt: str) -> None:
    items = [SERVICES[0]]
    text = render("Service", items, fmt, False)
    data = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    assert data["kind"] == "List" and data["apiVersion"] == "v1"
    assert data["items"] == items
    one = render_one(items[0], fmt)
    assert (json.loads(one) if fmt == "json" else yaml.safe_load(one)) == items[0]


def test_render_names() -> None:
    assert render("Service", SERVICES[:2], "name", False) == "service/web\nservice/node"


# ---- pod_reason --------------------------------------------------------------------------------


def _status(phase: str, containers: list[Obj] | None = None, inits: list[Obj] | None = None, **extra: Any) -> Obj:
    status: Obj = {"phase": phase, **extra}
    if containers is not None:
        status["containerStatuses"] = containers
    if inits is not None:
        status["initContainerStatuses"] = inits
    return status


def c(state: Obj) -> Obj:
    return {"name": "c", "state": state}


WAIT_INIT = {"waiting": {"reason": "PodInitializing"}}
DONE = {"terminated": {"exitCode": 0, "reason": "Completed"}}


@pytest.mark.parametrize(
    ("status", "meta", "reason"),
    [
        (_status("Running", [c({"running": {}})]), {}, "Running"),
        (_status("Running", [c({"running": {}})]), {"deletionTimestamp": T0}, "Terminating"),
        (_status("Pending"), {}, "Pending"),
        (_status("Pending", [c({"waiting": {"reason": "ContainerCreating"}})]), {}, "ContainerCreating"),
        (_status("Pending", [c({"waiting": {"reason": "ErrImagePull"}})]), {}, "ErrImagePull"),
        (_status("Running", [c({"waiting": {"reason": "CrashLoopBackOff"}})]), {}, "CrashLoopBackOff"),
        (_status("Pending", [c({"waiting": {"reason": "CreateContainerConfigError"}})]), {},
         "CreateContainerConfigError"),
        (_status("Running", [c({"terminated": {"exitCode": 1, "reason": "Error"}})]), {}, "Error"),
        (_status("Running", [c({"terminated": {"exitCode": 137}})]), {}, "Error"),
        (_status("Running", [c({"terminated": {"exitCode": 137, "reason": "OOMKilled"}})]), {}, "OOMKilled"),
        (_status("Succeeded", [c(DONE)]), {}, "Completed"),
        (_status("Failed", [c({"terminated": {"exitCode": 1, "reason": "Error"}})]), {}, "Error"),
        (_status("Failed", [], reason="Evicted"), {}, "Evicted"),
        # init containers
        (_status("Pending", [c(WAIT_INIT)], [c({"running": {}})]), {}, "Init:0/1"),
        (_status("Pending", [c(WAIT_INIT)], [c({"waiting": {"reason": "ContainerCreating"}})]), {}, "Init:0/1"),
        (_status("Pending", [c(WAIT_INIT)], [c(DONE), c({"running": {}})]), {}, "Init:1/2"),
        (_status("Pending", [c(WAIT_INIT)], [c({"waiting": {"reason": "CrashLoopBackOff"}})]), {},
         "Init:CrashLoopBackOff"),
        (_status("Pending", [c(WAIT_INIT)], [c({"waiting": {"reason": "ErrImagePull"}})]), {}, "Init:ErrImagePull"),
        (_status("Running", [c({"running": {}})], [c(DONE)]), {}, "Running"),
        (_status("Pending", [c(WAIT_INIT)], [c(WAIT_INIT)]), {"deletionTimestamp": T0}, "Terminating"),
    ],
)
def test_pod_reason(status: Obj, meta: Obj, reason: str) -> None:
    assert pod_reason({"metadata": {"name": "p", **meta}, "status": status}) == reason


def test_pod_reason_failed_init_container() -> None:
    status = _status("Failed", [c(WAIT_INIT)], [c({"terminated": {"exitCode": 1, "reason": "Error"}})])
    assert pod_reason({"metadata": {"name": "p"}, "status": status}) == "Init:Error"


# ---- get output forms (issue 9) ------------------------------------------------------------

from localsvc.host.commands.get import Format, Found, format_get  # noqa: E402
from localsvc.host.output import render_list, resource_name  # noqa: E402


def test_empty_list_json_and_yaml_as_kubectl_prints_them() -> None:
    """Regression: `get deployments -A -o json` with no objects printed nothing."""
    out, note = format_get(Found([("Deployment", [])]), Format("json", all_namespaces=True))
    assert note is None
    assert out == ('{\n    "apiVersion": "v1",\n    "items": [],\n    "kind": "List",\n'
                   '    "metadata": {\n        "resourceVersion": ""\n    }\n}')
    out, note = format_get(Found([("Deployment", [])]), Format("yaml", all_namespaces=True))
    assert out == 'apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: \'\''
    assert yaml.safe_load(out) == json.loads(render_list([], "json"))


def test_empty_table_says_no_resources_found_and_name_prints_nothing() -> None:
    assert format_get(Found([("Pod", [])]), Format(None, namespace="shop")) == (
        None, "No resources found in shop namespace.")
    assert format_get(Found([("Pod", [])]), Format("wide", all_namespaces=True)) == (
        None, "No resources found.")
    assert format_get(Found([("Pod", [])]), Format("name")) == (None, None)
    assert format_get(Found([("Namespace", [])]), Format(None, namespace="shop")) == (
        None, "No resources found.")  # cluster-scoped: no namespace to name


def test_resource_names_spelled_as_kubectl() -> None:
    assert resource_name("Pod", "web-x") == "pod/web-x"
    assert resource_name("Deployment", "web") == "deployment.apps/web"
    assert resource_name("Service", "web") == "service/web"
    assert resource_name("EndpointSlice", "s") == "endpointslice.discovery.k8s.io/s"
    dep = {"metadata": {"name": "web"}}
    out, _ = format_get(Found([("Pod", [{"metadata": {"name": "p"}}]), ("Deployment", [dep])]),
                        Format("name"))
    assert out == "pod/p\ndeployment.apps/web"


def test_several_kinds_are_tables_with_kind_prefixed_names(fixed_now: None) -> None:
    dep = {"metadata": {"name": "web", "creationTimestamp": T0, "labels": {"app": "web"}},
           "spec": {"replicas": 1}, "status": {"readyReplicas": 1}}
    found = Found([("Service", SERVICES[:1]), ("Deployment", [dep])])
    out, note = format_get(found, Format(None, show_kind=True))
    assert note is None and out is not None
    service_table, deployment_table = out.split("\n\n")
    assert service_table.splitlines()[1].startswith("service/web ")
    assert deployment_table.splitlines()[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert deployment_table.splitlines()[1].startswith("deployment.apps/web ")


def test_no_headers_and_show_labels(fixed_now: None) -> None:
    dep = {"metadata": {"name": "web", "creationTimestamp": T0, "labels": {"app": "web", "t": "1"}},
           "spec": {"replicas": 1}, "status": {}}
    bare = {"metadata": {"name": "bare", "creationTimestamp": T0}, "spec": {}, "status": {}}
    text = render("Deployment", [dep, bare], None, False, no_headers=True, show_labels=True)
    lines = text.splitlines()
    assert len(lines) == 2 and lines[0].split()[-1] == "app=web,t=1" and lines[1].split()[-1] == "<none>"
    head = render("Deployment", [dep], None, True, show_labels=True).splitlines()[0].split()
    assert head[0] == "NAMESPACE" and head[-1] == "LABELS"


def test_one_named_object_prints_the_object_several_a_list() -> None:
    obj = {"kind": "Service", "metadata": {"name": "a"}}
    out, _ = format_get(Found([("Service", [obj])]), Format("json", single=True))
    assert json.loads(out or "") == obj
    out, _ = format_get(Found([("Service", [obj, obj])]), Format("json"))
    assert json.loads(out or "")["kind"] == "List"
