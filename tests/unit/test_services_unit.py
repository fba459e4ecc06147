"""node/services.py without Docker: ClusterIP tables, the snapshot of stored objects, the
Service as a cluster returns it, and the Endpoints/EndpointSlices derived from the snapshot."""

from __future__ import annotations

from typing import Any

from localsvc.model.endpoints import PodView
from localsvc.node import services as svc

Obj = dict[str, Any]
RANGE = "10.9.128.0/17"


def service(name: str, *, selector: dict[str, str] | None = None, type_: str = "ClusterIP",
            cluster_ip: str | None = None, uid: str = "") -> Obj:
    spec: Obj = {"type": type_, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    if selector:
        spec["selector"] = selector
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    meta: Obj = {"name": name, "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"}
    if uid:
        meta["uid"] = uid
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}


def pod(name: str, ip: str, ready: bool, labels: dict[str, str]) -> PodView:
    obj = {"kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": labels},
           "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 8080}]}]}}
    return PodView(obj, ip, ready)


def test_service_key_is_namespace_slash_name_with_default_namespace() -> None:
    assert svc.service_key(service("web")) == "default/web"
    assert svc.service_key({"metadata": {"name": "x"}}) == "default/x"


def test_cluster_ips_are_allocated_kept_and_none_for_headless() -> None:
    services = [service("a"), service("h", cluster_ip="None"), service("fixed",
                                                                      cluster_ip="10.9.128.77")]
    ips, problems = svc.allocate_cluster_ips(services, {}, {}, RANGE)
    assert problems == []
    assert "default/h" not in ips and ips["default/fixed"] == "10.9.128.77"
    again, _ = svc.allocate_cluster_ips(services, {}, ips, RANGE)
    assert again == ips  # stable across applies


def test_a_taken_cluster_ip_is_a_problem_naming_the_file() -> None:
    services = [service("a", cluster_ip="10.9.128.77"), service("b", cluster_ip="10.9.128.77")]
    sources = {"Service/default/b": {"file": "b.yaml", "line": 7}}
    _, problems = svc.allocate_cluster_ips(services, sources, {}, RANGE)
    assert len(problems) == 1 and "b.yaml" in str(problems[0]) and "7" in str(problems[0])


def test_snapshot_has_kube_dns_and_ready_pods_as_endpoints() -> None:
    objects = {"Service/default/web": service("web", selector={"app": "web"})}
    pods = [pod("p1", "10.9.0.7", True, {"app": "web"}), pod("p2", "10.9.0.8", False,
                                                             {"app": "web"}),
            pod("other", "10.9.0.9", True, {"app": "db"})]
    snapshot, problems = svc.checked_snapshot(objects, {"default/web": "10.9.128.5"}, pods,
                                              "cluster.local", "10.9.128.10", "10.9.0.2")
    assert problems == []
    names = [(s.namespace, s.name) for s in snapshot.services]
    assert names == [("kube-system", "kube-dns"), ("default", "web")]
    web = snapshot.services[1]
    assert web.cluster_ip == "10.9.128.5"
    assert [(e.ip, e.ready) for e in web.endpoints] == [("10.9.0.7", True), ("10.9.0.8", False)]
    assert {p.name for p in snapshot.pods} == {"p1", "p2", "other"}


def test_a_malformed_stored_service_is_reported_and_the_others_served() -> None:
    objects = {"Service/default/web": service("web", selector={"app": "web"}),
               "Service/default/bad": {"kind": "Service", "metadata": {"name": "bad"},
                                       "spec": {"ports": "not a list"}}}
    snapshot, problems = svc.checked_snapshot(objects, {"default/web": "10.9.128.5"}, [],
                                              "cluster.local", "10.9.128.10", "10.9.0.2")
    assert [s.name for s in snapshot.services] == ["kube-dns", "web"]
    assert [p.object for p in problems] == ["Service/default/bad"]


def test_service_object_fills_allocations_and_status_on_the_stored_defaults() -> None:
    from localsvc.model.defaults import with_defaults

    out = svc.service_object(with_defaults(service("lb", type_="LoadBalancer")), "10.9.128.5",
                             {"80/TCP": 30080}, ingress_ip="127.0.0.1")
    assert out["spec"]["clusterIP"] == "10.9.128.5" and out["spec"]["clusterIPs"] == [
        "10.9.128.5"]
    assert out["spec"]["ports"][0]["nodePort"] == 30080
    assert out["spec"]["ports"][0]["protocol"] == "TCP"
    assert out["spec"]["externalTrafficPolicy"] == "Cluster"
    assert out["status"]["loadBalancer"]["ingress"] == [{"ip": "127.0.0.1", "ipMode": "VIP"}]
    pending = svc.service_object(service("lb", type_="LoadBalancer"), "10.9.128.5",
                                 pending="port 80 is held by default/other")
    assert pending["status"]["conditions"][0]["message"] == "port 80 is held by default/other"
    headless = svc.service_object(service("h", cluster_ip="None"), None)
    assert headless["spec"]["clusterIP"] == "None"


def test_derived_endpoint_slices_are_owned_by_their_service() -> None:
    web = service("web", selector={"app": "web"}, uid="u-web")
    objects = {"Service/default/web": web}
    snapshot, _ = svc.checked_snapshot(objects, {"default/web": "10.9.128.5"},
                                       [pod("p1", "10.9.0.7", True, {"app": "web"})],
                                       "cluster.local", "10.9.128.10", "10.9.0.2")
    created = {"default/web": "2026-01-01T00:00:00Z"}
    slices = [s for s in svc.endpoint_slices_view(snapshot, objects, created)
              if s["metadata"]["namespace"] == "default"]
    assert len(slices) == 1
    assert slices[0]["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "u-web",
         "controller": True, "blockOwnerDeletion": True}]
    kube_dns = [s for s in svc.endpoint_slices_view(snapshot, objects, created)
                if s["metadata"]["namespace"] == "kube-system"]
    assert [r.get("uid") for s in kube_dns for r in s["metadata"]["ownerReferences"]] == [None]
    endpoints = {e["metadata"]["name"]: e for e in svc.endpoints_view(snapshot, objects, created)}
    assert [a["ip"] for a in endpoints["web"]["subsets"][0]["addresses"]] == ["10.9.0.7"]


def test_dataplane_view_gives_kube_dns_no_endpoints() -> None:
    snapshot, _ = svc.checked_snapshot({}, {}, [], "cluster.local", "10.9.128.10", "10.9.0.2")
    view = svc.dataplane_view(snapshot)
    assert view.services[0].name == "kube-dns" and view.services[0].endpoints == ()
    assert view.services[0].cluster_ip == "10.9.128.10"
