"""What the network pieces (DNS, service proxy) need to know, as one immutable snapshot.

The controller builds a Snapshot from applied Services, Endpoints and pod states after every
change; the DNS server and the proxy only ever read the latest one. Pure data, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ServicePort:
    name: str  # "" when the Service has a single unnamed port
    protocol: str  # "TCP" | "UDP"
    port: int
    node_port: int | None = None


@dataclass(frozen=True)
class Endpoint:
    ip: str
    ready: bool  # already True for every endpoint when publishNotReadyAddresses is set
    # Service port name -> this endpoint's target port number (targetPort resolved per pod;
    # a port missing here means that pod does not expose that named port: skip it for that port)
    ports: Mapping[str, int] = field(default_factory=dict)
    pod_name: str | None = None  # None for addresses from Endpoints/EndpointSlice objects
    hostname: str | None = None  # pod spec.hostname when spec.subdomain == the Service's name


@dataclass(frozen=True)
class ServiceInfo:
    namespace: str
    name: str
    type: str  # ClusterIP | NodePort | LoadBalancer | ExternalName
    cluster_ip: str | None  # None for headless (clusterIP: None) and ExternalName Services
    ports: tuple[ServicePort, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    external_name: str | None = None
    affinity_timeout: int | None = None  # seconds, when sessionAffinity is ClientIP

    @property
    def headless(self) -> bool:
        return self.cluster_ip is None and self.type != "ExternalName"

    def ready_endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(e for e in self.endpoints if e.ready)


@dataclass(frozen=True)
class PodInfo:
    namespace: str
    name: str
    ip: str
    hostname: str
    subdomain: str | None


@dataclass(frozen=True)
class Snapshot:
    cluster_domain: str = "cluster.local"
    services: tuple[ServiceInfo, ...] = ()
    pods: tuple[PodInfo, ...] = ()
    dns_ip: str = ""  # the kube-dns ClusterIP the pods use as nameserver
    version: int = 0
    node_ip: str = ""  # NodePorts are served on <node_ip>:<nodePort> too, as on a cluster node
