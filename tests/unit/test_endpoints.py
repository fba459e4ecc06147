"""Tests of localsvc.model.endpoints: which addresses serve a Service, the Endpoints and
EndpointSlice views of them, and the Service environment variables."""

from __future__ import annotations

from typing import Any

import pytest

from localsvc.model.endpoints import (
    PodView,
    endpoint_slices,
    endpoints_object,
    pod_infos,
    resolve_target_port,
    selector_matches,
    service_env,
    service_info,
)
from localsvc.model.snapshot import Endpoint, PodInfo, ServiceInfo, ServicePort

Obj = dict[str, Any]


def svc(name: str = "web", namespace: str = "default", **spec: Any) -> Obj:
    spec.setdefault("ports", [{"port": 80}])
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def pod_view(
    name: str,
    ip: str = "10.0.0.5",
    ready: bool = True,
    labels: dict[str, str] | None = None,
    namespace: str = "default",
    ports: list[Obj] | None = None,
    terminating: bool = False,
    **spec: Any,
) -> PodView:
    obj = {
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "web"} if labels is None else labels},
        "spec": {"containers": [{"name": "c", "image": "x", "ports": ports or []}], **spec},
    }
    return PodView(obj=obj, ip=ip, ready=ready, terminating=terminating)


# ---- selectors and target ports ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({"app": "web"}, {"app": "web"}, True),
        ({"app": "web"}, {"app": "web", "tier": "front"}, True),
        ({"app": "web", "tier": "front"}, {"app": "web"}, False),
        ({"app": "web"}, {"app": "api"}, False),
        ({"app": "web"}, {}, False),
        ({}, {"app": "web"}, False),  # an empty selector selects nothing (selector-less Service)
    ],
)
def test_selector_matches(selector: dict[str, str], labels: dict[str, str], matches: bool) -> None:
    assert selector_matches(selector, labels) is matches


POD_WITH_PORTS = {"spec": {"containers": [
    {"name": "a", "ports": [{"name": "http", "containerPort": 8080}, {"name": "dns", "containerPort": 5353,
                                                                       "protocol": "UDP"}]},
    {"name": "b", "ports": [{"name": "metrics", "containerPort": 9090}]},
]}}


@pytest.mark.parametrize(
    ("port_spec", "expected"),
    [
        ({"port": 80}, 80),  # no targetPort: same as port
        ({"port": 80, "targetPort": 8000}, 8000),
        ({"port": 80, "targetPort": "8000"}, 8000),
        ({"port": 80, "targetPort": "http"}, 8080),
        ({"port": 90, "targetPort": "metrics"}, 9090),  # second container
        ({"port": 53, "targetPort": "dns", "protocol": "UDP"}, 5353),
        ({"port": 53, "targetPort": "dns"}, None),  # TCP port does not match the UDP name
        ({"port": 80, "targetPort": "nope"}, None),
    ],
)
def test_resolve_target_port(port_spec: Obj, expected: int | None) -> None:
    assert resolve_target_port(port_spec, POD_WITH_PORTS) == expected


# ---- endpoints from pods -----------------------------------------------------------------------


def test_named_target_port_is_resolved_per_pod() -> None:
    service = svc(selector={"app": "web"}, ports=[{"name": "http", "port": 80, "targetPort": "http"},
                                                  {"name": "raw", "port": 81, "targetPort": 7000}])
    pods = [
        pod_view("web-b", "10.0.0.6", ports=[{"name": "http", "containerPort": 9000}]),
        pod_view("web-a", "10.0.0.5", ports=[{"name": "http", "containerPort": 8080}]),
        pod_view("web-c", "10.0.0.7", ports=[]),  # does not expose "http"
    ]
    info = service_info(service, "10.96.0.20", pods)
    assert info.endpoints == (
        Endpoint("10.0.0.5", True, {"http": 8080, "raw": 7000}, "web-a"),
        Endpoint("10.0.0.6", True, {"http": 9000, "raw": 7000}, "web-b"),
        Endpoint("10.0.0.7", True, {"raw": 7000}, "web-c"),
    )
    assert info.ports == (ServicePort("http", "TCP", 80), ServicePort("raw", "TCP", 81))


@pytest.mark.parametrize(
    ("view", "included"),
    [
        (pod_view("p"), True),
        (pod_view("p", ip=""), False),  # not started yet
        (pod_view("p", terminating=True), False),
        (pod_view("p", labels={"app": "other"}), False),
        (pod_view("p", namespace="other"), False),
        (pod_view("p", ready=False), True),  # present, but not ready
    ],
)
def test_which_pods_are_endpoints(view: PodView, included: bool) -> None:
    info = service_info(svc(selector={"app": "web"}), "10.96.0.20", [view])
    assert [e.pod_name for e in info.endpoints] == (["p"] if included else [])


