"""The DNS records of one Service and of one pod, each built apart (pure: no I/O, no sockets).

Owns the names a single object puts in the cluster zone (Kubernetes DNS specification 1.1.0):
a Service's A/AAAA/CNAME/SRV records and headless per-endpoint names, with the PTR targets it
claims, and a pod's `a-b-c-d.<ns>.pod.<zone>` record. index.py composes them into a DnsIndex,
building again only the objects that changed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from dnslib import AAAA, CNAME, QTYPE, RR, SRV, A, DNSLabel

from localsvc.model.names import is_dns1123_label
from localsvc.model.snapshot import (
    PodInfo,
    ServiceInfo,
    Unserved,
    ipv4_problem,
    screen_service,
    service_ref,
)

TTL = 5  # CoreDNS's default TTL for kubernetes records

Records = Mapping[int, tuple[RR, ...]]


def key(name: str) -> str:
    """The index key of a domain name: lowercase, without the trailing dot."""
    return name.lower().rstrip(".")


def dashed(ip: str) -> str:
    """`10.1.2.3` -> `10-1-2-3` (IPv6: colons become dashes, as CoreDNS does)."""
    return ip.replace(".", "-").replace(":", "-")


def label(name: str) -> DNSLabel:
    """A DNSLabel of an ASCII name, without dnslib's IDNA pass (a third of an index build)."""
    return DNSLabel([part.encode() for part in name.rstrip(".").split(".")])


def address_rr(owner: str, ip: str) -> RR:
    if ":" in ip:
        return RR(label(owner), QTYPE.AAAA, ttl=TTL, rdata=AAAA(ip))
    return RR(label(owner), QTYPE.A, ttl=TTL, rdata=A(ip))


def reverse(ip: str) -> str | None:
    try:
        return ipaddress.ip_address(ip).reverse_pointer
    except ValueError:
        return None


@dataclass(frozen=True)
class BuiltService:
    """One Service's contribution to an index: its records, or why it has none. The names it
    owns are its own (`<name>.<ns>.svc.<zone>` and below it): no other object adds to them."""

    info: ServiceInfo
    records: ServiceRecords | None
    problems: tuple[Unserved, ...]


@dataclass(frozen=True)
class BuiltPod:
    """One pod's contribution: its A record (owner, record), or why it has none."""

    info: PodInfo
    record: tuple[str, RR] | None
    problems: tuple[Unserved, ...]


def build_service(svc: ServiceInfo, zone: str) -> BuiltService:
    kept, skipped = screen_service(svc)
    if kept is None:
        return BuiltService(svc, None, tuple(skipped))
    staged = ServiceRecords(zone)
    try:
        staged.build(kept)
    except Exception as err:  # a bad value the screen did not foresee: skip this Service only
        return BuiltService(svc, None, (*skipped, Unserved(service_ref(svc),
                                                           f"no DNS records: {err!r}")))
    return BuiltService(svc, staged, tuple(skipped))


def build_pod(pod: PodInfo, zone: str, reuse: BuiltPod | None = None) -> BuiltPod:
    """`reuse`: the same pod's earlier build, whose record serves when namespace and IP match."""
    if reuse is not None and reuse.record is not None and \
            (reuse.info.namespace, reuse.info.ip) == (pod.namespace, pod.ip):
        return BuiltPod(pod, reuse.record, ())
    problem = ipv4_problem(pod.ip)
    if problem is None and not is_dns1123_label(pod.namespace):
        problem = f"namespace {pod.namespace!r} is not a DNS label"
    if problem:
        return BuiltPod(pod, None, (Unserved(f"Pod/{pod.namespace}/{pod.name}",
                                             f"{problem}; no pod DNS record"),))
    name = f"{dashed(pod.ip)}.{key(pod.namespace)}.pod.{zone}"
    return BuiltPod(pod, (name, address_rr(name + ".", pod.ip)), ())


class ServiceRecords:
    """The records of one Service, built apart so that a failure adds none of them."""

    def __init__(self, zone: str) -> None:
        self.zone = zone
        self.seen: set[tuple[str, int, str]] = set()
        self.by_name: dict[str, dict[int, list[RR]]] = {}
        self.additional: dict[str, list[RR]] = {}
        self.ptr: dict[str, str] = {}
        self.headless_ptr: dict[str, str] = {}

    def _add(self, name: str, rr: RR) -> None:
        seen = (name, rr.rtype, str(rr.rdata))
        if seen not in self.seen:  # the same record twice (two endpoints of one address)
            self.seen.add(seen)
            self.by_name.setdefault(name, {}).setdefault(rr.rtype, []).append(rr)

    def names(self) -> dict[str, dict[int, tuple[RR, ...]]]:
        """Owner -> qtype -> records, as the index holds them."""
        return {n: {t: tuple(rrs) for t, rrs in by.items()} for n, by in self.by_name.items()}

    def additional_records(self) -> dict[str, tuple[RR, ...]]:
        """SRV owner -> the A/AAAA records of its targets, each once."""
        return {n: tuple({id(rr): rr for rr in rrs}.values()) for n, rrs in self.additional.items()}

    def build(self, svc: ServiceInfo) -> None:
        base = f"{key(svc.name)}.{key(svc.namespace)}.svc.{self.zone}"
        if svc.type == "ExternalName":
            if svc.external_name:
                target = key(svc.external_name) + "."
                self._add(base, RR(base + ".", QTYPE.CNAME, ttl=TTL, rdata=CNAME(target)))
            return
        if svc.cluster_ip is not None:
            self._add(base, address_rr(base + ".", svc.cluster_ip))
            self.ptr.setdefault(svc.cluster_ip, base + ".")
            for port in svc.ports:
                if port.name:
                    owner = f"_{key(port.name)}._{port.protocol.lower()}.{base}"
                    srv = SRV(priority=0, weight=100, port=port.port, target=label(base))
                    self._add(owner, RR(label(owner), QTYPE.SRV, ttl=TTL, rdata=srv))
                    self.additional[owner] = list(
                        self.by_name[base].get(_qtype(svc.cluster_ip), [])
                    )
            return
        self._headless(svc, base)

    def _headless(self, svc: ServiceInfo, base: str) -> None:
        # No ready endpoint: no records at all, so the Service name is NXDOMAIN (spec 2.4.1).
        ready = svc.ready_endpoints()
        for ep in ready:
            self._add(base, address_rr(base + ".", ep.ip))
            self._add(f"{dashed(ep.ip)}.{base}", address_rr(f"{dashed(ep.ip)}.{base}.", ep.ip))
            if ep.hostname:
                host = f"{key(ep.hostname)}.{base}"
                self._add(host, address_rr(host + ".", ep.ip))
                self.headless_ptr.setdefault(ep.ip, host + ".")
        for port in svc.ports:
            if not port.name:
                continue
            owner = f"_{key(port.name)}._{port.protocol.lower()}.{base}"
            serving = [ep for ep in ready if port.name in ep.ports]
            weight = max(1, 100 // max(1, len(serving)))
            for ep in serving:
                target = f"{key(ep.hostname) if ep.hostname else dashed(ep.ip)}.{base}"
                srv = SRV(priority=0, weight=weight, port=ep.ports[port.name], target=label(target))
                self._add(owner, RR(label(owner), QTYPE.SRV, ttl=TTL, rdata=srv))
                extra = self.additional.setdefault(owner, [])
                extra.extend(self.by_name[target][_qtype(ep.ip)])


def _qtype(ip: str) -> int:
    return int(QTYPE.AAAA if ":" in ip else QTYPE.A)
