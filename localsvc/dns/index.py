"""The cluster DNS records of one Snapshot, as dictionaries keyed by lowercase owner name.

Owns: turning a Snapshot into the resource records of the Kubernetes DNS specification (schema
1.1.0): Service A/AAAA/CNAME/SRV, headless per-endpoint names, pod names, PTR, dns-version, SOA,
and which names exist without records (empty non-terminals). Pure: no I/O, no sockets; built
once per Snapshot, then only read; a build from the previous index rebuilds only the Services
that changed. Answering queries is `answer.py`'s job.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from dnslib import AAAA, CNAME, NS, PTR, QTYPE, RR, SOA, SRV, TXT, A, DNSLabel

from localsvc.model.names import is_dns1123_label
from localsvc.model.snapshot import (
    PodInfo,
    ServiceInfo,
    Snapshot,
    Unserved,
    ipv4_problem,
    screen_service,
    service_ref,
)

SCHEMA_VERSION = "1.1.0"
TTL = 5  # CoreDNS's default TTL for kubernetes records
SOA_TIMERS = (7200, 1800, 86400, 30)  # refresh, retry, expire, minimum (negative TTL)

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


def _address_rr(owner: str, ip: str) -> RR:
    if ":" in ip:
        return RR(label(owner), QTYPE.AAAA, ttl=TTL, rdata=AAAA(ip))
    return RR(label(owner), QTYPE.A, ttl=TTL, rdata=A(ip))


@dataclass(frozen=True)
class DnsIndex:
    zone: str  # lowercase, no trailing dot
    version: int
    soa: RR
    records: Mapping[str, Records]  # owner -> qtype -> records
    additional: Mapping[str, tuple[RR, ...]]  # SRV owner -> A/AAAA of its targets
    empty_names: frozenset[str]  # names in the zone that exist without records of their own
    problems: tuple[Unserved, ...] = ()  # what the snapshot held that got no records, and why
    # (namespace, name) -> the Service and its records as built: the next build reuses them for
    # every Service that did not change (kube-proxy's change tracker, for DNS).
    services: Mapping[tuple[str, str], BuiltService] = field(
        default_factory=dict, compare=False, repr=False)
    # Pod and PTR records by what they are made of ("pod", namespace, ip) / ("ptr", ip, target)
    # -> (owner, record): the next build reuses the same objects, which keeps it cheap and lets
    # `changed_names` compare most records by identity.
    memo: Mapping[tuple[str, str, str], tuple[str, RR]] = field(
        default_factory=dict, compare=False, repr=False)

    @staticmethod
    def build(snapshot: Snapshot, previous: DnsIndex | None = None) -> DnsIndex:
        """The index of `snapshot`; with `previous`, the records of each Service unchanged since
        it are reused, and only changed Services are built again."""
        if previous is None or previous.zone != _zone(snapshot):
            return _Builder(snapshot).finish()
        return _Builder(snapshot, previous.services, previous.memo).finish()

    def in_zone(self, name: str) -> bool:
        """Whether `name` (an index key) is the zone or below it."""
        return name == self.zone or name.endswith("." + self.zone)

    def owns(self, name: str) -> bool:
        """Whether this index answers for `name` (else the query goes upstream)."""
        return self.in_zone(name) or name in self.records

    def lookup(self, name: str) -> Records | None:
        """The records of `name` by qtype; {} for a name that exists without records; None when
        the name does not exist."""
        found = self.records.get(name)
        if found is not None:
            return found
        if name in self.empty_names:
            return {}
        return self._any_pod(name)

    def _any_pod(self, name: str) -> Records | None:
        # Spec 2.6 (deprecated but required): `<a>-<b>-<c>-<d>.<ns>.pod.<zone>` answers for any
        # address, like CoreDNS's `pods insecure` (the kubeadm default). `<ns>.pod.<zone>`
        # therefore exists for every namespace label.
        suffix = ".pod." + self.zone
        if not name.endswith(suffix):
            return None
        labels = name[: -len(suffix)].split(".")
        if len(labels) == 1:
            return {}
        if len(labels) != 2:
            return None
        parts = labels[0].split("-")
        if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
            return None
        ip = ".".join(str(int(p)) for p in parts)
        return {QTYPE.A: (RR(name + ".", QTYPE.A, ttl=TTL, rdata=A(ip)),)}


def changed_names(old: DnsIndex, new: DnsIndex) -> set[str]:
    """The names whose answers `new` may give differently from `old`: their records or the
    additional records of their SRV answers differ, or they became (or stopped being) names that
    exist without records. Records of reused Services are the same objects, so most compare by
    identity; negative answers are not covered (they carry the SOA, whose serial is the
    version: the reply cache drops them on every new index)."""
    changed = {name for name in old.records.keys() | new.records.keys()
               if old.records.get(name) != new.records.get(name)}
    changed.update(name for name in old.additional.keys() | new.additional.keys()
                   if old.additional.get(name) != new.additional.get(name))
    changed.update(old.empty_names ^ new.empty_names)
    return changed


@dataclass(frozen=True)
class BuiltService:
    """One Service's contribution to an index: its records, or why it has none."""

    info: ServiceInfo
    records: _ServiceRecords | None
    problems: tuple[Unserved, ...]


