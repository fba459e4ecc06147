"""Which addresses serve each Service (pure): endpoints from ready pods or from Endpoints /
EndpointSlice objects, the Kubernetes-shaped Endpoints and EndpointSlice views of them, and the
Service environment variables pods get.

Inputs are plain objects plus a `PodView` per running pod (its IP and readiness, which only the
node knows); the output feeds the DNS index and the service proxy through model.snapshot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from localsvc.model.snapshot import Endpoint, PodInfo, ServiceInfo, ServicePort
from localsvc.model.ports import container_port

Obj = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class PodView:
    obj: Obj  # the pod object (metadata + spec)
    ip: str
    ready: bool
    terminating: bool = False

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"].get("namespace", "default"))

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def labels(self) -> Mapping[str, str]:
        return self.obj["metadata"].get("labels") or {}


def selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def service_ports(svc: Obj) -> tuple[ServicePort, ...]:
    return tuple(
        ServicePort(
            name=str(p.get("name") or ""),
            protocol=str(p.get("protocol") or "TCP"),
            port=int(p["port"]),
            node_port=p.get("nodePort"),
        )
        for p in (svc.get("spec") or {}).get("ports") or []
    )


def resolve_target_port(port_spec: Obj, pod: Obj) -> int | None:
    """A Service port's targetPort for one pod: a number, or a container port name looked up in
    that pod (None when the pod does not expose that name)."""
    target = port_spec.get("targetPort", port_spec["port"])
    containers = (pod.get("spec") or {}).get("containers") or []
    return container_port(target, containers, port_spec.get("protocol") or "TCP")


def _pod_endpoints(svc: Obj, pods: Iterable[PodView]) -> tuple[Endpoint, ...]:
    spec = svc.get("spec") or {}
    namespace = svc["metadata"].get("namespace", "default")
    publish = bool(spec.get("publishNotReadyAddresses"))
    out = []
    for pod in pods:
        if pod.namespace != namespace or not pod.ip or pod.terminating:
            continue
        if not selector_matches(spec.get("selector") or {}, pod.labels):
            continue
        ports: dict[str, int] = {}
        for p in spec.get("ports") or []:
            number = resolve_target_port(p, pod.obj)
            if number is not None:
                ports[str(p.get("name") or "")] = number
        pod_spec = pod.obj.get("spec") or {}
        hostname = pod_spec.get("hostname") if pod_spec.get("subdomain") == svc["metadata"]["name"] else None
        out.append(Endpoint(ip=pod.ip, ready=pod.ready or publish, ports=ports, pod_name=pod.name,
                            hostname=hostname))
    return tuple(sorted(out, key=lambda e: (e.pod_name or "", e.ip)))


def _object_endpoints(svc: Obj, endpoints_obj: Obj | None, slices: Sequence[Obj]) -> tuple[Endpoint, ...]:
    """Endpoints of a selector-less Service, from the user's Endpoints or EndpointSlices."""
    spec = svc.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    by_port_name = {str(p.get("name") or ""): p for p in spec.get("ports") or []}
    found: dict[str, Endpoint] = {}

    def add(ip: str, ready: bool, port_list: Sequence[Obj], hostname: str | None) -> None:
        ports = {}
        for sp_name, sp in by_port_name.items():
            for p in port_list:
                if str(p.get("name") or "") == sp_name and p.get("port") is not None:
                    ports[sp_name] = int(p["port"])
            if sp_name not in ports and len(port_list) == 1 and len(by_port_name) == 1:
                if port_list[0].get("port") is not None:
                    ports[sp_name] = int(port_list[0]["port"])
        previous = found.get(ip)
        merged = dict(previous.ports) if previous else {}
        merged.update(ports)
        found[ip] = Endpoint(ip=ip, ready=ready or publish or bool(previous and previous.ready),
                             ports=merged, hostname=hostname)

    if endpoints_obj is not None:
        for subset in endpoints_obj.get("subsets") or []:
            for a in subset.get("addresses") or []:
                add(a["ip"], True, subset.get("ports") or [], a.get("hostname"))
            for a in subset.get("notReadyAddresses") or []:
                add(a["ip"], False, subset.get("ports") or [], a.get("hostname"))
    for s in slices:
        if s.get("addressType", "IPv4") != "IPv4":
            continue
        for e in s.get("endpoints") or []:
            ready = (e.get("conditions") or {}).get("ready", True) is not False
            for ip in e.get("addresses") or []:
                add(ip, ready, s.get("ports") or [], e.get("hostname"))
    return tuple(found[ip] for ip in sorted(found))


def service_info(
    svc: Obj,
    cluster_ip: str | None,
    pods: Sequence[PodView],
    endpoints_obj: Obj | None = None,
    slices: Sequence[Obj] = (),
) -> ServiceInfo:
    spec = svc.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    if stype == "ExternalName":
        endpoints: tuple[Endpoint, ...] = ()
    elif spec.get("selector"):
        endpoints = _pod_endpoints(svc, pods)
    else:
        endpoints = _object_endpoints(svc, endpoints_obj, slices)
    affinity = None
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
        affinity = int(cfg.get("timeoutSeconds", 10800))
    return ServiceInfo(
        namespace=svc["metadata"].get("namespace", "default"),
        name=svc["metadata"]["name"],
        type=stype,
        cluster_ip=cluster_ip,
        ports=service_ports(svc),
        endpoints=endpoints,
        external_name=spec.get("externalName") if stype == "ExternalName" else None,
        affinity_timeout=affinity,
    )


