"""The cluster DNS records of one Snapshot, as dictionaries keyed by lowercase owner name.

Owns: turning a Snapshot into the resource records of the Kubernetes DNS specification (schema
1.1.0): Service A/AAAA/CNAME/SRV, headless per-endpoint names, pod names, PTR, dns-version, SOA,
and which names exist without records (empty non-terminals). Pure: no I/O, no sockets; built
once per Snapshot, then only read. A build from the previous index is incremental (kube-proxy's
change tracker, for DNS): it copies the previous index's tables and changes only the names of
the Services and pods that changed (records.py builds each apart), so an endpoint change costs
that Service's names, not the zone's; it also knows which names it changed (`changed_names`).
Answering queries is `answer.py`'s job.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dnslib import NS, PTR, QTYPE, RR, SOA, TXT, A

from localsvc.dns.records import (
    TTL,
    BuiltPod,
    BuiltService,
    Records,
    address_rr,
    build_pod,
    build_service,
    dashed,
    key,
    label,
    reverse,
)
from localsvc.model.snapshot import Snapshot, Unserved

SCHEMA_VERSION = "1.1.0"
SOA_TIMERS = (7200, 1800, 86400, 30)  # refresh, retry, expire, minimum (negative TTL)

# PTR precedence when several objects claim one address: a ClusterIP, then a headless
# endpoint's hostname, then a pod name; among equals the least target, whatever the order.
_CLUSTER_IP, _HEADLESS, _POD = 0, 1, 2
Claim = tuple[int, str]  # (precedence, PTR target)


@dataclass(frozen=True)
class _Tables:
    """What an incremental build starts from: each object's build and the counts that tell
    when a shared name comes or goes."""

    services: Mapping[tuple[str, str], BuiltService]
    pods: Mapping[tuple[str, str], BuiltPod]
    pod_names: Mapping[str, int]  # pod record owner -> pods holding it (one namespace, one IP)
    claims: Mapping[str, Mapping[Claim, int]]  # address -> PTR claims -> how many objects
    below: Mapping[str, int]  # a name in the zone -> owners with records below it


_EMPTY = _Tables({}, {}, {}, {}, {})


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
    # every Service that did not change.
    services: Mapping[tuple[str, str], BuiltService] = field(
        default_factory=dict, compare=False, repr=False)
    tables: _Tables = field(default=_EMPTY, compare=False, repr=False)
    # The index this one was built from (weakly: a chain of indexes is not kept alive) and the
    # names whose answers differ from it.
    base: weakref.ref[DnsIndex] | None = field(default=None, compare=False, repr=False)
    changed: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @staticmethod
    def build(snapshot: Snapshot, previous: DnsIndex | None = None) -> DnsIndex:
        """The index of `snapshot`; with `previous` (same zone and DNS address), built from it
        by changing only the names of the Services and pods that differ."""
        zone = key(snapshot.cluster_domain or "cluster.local")
        if previous is None or previous.zone != zone or \
                previous.records.get(f"ns.dns.{zone}") != _dns_records(snapshot, zone):
            return _Composer(zone, None).finish(snapshot)
        return _Composer(zone, previous).finish(snapshot)

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
    exist without records. When `new` was built from `old`, the names its build changed; else
    compared whole. Negative answers are not covered (they carry the SOA, whose serial is the
    version: the reply cache drops them on every new index)."""
    if new.base is not None and new.base() is old:
        return set(new.changed)
    changed = {name for name in old.records.keys() | new.records.keys()
               if old.records.get(name) != new.records.get(name)}
    changed.update(name for name in old.additional.keys() | new.additional.keys()
                   if old.additional.get(name) != new.additional.get(name))
    changed.update(old.empty_names ^ new.empty_names)
    return changed


def _dns_records(snapshot: Snapshot, zone: str) -> Records | None:
    """The records of `ns.dns.<zone>` (the DNS address), as the index holds them."""
    if not snapshot.dns_ip:
        return None
    return {QTYPE.A: (address_rr(f"ns.dns.{zone}.", snapshot.dns_ip),)}