def _zone(snapshot: Snapshot) -> str:
    return key(snapshot.cluster_domain or "cluster.local")


class _Builder:
    def __init__(self, snapshot: Snapshot,
                 reuse: Mapping[tuple[str, str], BuiltService] | None = None,
                 memo: Mapping[tuple[str, str, str], tuple[str, RR]] | None = None) -> None:
        self.zone = _zone(snapshot)
        self.reuse = reuse or {}
        self.old_memo = memo or {}
        self.memo: dict[tuple[str, str, str], tuple[str, RR]] = {}
        self.built: dict[tuple[str, str], BuiltService] = {}
        self.version = snapshot.version
        self.records: dict[str, dict[int, list[RR]]] = {}
        self.additional: dict[str, list[RR]] = {}
        self.seen: set[tuple[str, int, str]] = set()
        z = self.zone
        self.soa = RR(
            z + ".",
            QTYPE.SOA,
            ttl=TTL,
            rdata=SOA(f"ns.dns.{z}.", f"hostmaster.{z}.", (snapshot.version, *SOA_TIMERS)),
        )
        self._add(z, self.soa)
        self._add(z, RR(z + ".", QTYPE.NS, ttl=TTL, rdata=NS(f"ns.dns.{z}.")))
        if snapshot.dns_ip:
            self._add(f"ns.dns.{z}", _address_rr(f"ns.dns.{z}.", snapshot.dns_ip))
        self._add(
            f"dns-version.{z}",
            RR(f"dns-version.{z}.", QTYPE.TXT, ttl=TTL, rdata=TXT(SCHEMA_VERSION)),
        )
        # PTR precedence: ClusterIP, then headless endpoint hostname, then pod name.
        self.ptr: dict[str, str] = {}
        self.headless_ptr: dict[str, str] = {}
        self.problems: list[Unserved] = []
        for svc in snapshot.services:
            self._service(svc)
        for ip, target in self.headless_ptr.items():
            self.ptr.setdefault(ip, target)
        for pod in snapshot.pods:
            self._pod(pod)
        for ip, target in self.ptr.items():
            made_of = ("ptr", ip, target)
            found = self.old_memo.get(made_of)
            if found is None:
                owner = _reverse(ip)
                if owner is None:
                    continue
                found = (owner, RR(label(owner), QTYPE.PTR, ttl=TTL, rdata=PTR(label(target))))
            self.memo[made_of] = found
            self._add(found[0], found[1], (found[0], QTYPE.PTR, target))

    def _add(self, name: str, rr: RR, seen: tuple[str, int, str] | None = None) -> None:
        """Add `rr` unless the same record is there; `seen` is its (name, type, value) when the
        caller knows it (rendering the record to text is the costly part of a build)."""
        if seen is None:
            seen = (name, rr.rtype, str(rr.rdata))
        if seen not in self.seen:
            self.seen.add(seen)
            self.records.setdefault(name, {}).setdefault(seen[1], []).append(rr)

    def _service(self, svc: ServiceInfo) -> None:
        """Add one Service's records, or none of them: a Service (or endpoint address) that
        cannot be served is skipped and reported, and every other name keeps answering."""
        ident = (svc.namespace, svc.name)
        built = self.reuse.get(ident)
        if built is None or built.info != svc:
            built = _build_service(svc, self.zone)
        self.built[ident] = built
        self.problems += built.problems
        staged = built.records
        if staged is None:
            return
        for name, rr, seen in staged.records:
            self._add(name, rr, seen)
        self.additional.update(staged.additional)
        for ip, target in staged.ptr.items():
            self.ptr.setdefault(ip, target)
        for ip, target in staged.headless_ptr.items():
            self.headless_ptr.setdefault(ip, target)

    def _pod(self, pod: PodInfo) -> None:
        made_of = ("pod", pod.namespace, pod.ip)
        found = self.old_memo.get(made_of)
        if found is None:
            found = self._pod_record(pod)
            if found is None:
                return
        self.memo[made_of] = found
        name, rr = found
        self._add(name, rr, (name, rr.rtype, pod.ip))
        self.ptr.setdefault(pod.ip, name + ".")

    def _pod_record(self, pod: PodInfo) -> tuple[str, RR] | None:
        problem = ipv4_problem(pod.ip)
        if problem is None and not is_dns1123_label(pod.namespace):
            problem = f"namespace {pod.namespace!r} is not a DNS label"
        if problem:
            self.problems.append(Unserved(f"Pod/{pod.namespace}/{pod.name}",
                                          f"{problem}; no pod DNS record"))
            return None
        name = f"{dashed(pod.ip)}.{key(pod.namespace)}.pod.{self.zone}"
        return name, _address_rr(name + ".", pod.ip)

    def finish(self) -> DnsIndex:
        empty: set[str] = set()
        suffix = "." + self.zone
        for name in self.records:
            while name.endswith(suffix):
                name = name.split(".", 1)[1]
                if name not in self.records:
                    empty.add(name)
        empty.add(f"svc.{self.zone}")
        empty.add(f"pod.{self.zone}")
        return DnsIndex(
            zone=self.zone,
            version=self.version,
            soa=self.soa,
            records={n: {t: tuple(rrs) for t, rrs in by.items()} for n, by in self.records.items()},
            additional={n: tuple(_dedup(rrs)) for n, rrs in self.additional.items()},
            empty_names=frozenset(empty - self.records.keys()),
            problems=tuple(self.problems),
            services=self.built,
            memo=self.memo,
        )