@pytest.mark.parametrize(("publish", "ready"), [(False, [True, False]), (True, [True, True])])
def test_not_ready_pods_and_publish_not_ready_addresses(publish: bool, ready: list[bool]) -> None:
    service = svc(selector={"app": "web"}, publishNotReadyAddresses=publish)
    info = service_info(service, "10.96.0.20", [pod_view("a", "10.0.0.5"), pod_view("b", "10.0.0.6", ready=False)])
    assert [e.ready for e in info.endpoints] == ready
    assert [e.ip for e in info.ready_endpoints()] == [ip for ip, r in zip(["10.0.0.5", "10.0.0.6"], ready) if r]


@pytest.mark.parametrize(
    ("pod_spec", "hostname"),
    [
        ({"hostname": "db-0", "subdomain": "db"}, "db-0"),
        ({"hostname": "db-0", "subdomain": "other"}, None),
        ({"hostname": "db-0"}, None),
        ({"subdomain": "db"}, None),
    ],
)
def test_endpoint_hostname_only_when_subdomain_matches(pod_spec: Obj, hostname: str | None) -> None:
    service = svc("db", selector={"app": "web"}, clusterIP="None")
    info = service_info(service, None, [pod_view("db-0", **pod_spec)])
    assert info.headless
    assert [e.hostname for e in info.endpoints] == [hostname]


def test_external_name_service_has_no_endpoints() -> None:
    service = svc("ext", type="ExternalName", externalName="example.com", selector={"app": "web"})
    info = service_info(service, None, [pod_view("p")])
    assert info.endpoints == ()
    assert info.external_name == "example.com"
    assert not info.headless


@pytest.mark.parametrize(
    ("spec", "timeout"),
    [
        ({}, None),
        ({"sessionAffinity": "None"}, None),
        ({"sessionAffinity": "ClientIP"}, 10800),
        ({"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}}}, 60),
    ],
)
def test_session_affinity(spec: Obj, timeout: int | None) -> None:
    assert service_info(svc(**spec), "10.96.0.20", []).affinity_timeout == timeout


# ---- selector-less Services --------------------------------------------------------------------


def test_endpoints_object_addresses_and_not_ready_addresses() -> None:
    service = svc("ext-db", ports=[{"name": "sql", "port": 5432}, {"name": "admin", "port": 8080}])
    endpoints = {"subsets": [
        {"addresses": [{"ip": "192.168.1.10", "hostname": "primary"}],
         "notReadyAddresses": [{"ip": "192.168.1.11"}],
         "ports": [{"name": "sql", "port": 15432}, {"name": "admin", "port": 18080}, {"name": "other", "port": 1}]},
    ]}
    info = service_info(service, "10.96.0.30", [], endpoints_obj=endpoints)
    assert info.endpoints == (
        Endpoint("192.168.1.10", True, {"sql": 15432, "admin": 18080}, None, "primary"),
        Endpoint("192.168.1.11", False, {"sql": 15432, "admin": 18080}),
    )


def test_endpoints_object_single_unnamed_port_matches_single_service_port() -> None:
    service = svc("ext", ports=[{"name": "http", "port": 80}])
    endpoints = {"subsets": [{"addresses": [{"ip": "192.168.1.10"}], "ports": [{"port": 8080}]}]}
    info = service_info(service, "10.96.0.30", [], endpoints_obj=endpoints)
    assert info.endpoints == (Endpoint("192.168.1.10", True, {"http": 8080}),)


def test_endpoints_object_publish_not_ready() -> None:
    service = svc("ext", publishNotReadyAddresses=True)
    endpoints = {"subsets": [{"notReadyAddresses": [{"ip": "192.168.1.11"}], "ports": [{"port": 80}]}]}
    info = service_info(service, "10.96.0.30", [], endpoints_obj=endpoints)
    assert [e.ready for e in info.endpoints] == [True]


def test_endpoint_slices_conditions_ready() -> None:
    service = svc("ext", ports=[{"name": "http", "port": 80}])
    slices = [
        {"addressType": "IPv4", "ports": [{"name": "http", "port": 8080}], "endpoints": [
            {"addresses": ["192.168.1.12"], "conditions": {"ready": True}},
            {"addresses": ["192.168.1.13"], "conditions": {"ready": False}},
            {"addresses": ["192.168.1.14"]},  # unknown readiness counts as ready
            {"addresses": ["192.168.1.15"], "conditions": {}, "hostname": "h15"},
        ]},
        {"addressType": "IPv6", "ports": [{"name": "http", "port": 8080}], "endpoints": [
            {"addresses": ["fd00::1"]}]},
    ]
    info = service_info(service, "10.96.0.30", [], slices=slices)
    assert info.endpoints == (
        Endpoint("192.168.1.12", True, {"http": 8080}),
        Endpoint("192.168.1.13", False, {"http": 8080}),
        Endpoint("192.168.1.14", True, {"http": 8080}),
        Endpoint("192.168.1.15", True, {"http": 8080}, None, "h15"),
    )


def test_selector_less_service_without_objects_has_no_endpoints() -> None:
    assert service_info(svc("ext"), "10.96.0.30", [pod_view("p")]).endpoints == ()


# ---- Endpoints / EndpointSlice views ------------------------------------------------------------

INFO = ServiceInfo(
    namespace="shop",
    name="web",
    type="ClusterIP",
    cluster_ip="10.96.0.20",
    ports=(ServicePort("http", "TCP", 80), ServicePort("metrics", "TCP", 9100)),
    endpoints=(
        Endpoint("10.0.0.5", True, {"http": 8080, "metrics": 9100}, "web-a", "web-a-host"),
        Endpoint("10.0.0.6", False, {"http": 8080, "metrics": 9100}, "web-b"),
        Endpoint("10.0.0.7", True, {"http": 9000, "metrics": 9100}, "web-c"),
    ),
)


def test_endpoints_object_shape() -> None:
    obj = endpoints_object(INFO, "2024-01-01T00:00:00Z")
    assert obj == {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "shop", "creationTimestamp": "2024-01-01T00:00:00Z"},
        "subsets": [
            {
                "addresses": [{"ip": "10.0.0.5", "hostname": "web-a-host", "nodeName": "localsvc",
                               "targetRef": {"kind": "Pod", "namespace": "shop", "name": "web-a"}}],
                "notReadyAddresses": [{"ip": "10.0.0.6", "nodeName": "localsvc",
                                       "targetRef": {"kind": "Pod", "namespace": "shop", "name": "web-b"}}],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"},
                          {"name": "metrics", "port": 9100, "protocol": "TCP"}],
            },
            {
                "addresses": [{"ip": "10.0.0.7", "nodeName": "localsvc",
                               "targetRef": {"kind": "Pod", "namespace": "shop", "name": "web-c"}}],
                "ports": [{"name": "http", "port": 9000, "protocol": "TCP"},
                          {"name": "metrics", "port": 9100, "protocol": "TCP"}],
            },
        ],
    }


