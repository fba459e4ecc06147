"""The network Snapshot derived from the store's published objects equals the one the
controller's builder makes from its tables, over several fixtures, in full and per event."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from localsvc.model.endpoints import PodView
from localsvc.model.snapshot import Snapshot
from localsvc.model.storesnapshot import StoreSnapshot
from localsvc.model.views import pod_object, service_object
from localsvc.node import services as svc

Obj = dict[str, Any]
DOMAIN, DNS_IP, NODE_IP = "cluster.local", "10.96.0.10", "172.30.0.1"


def _service(name: str, ns: str = "default", **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": spec}


def _pod(name: str, labels: dict[str, str], ns: str = "default", ports: list[Obj] | None = None,
         **spec: Any) -> Obj:
    container = {"name": "c", "image": "x", "ports": ports or []}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels, "uid": f"u-{name}"},
            "spec": {"containers": [container], **spec}}


def _key(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{obj['kind']}/{meta.get('namespace', 'default')}/{meta['name']}"


WEB = _service("web", selector={"app": "web"}, ports=[
    {"name": "http", "port": 80, "targetPort": "http"}, {"name": "admin", "port": 9000}])
HEADLESS = _service("db", clusterIP="None", selector={"app": "db"}, ports=[{"port": 5432}])
EXTERNAL = _service("ext", type="ExternalName", externalName="example.test")
NODEPORT = _service("np", "other", type="NodePort", selector={"app": "np"},
                    sessionAffinity="ClientIP", ports=[{"port": 8080, "targetPort": 80}])
MANUAL = _service("manual", ports=[{"name": "a", "port": 81}, {"name": "b", "port": 82}])
MANUAL_ENDPOINTS = {"apiVersion": "v1", "kind": "Endpoints",
                    "metadata": {"name": "manual", "namespace": "default"},
                    "subsets": [{"addresses": [{"ip": "10.1.0.9", "hostname": "m"}],
                                 "notReadyAddresses": [{"ip": "10.1.0.8"}],
                                 "ports": [{"name": "a", "port": 1081}]},
                                {"addresses": [{"ip": "10.1.0.9"}],
                                 "ports": [{"name": "b", "port": 1082}]}]}
SLICED = _service("sliced", ports=[{"port": 90}])
USER_SLICE = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": "sliced-x", "namespace": "default",
                           "labels": {"kubernetes.io/service-name": "sliced"}},
              "addressType": "IPv4", "ports": [{"port": 9090}],
              "endpoints": [{"addresses": ["10.1.0.7"], "conditions": {"ready": False}},
                            {"addresses": ["10.1.0.6"]}]}
PUBLISH = _service("all", selector={"app": "web"}, publishNotReadyAddresses=True,
                   ports=[{"name": "http", "port": 80, "targetPort": "http"}])

PODS = [
    PodView(_pod("web-1", {"app": "web"}, ports=[{"name": "http", "containerPort": 8080}],
                 hostname="h1", subdomain="web"), "10.1.0.2", True),
    PodView(_pod("web-2", {"app": "web"}, ports=[{"name": "http", "containerPort": 8081}]),
            "10.1.0.3", False),
    PodView(_pod("web-3", {"app": "web"}), "10.1.0.4", True),  # no "http" port
    PodView(_pod("web-4", {"app": "web"}), "10.1.0.5", True, terminating=True),
    PodView(_pod("db-0", {"app": "db"}, hostname="db-0", subdomain="db"), "10.1.0.10", True),
    PodView(_pod("np-1", {"app": "np"}, "other"), "10.1.0.11", True),
    PodView(_pod("pending", {"app": "web"}), "", False),
]

FIXTURES: dict[str, tuple[list[Obj], list[PodView]]] = {
    "empty": ([], []),
    "selector services": ([WEB, HEADLESS, NODEPORT, PUBLISH], PODS),
    "no pods": ([WEB, HEADLESS, EXTERNAL], []),
    "objects backed": ([MANUAL, MANUAL_ENDPOINTS, SLICED, USER_SLICE, EXTERNAL], PODS[:2]),
    "everything": ([WEB, HEADLESS, EXTERNAL, NODEPORT, MANUAL, MANUAL_ENDPOINTS, SLICED,
                    USER_SLICE, PUBLISH], PODS),
}
ALLOCATIONS = {"default/web": "10.96.0.20", "other/np": "10.96.0.21",
               "default/manual": "10.96.0.22", "default/sliced": "10.96.0.23",
               "default/all": "10.96.0.24"}
NODE_PORTS = {"other/np": {"8080/TCP": 30080}}


def _old(objects: dict[str, Obj], pods: list[PodView]) -> Snapshot:
    snapshot, problems = svc.checked_snapshot(objects, ALLOCATIONS, pods, DOMAIN, DNS_IP,
                                              NODE_IP, NODE_PORTS)
    assert problems == []
    return snapshot


def _published(objects: dict[str, Obj], pods: list[PodView]) -> dict[str, Obj]:
    """What the controller publishes into the store for these tables (node/publish.py)."""
    old = _old(objects, pods)
    out: dict[str, Obj] = {}
    for key, obj in objects.items():
        if obj["kind"] == "Service":
            name = svc.service_key(obj)
            out[key] = service_object(obj, ALLOCATIONS.get(name), NODE_PORTS.get(name))
    out["Service/kube-system/kube-dns"] = svc.kube_dns_object(DNS_IP, "t")
    for made in svc.endpoint_slices_view(old, objects, {}):
        out[_key(made)] = made
    for view in pods:
        status = {"phase": "Running", "podIP": view.ip or None}
        out[_key(view.obj)] = pod_object(view.obj, status, 1.0 if view.terminating else None)
    return out


def _derived(store: dict[str, Obj]) -> Snapshot:
    derived = StoreSnapshot(DOMAIN, DNS_IP, NODE_IP, svc.kube_dns_info(DNS_IP, NODE_IP))
    derived.relist(store)
    snapshot, problems = derived.snapshot()
    assert problems == []
    return snapshot


@pytest.mark.parametrize("name", list(FIXTURES))
def test_store_snapshot_equals_the_builders(name: str) -> None:
    applied, pods = FIXTURES[name]
    objects = {_key(o): o for o in applied}
    assert _derived(_published(objects, pods)) == _old(objects, pods)


@pytest.mark.parametrize("name", list(FIXTURES))
def test_per_event_updates_equal_a_fresh_derivation(name: str) -> None:
    """Events (ADDED one by one, a pod MODIFIED, a Service DELETED) leave the kept snapshot
    equal to the builder's for the resulting objects."""
    applied, pods = FIXTURES[name]
    objects = {_key(o): o for o in applied}
    derived = StoreSnapshot(DOMAIN, DNS_IP, NODE_IP, svc.kube_dns_info(DNS_IP, NODE_IP))
    derived.relist({})
    current = _published(objects, pods)
    for key, obj in current.items():
        derived.apply({key: obj})
    assert derived.snapshot()[0] == _old(objects, pods)

    def move_to(after: dict[str, Obj]) -> None:
        nonlocal current
        derived.apply({k: after.get(k) for k in current.keys() | after.keys()
                       if current.get(k) != after.get(k)})
        current = after

    if pods:  # the first pod flips its readiness
        pods = [PodView(pods[0].obj, pods[0].ip, not pods[0].ready), *pods[1:]]
        move_to(_published(objects, pods))
        assert derived.snapshot()[0] == _old(objects, pods)
    services = [k for k in objects if k.startswith("Service/")]
    if services:  # the last Service goes away, with its slices
        objects = {k: v for k, v in objects.items() if k != services[-1]}
        move_to(_published(objects, pods))
        assert derived.snapshot()[0] == _old(objects, pods)