def _build_service(svc: ServiceInfo, zone: str) -> BuiltService:
    kept, skipped = screen_service(svc)
    if kept is None:
        return BuiltService(svc, None, tuple(skipped))
    staged = _ServiceRecords(zone)
    try:
        staged.build(kept)
    except Exception as err:  # a bad value the screen did not foresee: skip this Service only
        return BuiltService(svc, None, (*skipped, Unserved(service_ref(svc),
                                                           f"no DNS records: {err!r}")))
    return BuiltService(svc, staged, tuple(skipped))


class _ServiceRecords:
    """The records of one Service, built apart so that a failure adds none of them."""

    def __init__(self, zone: str) -> None:
        self.zone = zone
        self.records: list[tuple[str, RR, tuple[str, int, str]]] = []  # owner, record, key
        self.by_name: dict[str, dict[int, list[RR]]] = {}
        self.additional: dict[str, list[RR]] = {}
        self.ptr: dict[str, str] = {}
        self.headless_ptr: dict[str, str] = {}

    def _add(self, name: str, rr: RR) -> None:
        self.records.append((name, rr, (name, rr.rtype, str(rr.rdata))))
        self.by_name.setdefault(name, {}).setdefault(rr.rtype, []).append(rr)

    def build(self, svc: ServiceInfo) -> None:
        base = f"{key(svc.name)}.{key(svc.namespace)}.svc.{self.zone}"
        if svc.type == "ExternalName":
            if svc.external_name:
                target = key(svc.external_name) + "."
                self._add(base, RR(base + ".", QTYPE.CNAME, ttl=TTL, rdata=CNAME(target)))
            return
        if svc.cluster_ip is not None:
            self._add(base, _address_rr(base + ".", svc.cluster_ip))
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
            self._add(base, _address_rr(base + ".", ep.ip))
            self._add(f"{dashed(ep.ip)}.{base}", _address_rr(f"{dashed(ep.ip)}.{base}.", ep.ip))
            if ep.hostname:
                host = f"{key(ep.hostname)}.{base}"
                self._add(host, _address_rr(host + ".", ep.ip))
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


def _dedup(rrs: list[RR]) -> list[RR]:
    return list({id(rr): rr for rr in rrs}.values())


def _reverse(ip: str) -> str | None:
    try:
        return ipaddress.ip_address(ip).reverse_pointer
    except ValueError:
        return None
