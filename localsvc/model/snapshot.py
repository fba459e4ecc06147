"""What the network pieces (DNS, service proxy) need to know, as one immutable snapshot.

The controller builds a Snapshot from applied Services, Endpoints and pod states after every
change; the DNS server and the proxy only ever read the latest one. Pure data, no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from localsvc.model import names


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


@dataclass(frozen=True)
class Unserved:
    """Something a network consumer could not serve and skipped, and why.

    The node keeps serving everything else: one bad stored object (an Endpoints address saved
    before validation rejected it, a hand-edited state file) must never stop DNS or the proxy."""

    object: str  # "Kind/namespace/name" of the object to fix
    message: str  # what is wrong and what was skipped

    def as_dict(self) -> dict[str, str]:
        return {"object": self.object, "message": self.message}


_HOST_LABEL = re.compile(r"^[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?$")
PROTOCOLS = ("TCP", "UDP", "SCTP")


def ipv4_problem(ip: object) -> str | None:
    """Why `ip` is not an IPv4 address in dotted form (the only family the environment's network
    carries), or None when it is one."""
    if not isinstance(ip, str):
        return f"address {ip!r} is not a string"
    try:
        parsed = ipaddress.IPv4Address(ip)
    except ValueError:
        return f'address "{ip}" is not an IPv4 address (the environment\'s network is IPv4 only)'
    if str(parsed) != ip:
        return f'address "{ip}" is not in canonical dotted form (use "{parsed}")'
    return None


def _port_problem(what: str, value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return f"{what} {value!r} is not a port number between 1 and 65535"
    return None


def _hostname_problem(name: object) -> str | None:
    if not isinstance(name, str):
        return f"{name!r} is not a string"
    labels = name.rstrip(".").split(".")
    if len(name) > 253 or not all(_HOST_LABEL.match(part) for part in labels):
        return f'"{name}" is not a DNS name (labels of 1-63 letters, digits, "-" or "_")'
    return None


def service_ref(info: ServiceInfo) -> str:
    return f"Service/{info.namespace}/{info.name}"


def service_problem(info: ServiceInfo) -> str | None:
    """Why the Service as a whole cannot be served (names, ClusterIP, ports), or None."""
    for what, value in (("namespace", info.namespace), ("name", info.name)):
        if not isinstance(value, str) or not names.is_dns1123_label(value):
            return f"{what} {value!r} is not a DNS label"
    if info.cluster_ip is not None and (problem := ipv4_problem(info.cluster_ip)):
        return f"clusterIP: {problem}"
    timeout = info.affinity_timeout
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int)
                                or not 1 <= timeout <= 86400):
        return f"sessionAffinity timeoutSeconds {timeout!r} is not between 1 and 86400"
    if info.external_name is not None and (problem := _hostname_problem(info.external_name)):
        return f"externalName: {problem}"
    for port in info.ports:
        if not isinstance(port.name, str) or not (port.name == ""  # an unnamed port
                                                  or names.is_dns1123_label(port.name)):
            return f"port name {port.name!r} is not a valid port name"
        if port.protocol not in PROTOCOLS:
            return (f"port {port.name or port.port}: protocol {port.protocol!r} is not TCP, UDP "
                    "or SCTP")
        problem = _port_problem("port", port.port) or (
            _port_problem("nodePort", port.node_port) if port.node_port is not None else None)
        if problem:
            return problem
    return None


def endpoint_problem(endpoint: Endpoint) -> str | None:
    """Why one endpoint address cannot be served (address, target ports, hostname), or None."""
    problem = ipv4_problem(endpoint.ip)
    if problem:
        return problem
    for name, port in endpoint.ports.items():
        if (problem := _port_problem(f"target port {name or '(unnamed)'}", port)):
            return f'address "{endpoint.ip}": {problem}'
    if endpoint.hostname is not None and (
            not isinstance(endpoint.hostname, str)
            or not names.is_dns1123_label(endpoint.hostname)):
        return f'address "{endpoint.ip}": hostname {endpoint.hostname!r} is not a DNS label'
    return None


def _endpoint_origin(info: ServiceInfo, endpoint: Endpoint) -> str:
    if endpoint.pod_name:
        return f"Pod/{info.namespace}/{endpoint.pod_name}"
    return f"Endpoints/{info.namespace}/{info.name}"


def screen_service(info: ServiceInfo) -> tuple[ServiceInfo | None, list[Unserved]]:
    """The Service without what cannot be served: None when the Service itself is bad, else
    without its bad endpoint addresses. Each skipped part is one Unserved naming its object."""
    problem = service_problem(info)
    if problem:
        return None, [Unserved(service_ref(info), f"{problem}; the Service is not served "
                                                  "(no DNS records, no proxy rules)")]
    good: list[Endpoint] = []
    skipped: list[Unserved] = []
    for endpoint in info.endpoints:
        problem = endpoint_problem(endpoint)
        if problem is None:
            good.append(endpoint)
        else:
            skipped.append(Unserved(
                _endpoint_origin(info, endpoint),
                f"endpoint of Service {info.namespace}/{info.name}: {problem}; "
                "this address is skipped"))
    if not skipped:
        return info, []
    return replace(info, endpoints=tuple(good)), skipped


def screen(snapshot: Snapshot) -> tuple[Snapshot, list[Unserved]]:
    """The Snapshot without the Services, endpoints and pods that cannot be served, and why."""
    services: list[ServiceInfo] = []
    problems: list[Unserved] = []
    for info in snapshot.services:
        kept, skipped = screen_service(info)
        problems += skipped
        if kept is not None:
            services.append(kept)
    pods: list[PodInfo] = []
    for pod in snapshot.pods:
        problem = ipv4_problem(pod.ip)
        if problem:
            problems.append(Unserved(f"Pod/{pod.namespace}/{pod.name}",
                                     f"pod {problem}; no pod DNS record"))
        else:
            pods.append(pod)
    if not problems:
        return snapshot, []
    return replace(snapshot, services=tuple(services), pods=tuple(pods)), problems