def test_endpoints_object_without_endpoints_or_names() -> None:
    empty = ServiceInfo("default", "none", "ClusterIP", "10.96.0.21", ports=(ServicePort("", "TCP", 80),))
    assert endpoints_object(empty, None) == {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "none", "namespace": "default"}}
    external = ServiceInfo("default", "ext", "ClusterIP", "10.96.0.22", ports=(ServicePort("", "UDP", 53),),
                           endpoints=(Endpoint("192.168.1.1", True, {"": 5353}),))
    assert endpoints_object(external, None)["subsets"] == [
        {"addresses": [{"ip": "192.168.1.1"}], "ports": [{"port": 5353, "protocol": "UDP"}]}]


def test_endpoint_slices_shape() -> None:
    slices = endpoint_slices(INFO, "2024-01-01T00:00:00Z")
    assert len(slices) == 2
    names = {s["metadata"]["name"] for s in slices}
    assert len(names) == 2 and all(n.startswith("web-") and len(n) == len("web-") + 5 for n in names)
    first = slices[0]
    assert first["apiVersion"] == "discovery.k8s.io/v1"
    assert first["kind"] == "EndpointSlice"
    assert first["addressType"] == "IPv4"
    meta = first["metadata"]
    assert meta["namespace"] == "shop"
    assert meta["creationTimestamp"] == "2024-01-01T00:00:00Z"
    assert meta["labels"] == {"kubernetes.io/service-name": "web",
                              "endpointslice.kubernetes.io/managed-by": "localsvc"}
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web"}]
    assert first["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"},
                              {"name": "metrics", "port": 9100, "protocol": "TCP"}]
    assert first["endpoints"] == [
        {"addresses": ["10.0.0.5"], "conditions": {"ready": True, "serving": True, "terminating": False},
         "nodeName": "localsvc", "hostname": "web-a-host",
         "targetRef": {"kind": "Pod", "namespace": "shop", "name": "web-a"}},
        {"addresses": ["10.0.0.6"], "conditions": {"ready": False, "serving": False, "terminating": False},
         "nodeName": "localsvc", "targetRef": {"kind": "Pod", "namespace": "shop", "name": "web-b"}},
    ]
    assert [e["addresses"] for e in slices[1]["endpoints"]] == [["10.0.0.7"]]
    # names are stable
    assert [s["metadata"]["name"] for s in endpoint_slices(INFO, None)] == [s["metadata"]["name"] for s in slices]
    assert "creationTimestamp" not in endpoint_slices(INFO, None)[0]["metadata"]