class _Composer:
    """One build: the previous index's tables copied, then each changed object's names taken
    out and put in again (all of them when there is no previous index)."""

    def __init__(self, zone: str, previous: DnsIndex | None) -> None:
        self.zone = zone
        self.previous = previous
        old = previous.tables if previous is not None else _EMPTY
        self.old = old
        self.records: dict[str, Records] = dict(previous.records) if previous else {}
        self.additional: dict[str, tuple[RR, ...]] = dict(previous.additional) if previous else {}
        self.pod_names = dict(old.pod_names)
        self.claims: dict[str, Mapping[Claim, int]] = dict(old.claims)
        self.below = dict(old.below)
        self.changed: set[str] = set()
        self.touched_ips: set[str] = set()

    def finish(self, snapshot: Snapshot) -> DnsIndex:
        z = self.zone
        soa = RR(z + ".", QTYPE.SOA, ttl=TTL,
                 rdata=SOA(f"ns.dns.{z}.", f"hostmaster.{z}.", (snapshot.version, *SOA_TIMERS)))
        self._put(z, {QTYPE.SOA: (soa,), QTYPE.NS: (RR(z + ".", QTYPE.NS, ttl=TTL,
                                                        rdata=NS(f"ns.dns.{z}.")),)})
        if self.previous is None:
            dns = _dns_records(snapshot, z)
            if dns:
                self._put(f"ns.dns.{z}", dns)
            self._put(f"dns-version.{z}", {QTYPE.TXT: (RR(
                f"dns-version.{z}.", QTYPE.TXT, ttl=TTL, rdata=TXT(SCHEMA_VERSION)),)})
        services = self._services(snapshot)
        pods = self._pods(snapshot)
        for ip in self.touched_ips:
            self._ptr(ip)
        problems = [p for built in services.values() for p in built.problems]
        problems += [p for built in pods.values() for p in built.problems]
        empty = {n for n, count in self.below.items() if count > 0 and n not in self.records}
        empty.update(n for n in (f"svc.{z}", f"pod.{z}") if n not in self.records)
        frozen = frozenset(empty)
        if self.previous is not None:  # names taken out and put back as they were: unchanged
            was = self.previous
            self.changed = {n for n in self.changed if was.records.get(n) != self.records.get(n)
                            or was.additional.get(n) != self.additional.get(n)}
            self.changed.update(was.empty_names ^ frozen)
        tables = _Tables(services, pods, self.pod_names, self.claims, self.below)
        return DnsIndex(
            zone=z, version=snapshot.version, soa=soa, records=self.records,
            additional=self.additional, empty_names=frozen, problems=tuple(problems),
            services=services, tables=tables,
            base=weakref.ref(self.previous) if self.previous is not None else None,
            changed=frozenset(self.changed))

    def _services(self, snapshot: Snapshot) -> dict[tuple[str, str], BuiltService]:
        old = self.old.services
        built: dict[tuple[str, str], BuiltService] = {}
        for svc in snapshot.services:
            ident = (svc.namespace, svc.name)
            was = old.get(ident)
            if was is not None and (was.info is svc or was.info == svc) and ident not in built:
                built[ident] = was
                continue
            gone = built.get(ident, was)  # a name twice in the snapshot: the last one counts
            built[ident] = now = build_service(svc, self.zone)
            self._service(gone, now)
        for ident, was in old.items():
            if ident not in built:
                self._service(was, None)
        return built

    def _service(self, was: BuiltService | None, now: BuiltService | None) -> None:
        """Replace one Service's names (`was`: as the index holds them; None: a new Service;
        `now` None: a deleted one), changing only the names whose records differ."""
        before = was.records if was is not None else None
        after = now.records if now is not None else None
        old_names = before.names() if before is not None else {}
        new_names = after.names() if after is not None else {}
        for name in old_names.keys() | new_names.keys():
            if old_names.get(name) != new_names.get(name):
                self._put(name, new_names.get(name))
        old_extra = before.additional_records() if before is not None else {}
        new_extra = after.additional_records() if after is not None else {}
        for owner in old_extra.keys() | new_extra.keys():
            extra = new_extra.get(owner)
            if old_extra.get(owner) != extra:
                self.changed.add(owner)
                if extra is None:
                    self.additional.pop(owner, None)
                else:
                    self.additional[owner] = extra
        for staged, sign in ((before, -1), (after, +1)):
            if staged is not None:
                self._claim(((ip, (_CLUSTER_IP, t)) for ip, t in staged.ptr.items()), sign)
                self._claim(((ip, (_HEADLESS, t)) for ip, t in staged.headless_ptr.items()), sign)

    def _pods(self, snapshot: Snapshot) -> dict[tuple[str, str], BuiltPod]:
        old = self.old.pods
        built: dict[tuple[str, str], BuiltPod] = {}
        for pod in snapshot.pods:
            ident = (pod.namespace, pod.name)
            was = old.get(ident)
            if was is not None and (was.info is pod or was.info == pod) and ident not in built:
                built[ident] = was
                continue
            gone = built.get(ident, was)
            if gone is not None:
                self._pod(gone, -1)
            built[ident] = now = build_pod(pod, self.zone, gone)
            self._pod(now, +1)
        for ident, was in old.items():
            if ident not in built:
                self._pod(was, -1)
        return built

    def _pod(self, built: BuiltPod, sign: int) -> None:
        if built.record is None:
            return
        name, rr = built.record
        count = self.pod_names.get(name, 0) + sign
        if count:
            self.pod_names[name] = count
        else:
            del self.pod_names[name]
        if count == 0 or (count == 1 and sign > 0):  # the first pod of it came, the last went
            self._put(name, {rr.rtype: (rr,)} if count else None)
        self._claim([(built.info.ip, (_POD, name + "."))], sign)

    def _claim(self, claims: Iterable[tuple[str, Claim]], sign: int) -> None:
        for ip, claim in claims:
            counts = Counter(self.claims.get(ip, {}))
            counts[claim] += sign
            if counts[claim] <= 0:
                del counts[claim]
            if counts:
                self.claims[ip] = counts
            else:
                self.claims.pop(ip, None)
            self.touched_ips.add(ip)

    def _ptr(self, ip: str) -> None:
        owner = reverse(ip)
        if owner is None:
            return
        claims = self.claims.get(ip)
        if not claims:
            self._put(owner, None)
            return
        target = min(claims)[1]
        was = self.records.get(owner)
        if was is not None and str(was[QTYPE.PTR][0].rdata) == target:
            return
        self._put(owner, {QTYPE.PTR: (RR(label(owner), QTYPE.PTR, ttl=TTL,
                                         rdata=PTR(label(target))),)})

    def _put(self, name: str, records: Records | None) -> None:
        """Set (or, with None, remove) the records of `name`, counting it below its parents."""
        had = name in self.records
        if self.records.get(name) == records:
            return
        if records is None:
            self.records.pop(name, None)
        else:
            self.records[name] = records
        self.changed.add(name)
        if had == (records is not None):
            return
        suffix = "." + self.zone
        step = 1 if records is not None else -1
        parent = name
        while parent.endswith(suffix):
            parent = parent.split(".", 1)[1]
            self.below[parent] = self.below.get(parent, 0) + step
            if not self.below[parent]:
                del self.below[parent]


__all__ = ["DnsIndex", "Records", "changed_names", "dashed", "key", "label"]
