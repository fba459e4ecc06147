"""Services as the node sees them: ClusterIP allocation against the applied objects, the network
Snapshot built from Services + pod states, and the Kubernetes-shaped Service, Endpoints and
EndpointSlice objects `get` shows. Pure functions over the node's State and pod views.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from localsvc.errors import Problem
from localsvc.model.allocation import ServiceRequest, allocate
from localsvc.model.endpoints import (
    SERVICE_NAME_LABEL,
    PodView,
    endpoint_slices,
    endpoints_object,
    pod_infos,
    service_info,
)
from localsvc.model.snapshot import (
    Endpoint,
    ServiceInfo,
    ServicePort,
    Snapshot,
    Unserved,
    screen,
)
from localsvc.model.views import service_object
from localsvc.node.objectstore import owner_reference

Obj = dict[str, Any]
KUBE_DNS = ("kube-system", "kube-dns")
ALLOCATION_KEY = "clusterIPs"


def service_key(obj: Obj) -> str:
    """`namespace/name` of a Service object, the key of every per-Service table."""
    # ObjectKey.of(obj).namespaced_name, written out: called per Service several times a sync.
    meta = obj["metadata"]
    return f"{meta.get('namespace') or 'default'}/{meta['name']}"


def _no_cluster_ip(obj: Obj) -> bool:
    spec = obj.get("spec") or {}
    return spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None"


def allocate_cluster_ips(
    services: Sequence[Obj],
    sources: Mapping[str, Obj],
    current: Mapping[str, str],
    cluster_range: str,
) -> tuple[dict[str, str], list[Problem]]:
    """The ClusterIP table for exactly `services` (the state after an apply)."""
    requests = []
    for obj in services:
        key = service_key(obj)
        source = sources.get(f"Service/{key}") or {}
        requests.append(ServiceRequest(
            key=key,
            requested=str((obj.get("spec") or {}).get("clusterIP") or ""),
            headless_or_external=_no_cluster_ip(obj),
            file=str(source.get("file", "")),
            line=source.get("line"),
        ))
    return allocate(requests, current, cluster_range)


def kube_dns_info(dns_ip: str, node_ip: str) -> ServiceInfo:
    """The kube-dns Service of kube-system: served by the node itself, as CoreDNS is in a cluster."""
    return ServiceInfo(
        namespace=KUBE_DNS[0],
        name=KUBE_DNS[1],
        type="ClusterIP",
        cluster_ip=dns_ip,
        ports=(ServicePort("dns", "UDP", 53), ServicePort("dns-tcp", "TCP", 53)),
        endpoints=(Endpoint(ip=node_ip, ready=True, ports={"dns": 53, "dns-tcp": 53}),),
    )


def kube_dns_object(dns_ip: str, created: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "creationTimestamp": created,
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": dns_ip,
            "clusterIPs": [dns_ip],
            "selector": {"k8s-app": "kube-dns"},
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            ],
            "sessionAffinity": "None",
        },
        "status": {"loadBalancer": {}},
    }


def with_node_ports(info: ServiceInfo, node_ports: Mapping[str, int]) -> ServiceInfo:
    """The ServiceInfo with its allocated nodePorts (keys "<port>/<PROTO>")."""
    if not node_ports:
        return info
    ports = tuple(replace(p, node_port=node_ports.get(f"{p.port}/{p.protocol}")) for p in info.ports)
    return replace(info, ports=ports)


def build_snapshot(
    objects: Mapping[str, Obj],
    allocations: Mapping[str, str],
    pods: Sequence[PodView],
    cluster_domain: str,
    dns_ip: str,
    node_ip: str,
    node_ports: Mapping[str, Mapping[str, int]] | None = None,
) -> Snapshot:
    return checked_snapshot(objects, allocations, pods, cluster_domain, dns_ip, node_ip,
                            node_ports)[0]


def checked_snapshot(
    objects: Mapping[str, Obj],
    allocations: Mapping[str, str],
    pods: Sequence[PodView],
    cluster_domain: str,
    dns_ip: str,
    node_ip: str,
    node_ports: Mapping[str, Mapping[str, int]] | None = None,
) -> tuple[Snapshot, list[Unserved]]:
    """The network Snapshot of the stored objects, without what cannot be served (a malformed
    stored object, an address that is not IPv4...), and one Unserved per skipped part. Never
    raises on a stored object: the node must keep serving the others."""
    problems: list[Unserved] = []
    services = [kube_dns_info(dns_ip, node_ip)]
    endpoints_objs: dict[str, Obj] = {}
    slices: dict[str, list[Obj]] = {}
    for k, o in objects.items():
        try:
            if k.startswith("Endpoints/"):
                endpoints_objs[service_key(o)] = o
            elif k.startswith("EndpointSlice/"):
                owner = ((o["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL))
                if owner:
                    slices.setdefault(f"{o['metadata'].get('namespace', 'default')}/{owner}",
                                      []).append(o)
        except Exception as err:  # malformed stored object: skip it, keep the others
            problems.append(Unserved(k, f"malformed object, skipped: {err!r}"))
    for k, obj in sorted(objects.items()):
        if not k.startswith("Service/"):
            continue
        try:
            key = service_key(obj)
            info = service_info(obj, allocations.get(key), pods, endpoints_objs.get(key),
                                slices.get(key, []))
            info = with_node_ports(info, (node_ports or {}).get(key, {}))
        except Exception as err:
            problems.append(Unserved(k, "cannot read the Service or its Endpoints/EndpointSlices "
                                        f"({err!r}); the Service is not served"))
            continue
        services.append(info)
    snapshot = Snapshot(cluster_domain=cluster_domain, services=tuple(services),
                        pods=pod_infos(p for p in pods if not p.terminating), dns_ip=dns_ip,
                        node_ip=node_ip)
    screened, skipped = screen(snapshot)
    return screened, problems + skipped


def dataplane_view(snapshot: Snapshot) -> Snapshot:
    """What the proxy programs: kube-dns keeps its address but gets no rules, because the node's
    DNS server answers on that address itself."""
    services = tuple(
        ServiceInfo(s.namespace, s.name, s.type, s.cluster_ip) if (s.namespace, s.name) == KUBE_DNS
        else s
        for s in snapshot.services
    )
    return replace(snapshot, services=services)


def endpoints_view(snapshot: Snapshot, objects: Mapping[str, Obj], created: Mapping[str, str]) -> list[Obj]:
    out = []
    for info in snapshot.services:
        if info.type == "ExternalName":
            continue
        user = objects.get(f"Endpoints/{info.namespace}/{info.name}")
        if user is not None:
            out.append(copy.deepcopy(user))
            continue
        out.append(endpoints_object(info, created.get(f"{info.namespace}/{info.name}")))
    return out


def endpoint_slices_view(snapshot: Snapshot, objects: Mapping[str, Obj],
                         created: Mapping[str, str]) -> list[Obj]:
    out = [copy.deepcopy(o) for k, o in objects.items() if k.startswith("EndpointSlice/")]
    for info in snapshot.services:
        if info.type == "ExternalName":
            continue
        user_backed = objects.get(f"Endpoints/{info.namespace}/{info.name}") is not None or any(
            ((o.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL) == info.name
            and (o.get("metadata") or {}).get("namespace", "default") == info.namespace
            for k, o in objects.items() if k.startswith("EndpointSlice/"))
        if user_backed and not any(e.pod_name for e in info.endpoints):
            if objects.get(f"Endpoints/{info.namespace}/{info.name}") is None:
                continue  # the user's slices are listed already
        owner = objects.get(f"Service/{info.namespace}/{info.name}")
        for made in endpoint_slices(info, created.get(f"{info.namespace}/{info.name}")):
            if owner is not None:  # as the EndpointSlice controller does (kube-dns has none)
                made["metadata"]["ownerReferences"] = [owner_reference(owner)]
            out.append(made)
    return out


def service_links(snapshot: Snapshot, namespace: str) -> list[ServiceInfo]:
    """The Services whose variables a pod of `namespace` gets with enableServiceLinks: those of
    its namespace (the `kubernetes` Service's, every pod gets: model/incluster.py)."""
    return [s for s in snapshot.services if s.namespace == namespace]