def test_endpoint_slices_of_a_service_without_endpoints() -> None:
    empty = ServiceInfo("default", "none", "ClusterIP", "10.96.0.21", ports=(ServicePort("", "TCP", 80),))
    [only] = endpoint_slices(empty, None)
    assert only["endpoints"] == [] and only["ports"] == []
    assert only["metadata"]["labels"]["kubernetes.io/service-name"] == "none"


def test_pod_infos() -> None:
    pods = [pod_view("b", "10.0.0.6", hostname="h", subdomain="s"), pod_view("a", "10.0.0.5"), pod_view("z", "")]
    assert pod_infos(pods) == (
        PodInfo("default", "a", "10.0.0.5", "a", None),
        PodInfo("default", "b", "10.0.0.6", "h", "s"),
    )


# ---- service_env -------------------------------------------------------------------------------


def test_service_env_multi_port_backend_service() -> None:
    info = ServiceInfo(
        namespace="default",
        name="backend-service",
        type="ClusterIP",
        cluster_ip="10.96.0.50",
        ports=(ServicePort("http", "TCP", 80), ServicePort("grpc-api", "TCP", 9090),
               ServicePort("dns", "UDP", 53)),
    )
    assert service_env([info]) == {
        "BACKEND_SERVICE_SERVICE_HOST": "10.96.0.50",
        "BACKEND_SERVICE_SERVICE_PORT": "80",
        "BACKEND_SERVICE_SERVICE_PORT_HTTP": "80",
        "BACKEND_SERVICE_SERVICE_PORT_GRPC_API": "9090",
        "BACKEND_SERVICE_SERVICE_PORT_DNS": "53",
        "BACKEND_SERVICE_PORT": "tcp://10.96.0.50:80",
        "BACKEND_SERVICE_PORT_80_TCP": "tcp://10.96.0.50:80",
        "BACKEND_SERVICE_PORT_80_TCP_PROTO": "tcp",
        "BACKEND_SERVICE_PORT_80_TCP_PORT": "80",
        "BACKEND_SERVICE_PORT_80_TCP_ADDR": "10.96.0.50",
        "BACKEND_SERVICE_PORT_9090_TCP": "tcp://10.96.0.50:9090",
        "BACKEND_SERVICE_PORT_9090_TCP_PROTO": "tcp",
        "BACKEND_SERVICE_PORT_9090_TCP_PORT": "9090",
        "BACKEND_SERVICE_PORT_9090_TCP_ADDR": "10.96.0.50",
        "BACKEND_SERVICE_PORT_53_UDP": "udp://10.96.0.50:53",
        "BACKEND_SERVICE_PORT_53_UDP_PROTO": "udp",
        "BACKEND_SERVICE_PORT_53_UDP_PORT": "53",
        "BACKEND_SERVICE_PORT_53_UDP_ADDR": "10.96.0.50",
    }


def test_service_env_single_unnamed_port_and_skips() -> None:
    services = [
        ServiceInfo("default", "web", "ClusterIP", "10.96.0.20", ports=(ServicePort("", "TCP", 8080),)),
        ServiceInfo("default", "headless", "ClusterIP", None, ports=(ServicePort("", "TCP", 80),)),
        ServiceInfo("default", "ext", "ExternalName", None, external_name="example.com"),
    ]
    assert service_env(services) == {
        "WEB_SERVICE_HOST": "10.96.0.20",
        "WEB_SERVICE_PORT": "8080",
        "WEB_PORT": "tcp://10.96.0.20:8080",
        "WEB_PORT_8080_TCP": "tcp://10.96.0.20:8080",
        "WEB_PORT_8080_TCP_PROTO": "tcp",
        "WEB_PORT_8080_TCP_PORT": "8080",
        "WEB_PORT_8080_TCP_ADDR": "10.96.0.20",
    }


def test_service_env_headless_only_is_empty() -> None:
    info = service_info(svc("db", clusterIP="None", selector={"app": "db"}), None, [])
    assert service_env([info]) == {}
