"""The network Snapshot derived from the object store's objects, as kube-proxy and CoreDNS derive
theirs from the API: Services (spec.clusterIP and nodePorts as allocated), EndpointSlices (each
endpoint's addresses, ready condition, hostname and targetRef; the slice's named ports are the
endpoint's target ports) and Pods (status.podIP; a pod with a deletionTimestamp has no record).

`StoreSnapshot` keeps the per-Service entries, screened (model.snapshot.screen_service), and
updates only those an event touches, so a pod flip re-derives and screens one Service, not all of
them; an unchanged Service stays the same object from one snapshot to the next. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from localsvc.model.endpoints import SERVICE_NAME_LABEL
from localsvc.model.snapshot import (
    Endpoint,
    PodInfo,
    ServiceInfo,
    ServicePort,
    Snapshot,
    Unserved,
    ipv4_problem,
    screen_service,
)

Obj = dict[str, Any]
KUBE_DNS = ("kube-system", "kube-dns")


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _namespace(obj: Mapping[str, Any]) -> str:
    return str(_meta(obj).get("namespace") or "default")


def slice_owner(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """(namespace, Service name) an EndpointSlice belongs to (its service-name label)."""
    owner = (_meta(obj).get("labels") or {}).get(SERVICE_NAME_LABEL)
    return (_namespace(obj), str(owner)) if owner else None


def _ports(spec: Mapping[str, Any]) -> tuple[ServicePort, ...]:
    return tuple(
        ServicePort(name=str(p.get("name") or ""), protocol=str(p.get("protocol") or "TCP"),
                    port=int(p["port"]), node_port=p.get("nodePort"))
        for p in spec.get("ports") or [])


def _slice_endpoints(service_ports: Sequence[ServicePort], slices: Iterable[Mapping[str, Any]],
                     publish: bool) -> tuple[Endpoint, ...]:
    """The endpoints of a Service's slices; one address in several slices (one per port set)
    is one endpoint with the ports of all of them, as the Endpoints builder merges them."""
    names = [p.name for p in service_ports]
    found: dict[tuple[str, str], Endpoint] = {}
    for piece in slices:
        if piece.get("addressType", "IPv4") != "IPv4":
            continue
        port_list = piece.get("ports") or []
        ports: dict[str, int] = {}
        for name in names:
            for p in port_list:
                if str(p.get("name") or "") == name and p.get("port") is not None:
                    ports[name] = int(p["port"])
            if name not in ports and len(port_list) == 1 and len(names) == 1 \
                    and port_list[0].get("port") is not None:
                ports[name] = int(port_list[0]["port"])  # an unnamed slice port of a 1-port Service
        for item in piece.get("endpoints") or []:
            ready = (item.get("conditions") or {}).get("ready", True) is not False
            ref = item.get("targetRef") or {}
            pod_name = ref.get("name") if ref.get("kind") == "Pod" else None
            for ip in item.get("addresses") or []:
                previous = found.get((pod_name or "", ip))
                merged = {**previous.ports, **ports} if previous else dict(ports)
                found[(pod_name or "", ip)] = Endpoint(
                    ip=ip, ready=ready or publish or bool(previous and previous.ready),
                    ports=merged, pod_name=pod_name, hostname=item.get("hostname"))
    return tuple(found[key] for key in sorted(found))


def service_info_of(service: Mapping[str, Any],
                    slices: Iterable[Mapping[str, Any]]) -> ServiceInfo:
    """One Service's snapshot entry from its stored object and its EndpointSlices."""
    spec = service.get("spec") or {}
    stype = str(spec.get("type") or "ClusterIP")
    ports = _ports(spec)
    cluster_ip = spec.get("clusterIP")
    affinity = None
    if spec.get("sessionAffinity") == "ClientIP":
        config = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
        affinity = int(config.get("timeoutSeconds", 10800))
    external = stype == "ExternalName"
    return ServiceInfo(
        namespace=_namespace(service),
        name=str(_meta(service)["name"]),
        type=stype,
        cluster_ip=None if external or cluster_ip in (None, "", "None") else str(cluster_ip),
        ports=ports,
        endpoints=() if external else _slice_endpoints(
            ports, slices, bool(spec.get("publishNotReadyAddresses"))),
        external_name=spec.get("externalName") if external else None,
        affinity_timeout=affinity,
    )