def pod_infos(pods: Iterable[PodView]) -> tuple[PodInfo, ...]:
    out = []
    for pod in pods:
        if not pod.ip:
            continue
        spec = pod.obj.get("spec") or {}
        out.append(PodInfo(namespace=pod.namespace, name=pod.name, ip=pod.ip,
                           hostname=spec.get("hostname") or pod.name, subdomain=spec.get("subdomain")))
    return tuple(sorted(out, key=lambda p: (p.namespace, p.name)))


def _target_ref(info: ServiceInfo, e: Endpoint) -> Obj | None:
    if e.pod_name is None:
        return None
    return {"kind": "Pod", "namespace": info.namespace, "name": e.pod_name}


def _port_groups(info: ServiceInfo) -> dict[tuple[tuple[str, str, int], ...], list[Endpoint]]:
    """Endpoints grouped by their resolved port set (one subset / slice per group)."""
    groups: dict[tuple[tuple[str, str, int], ...], list[Endpoint]] = {}
    for e in info.endpoints:
        ports = tuple(sorted((p.name, p.protocol, e.ports[p.name]) for p in info.ports
                             if p.name in e.ports))
        groups.setdefault(ports, []).append(e)
    return groups


def endpoints_object(info: ServiceInfo, created: str | None) -> Obj:
    """The v1 Endpoints object a cluster would show for this Service."""
    subsets = []
    for ports, members in sorted(_port_groups(info).items()):
        subset: Obj = {}
        for key, ready in (("addresses", True), ("notReadyAddresses", False)):
            addrs = []
            for e in members:
                if e.ready != ready:
                    continue
                a: Obj = {"ip": e.ip}
                if e.hostname:
                    a["hostname"] = e.hostname
                ref = _target_ref(info, e)
                if ref:
                    a["nodeName"] = "localsvc"
                    a["targetRef"] = ref
                addrs.append(a)
            if addrs:
                subset[key] = addrs
        if ports:
            subset["ports"] = [{"name": n, "port": port, "protocol": proto} if n else
                               {"port": port, "protocol": proto} for n, proto, port in ports]
        subsets.append(subset)
    meta: Obj = {"name": info.name, "namespace": info.namespace}
    if created:
        meta["creationTimestamp"] = created
    obj: Obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta}
    if subsets:
        obj["subsets"] = subsets
    return obj


def endpoint_slices(info: ServiceInfo, created: str | None) -> list[Obj]:
    """The discovery.k8s.io/v1 EndpointSlices a cluster would show for this Service."""
    out = []
    groups = _port_groups(info) or {(): []}
    for ports, members in sorted(groups.items()):
        digest = hashlib.sha256(repr((info.namespace, info.name, ports)).encode()).hexdigest()[:5]
        endpoints = []
        for e in members:
            item: Obj = {
                "addresses": [e.ip],
                "conditions": {"ready": e.ready, "serving": e.ready, "terminating": False},
                "nodeName": "localsvc",
            }
            if e.hostname:
                item["hostname"] = e.hostname
            ref = _target_ref(info, e)
            if ref:
                item["targetRef"] = ref
            endpoints.append(item)
        meta: Obj = {
            "name": f"{info.name}-{digest}",
            "namespace": info.namespace,
            "labels": {SERVICE_NAME_LABEL: info.name,
                       "endpointslice.kubernetes.io/managed-by": "localsvc"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": info.name}],
        }
        if created:
            meta["creationTimestamp"] = created
        out.append({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": meta,
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": [{"name": n, "port": port, "protocol": proto} for n, proto, port in ports],
        })
    return out


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def service_env(services: Iterable[ServiceInfo]) -> dict[str, str]:
    """Docker-links-style variables the kubelet sets for every Service in the pod's namespace
    that has a ClusterIP (headless and ExternalName Services get none)."""
    env: dict[str, str] = {}
    for info in sorted(services, key=lambda s: s.name):
        if not info.cluster_ip or not info.ports:
            continue
        prefix = _env_name(info.name)
        first = info.ports[0]
        env[f"{prefix}_SERVICE_HOST"] = info.cluster_ip
        env[f"{prefix}_SERVICE_PORT"] = str(first.port)
        for p in info.ports:
            if p.name:
                env[f"{prefix}_SERVICE_PORT_{_env_name(p.name)}"] = str(p.port)
        env[f"{prefix}_PORT"] = f"{first.protocol.lower()}://{info.cluster_ip}:{first.port}"
        for p in info.ports:
            base = f"{prefix}_PORT_{p.port}_{p.protocol}"
            env[base] = f"{p.protocol.lower()}://{info.cluster_ip}:{p.port}"
            env[f"{base}_PROTO"] = p.protocol.lower()
            env[f"{base}_PORT"] = str(p.port)
            env[f"{base}_ADDR"] = info.cluster_ip
    return env