def test_a_pod_event_rederives_no_service() -> None:
    """A pod's own change (its DNS record) touches no Service entry: the entries are the same
    objects as before."""
    objects = {_key(o): o for o in (WEB, HEADLESS)}
    store = _published(objects, PODS)
    derived = StoreSnapshot(DOMAIN, DNS_IP, NODE_IP, svc.kube_dns_info(DNS_IP, NODE_IP))
    derived.relist(store)
    services = derived.snapshot()[0].services
    pod = copy.deepcopy(store["Pod/default/db-0"])
    pod["status"]["podIP"] = "10.1.0.99"
    derived.apply({"Pod/default/db-0": pod})
    snapshot = derived.snapshot()[0]
    assert all(a is b for a, b in zip(snapshot.services, services, strict=True))
    assert [p.ip for p in snapshot.pods if p.name == "db-0"] == ["10.1.0.99"]


def test_a_malformed_stored_service_is_unserved_and_the_others_are_served() -> None:
    derived = StoreSnapshot(DOMAIN, DNS_IP, NODE_IP, svc.kube_dns_info(DNS_IP, NODE_IP))
    bad = _service("bad", ports=[{"name": "p"}])  # no port number
    derived.relist({"Service/default/bad": bad,
                    "Service/default/web": service_object(WEB, "10.96.0.20")})
    snapshot, problems = derived.snapshot()
    assert [s.name for s in snapshot.services] == ["kube-dns", "web"]
    assert [p.object for p in problems] == ["Service/default/bad"]
    assert "KeyError('port')" in problems[0].message