def pod_info_of(pod: Mapping[str, Any]) -> PodInfo | None:
    """A pod's DNS record, or None while it has no IP or is terminating."""
    meta = _meta(pod)
    ip = (pod.get("status") or {}).get("podIP")
    if not ip or meta.get("deletionTimestamp"):
        return None
    spec = pod.get("spec") or {}
    return PodInfo(namespace=_namespace(pod), name=str(meta["name"]), ip=str(ip),
                   hostname=spec.get("hostname") or str(meta["name"]),
                   subdomain=spec.get("subdomain"))


class StoreSnapshot:
    """The Snapshot of a store's objects, kept per object and updated per event (`apply`)."""

    def __init__(self, cluster_domain: str, dns_ip: str, node_ip: str, kube_dns: ServiceInfo):
        self.base = Snapshot(cluster_domain=cluster_domain, dns_ip=dns_ip, node_ip=node_ip)
        self._kube_dns = kube_dns  # served by the node itself: never derived from the store
        self._services: dict[tuple[str, str], Obj] = {}
        self._slices: dict[tuple[str, str], dict[str, Obj]] = {}  # owner -> slice key -> slice
        self._slice_owners: dict[str, tuple[str, str]] = {}  # slice key -> owner
        # owner -> the screened entry (None: not served) and what was left out of it, and why
        self._infos: dict[tuple[str, str], tuple[ServiceInfo | None, list[Unserved]]] = {}
        self._order: list[tuple[str, str]] | None = None  # owners by store key, when known
        self._pods: dict[str, PodInfo | Unserved] = {}

    def relist(self, objects: Mapping[str, Obj]) -> None:
        """Forget everything and take `objects` (key "Kind/namespace/name" -> object)."""
        self._services.clear()
        self._slices.clear()
        self._slice_owners.clear()
        self._infos.clear()
        self._order = None
        self._pods.clear()
        self.apply(objects)

    def apply(self, changed: Mapping[str, Obj | None]) -> None:
        """Take changed objects (None: deleted); only the Services they touch are re-derived."""
        dirty: set[tuple[str, str]] = set()
        for key, obj in changed.items():
            kind, _, rest = key.partition("/")
            if kind == "Service":
                namespace, _, name = rest.partition("/")
                owner = (namespace, name)
                if obj is None:
                    self._services.pop(owner, None)
                else:
                    self._services[owner] = obj
                dirty.add(owner)
            elif kind == "EndpointSlice":
                before = self._slice_owners.pop(key, None)
                if before is not None:
                    self._slices.get(before, {}).pop(key, None)
                    dirty.add(before)
                found = slice_owner(obj) if obj is not None else None
                if found is not None and obj is not None:
                    self._slices.setdefault(found, {})[key] = obj
                    self._slice_owners[key] = found
                    dirty.add(found)
            elif kind == "Pod":
                info = pod_info_of(obj) if obj is not None else None
                if info is None:
                    self._pods.pop(rest, None)
                elif problem := ipv4_problem(info.ip):
                    self._pods[rest] = Unserved(f"Pod/{rest}", f"pod {problem}; no pod DNS record")
                else:
                    self._pods[rest] = info
        for owner in dirty:
            self._derive(owner)

    def _derive(self, owner: tuple[str, str]) -> None:
        service = self._services.get(owner)
        if service is None or owner == KUBE_DNS:
            if self._infos.pop(owner, None) is not None:
                self._order = None
            return
        if owner not in self._infos:
            self._order = None
        try:
            self._infos[owner] = screen_service(
                service_info_of(service, self._slices.get(owner, {}).values()))
        except Exception as err:  # a malformed stored object: the others are served
            self._infos[owner] = (None, [Unserved(
                f"Service/{owner[0]}/{owner[1]}",
                f"cannot read the Service or its EndpointSlices ({err!r}); the Service is not "
                "served")])

    def snapshot(self) -> tuple[Snapshot, list[Unserved]]:
        """The screened Snapshot (kube-dns first, Services by key, pods by name) and what
        cannot be served."""
        if self._order is None:  # in the order of their store keys, as the controller's builder
            self._order = sorted(self._infos, key=lambda o: f"{o[0]}/{o[1]}")
        services: list[ServiceInfo] = [self._kube_dns]
        problems: list[Unserved] = []
        for owner in self._order:
            kept, skipped = self._infos[owner]
            if kept is not None:
                services.append(kept)
            problems += skipped
        pods = []
        for pod in self._pods.values():
            if isinstance(pod, Unserved):
                problems.append(pod)
            else:
                pods.append(pod)
        pods.sort(key=lambda p: (p.namespace, p.name))
        return replace(self.base, services=tuple(services), pods=tuple(pods)), problems


__all__ = ["StoreSnapshot", "pod_info_of", "service_info_of", "slice_owner"]
