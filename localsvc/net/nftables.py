"""Render a Snapshot into one nftables ruleset (pure: no I/O, no subprocess, no clock).

Owns the kernel-NAT form of the service proxy, modelled on kube-proxy's nftables mode: a
`services` verdict map keyed on `daddr . l4proto . dport` sends each service port's new
connections to the chain `spread`, whose `spreads` map (same key) sends them to the chain
`spread-<n>` shared by all ports of n ready endpoints, which DNATs to
endpoint `numgen random mod n` of the port, looked up in the `endpoints` map (one element per
endpoint), and marks for masquerade. So an endpoint change adds and deletes map elements only,
and the table holds a few chains whatever its size (nft 1.0.6 reads every chain before each
transaction: see nftmodel.spread_chain). A port with ClientIP affinity keeps its own chain and
one chain and affinity set per endpoint (affinity checked first, then a `numgen` rule per
endpoint). Service ports without a ready endpoint are rejected at once from filter chains (TCP
reset / ICMP port unreachable). Each service port becomes a nftmodel.PortModel; the full render
writes the whole model as one table that replaces the old one in one `nft -f -` transaction
(startup, recovery), nftdiff.py writes only what changed. Applying either is dataplane.py's
job, not this module's.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from localsvc.model.snapshot import (
    ServiceInfo,
    ServicePort,
    Snapshot,
    Unserved,
    ipv4_problem,
    screen_service,
    service_ref,
)
from localsvc.net.nftmodel import (
    AffinityState,
    PortModel,
    RulesetModel,
    carry_over,
    ruleset_text,
    spreads_of,
)

_READABLE_MAX = 60  # chars of "ns/name/proto/port..." kept in a chain or set name after the hash


@dataclass(frozen=True)
class Backend:
    """One ready endpoint of one service port, resolved to its target port."""

    ip: str
    port: int


@dataclass(frozen=True)
class PortRule:
    """Everything needed to program one service port (shared with the userspace proxy)."""

    namespace: str
    service: str
    cluster_ip: str
    port: ServicePort
    backends: tuple[Backend, ...]
    affinity_timeout: int | None

    @property
    def protocol(self) -> str:
        return self.port.protocol.lower()

    @property
    def label(self) -> str:
        """`ns/name/proto/port-name-or-number`, the readable key of this service port."""
        return f"{self.namespace}/{self.service}/{self.protocol}/{self.port.name or self.port.port}"


def proxied_services(snapshot: Snapshot) -> list[ServiceInfo]:
    """Services that get proxy rules: those with a ClusterIP that are not ExternalName."""
    found = [s for s in snapshot.services if s.cluster_ip and s.type != "ExternalName"]
    return sorted(found, key=lambda s: (s.namespace, s.name))


def port_rules(snapshot: Snapshot) -> list[PortRule]:
    """One PortRule per (service, port), sorted; backends sorted by address then port. What
    cannot be served is left out (see `checked_port_rules` for why)."""
    return checked_port_rules(snapshot)[0]


def checked_port_rules(snapshot: Snapshot) -> tuple[list[PortRule], list[Unserved]]:
    """The PortRules of every Service that can be served, and one Unserved per Service or
    endpoint address skipped: one bad object must not fail the whole ruleset (`nft -f` is one
    transaction), so it gets no rules and the others are programmed as usual."""
    rules: list[PortRule] = []
    problems: list[Unserved] = []
    for svc in proxied_services(snapshot):
        kept, skipped = service_port_rules(svc)
        rules += kept
        problems += skipped
    return rules, problems


def service_port_rules(svc: ServiceInfo) -> tuple[list[PortRule], list[Unserved]]:
    """The PortRules of one proxied Service (none when it cannot be served), and why not."""
    kept, problems = screen_service(svc)
    if kept is None:
        return [], problems
    try:
        return _service_rules(kept), problems
    except Exception as err:  # a value the screen did not foresee: skip this Service only
        return [], [*problems, Unserved(service_ref(svc), f"no proxy rules: {err!r}")]


def _service_rules(svc: ServiceInfo) -> list[PortRule]:
    assert svc.cluster_ip is not None
    rules = []
    for port in sorted(svc.ports, key=lambda p: (p.protocol, p.port, p.name)):
        backends = {
            Backend(ep.ip, ep.ports[port.name])
            for ep in svc.ready_endpoints()
            if port.name in ep.ports
        }
        ordered = sorted(backends, key=lambda b: (ipaddress.IPv4Address(b.ip), b.port))
        rules.append(
            PortRule(
                svc.namespace,
                svc.name,
                svc.cluster_ip,
                port,
                tuple(ordered),
                svc.affinity_timeout,
            )
        )
    return rules


def cluster_ips(snapshot: Snapshot) -> set[str]:
    """Every address the node must hold: proxied ClusterIPs (those that are IPv4 addresses)
    plus the DNS address, if set."""
    found = {s.cluster_ip for s in proxied_services(snapshot)
             if s.cluster_ip and ipv4_problem(s.cluster_ip) is None}
    if snapshot.dns_ip:
        found.add(snapshot.dns_ip)
    return found


def _name(prefix: str, readable: str) -> str:
    """A valid, unique nft identifier: prefix, a hash of the full key, a readable (cut) tail."""
    digest = hashlib.sha256(readable.encode()).hexdigest()[:8]
    return f"{prefix}-{digest}-{readable[:_READABLE_MAX]}"


def service_chain(rule: PortRule) -> str:
    return _name("svc", rule.label)


def endpoint_chain(rule: PortRule, backend: Backend) -> str:
    return _name("ep", f"{rule.label}__{backend.ip}/{backend.port}")


def affinity_set(rule: PortRule, backend: Backend) -> str:
    return _name("aff", f"{rule.label}__{backend.ip}/{backend.port}")


def _key(rule: PortRule) -> str:
    return f"{rule.cluster_ip} . {rule.protocol} . {rule.port.port}"


def _service_chain_rules(rule: PortRule) -> tuple[str, ...]:
    """A ClientIP-affinity port's chain: a pinned client goes to its endpoint, others spread."""
    lines = ["jump mark-for-masquerade"]
    for b in rule.backends:
        lines.append(f"ip saddr @{affinity_set(rule, b)} goto {endpoint_chain(rule, b)}")
    # Endpoint i of the n left is taken with probability 1/(n-i) when no earlier one was: each
    # is taken with 1/n, as kube-proxy's `numgen random mod n vmap {...}` does. No anonymous
    # map per service port, though: with 6,000 of them, nft 1.0.6 loaded a table 6.5x slower
    # (4.9 s against 0.76 s) and every partial sync dumped them all into its cache.
    n = len(rule.backends)
    for i, b in enumerate(rule.backends[:-1]):
        lines.append(f"numgen random mod {n - i} == 0 goto {endpoint_chain(rule, b)}")
    lines.append(f"goto {endpoint_chain(rule, rule.backends[-1])}")
    return tuple(lines)


def _endpoint_chain_rules(rule: PortRule, b: Backend) -> tuple[str, ...]:
    lines = [f"update @{affinity_set(rule, b)} {{ ip saddr }}"]
    lines.append(f"meta l4proto {rule.protocol} dnat to {b.ip}:{b.port}")
    return tuple(lines)


def _node_port_keys(rule: PortRule, node_ip: str) -> list[str]:
    """`<node IP> . proto . nodePort`: pods reach a NodePort on the node's address."""
    if not node_ip or not rule.port.node_port:
        return []
    return [f"{node_ip} . {rule.protocol} . {rule.port.node_port}"]


def port_model(rule: PortRule, node_ip: str) -> PortModel:
    """What one service port puts in the table: with ready endpoints, a `services` element to
    `spread`, a `spreads` element to `spread-<n>` and one `endpoints` element per endpoint (with
    ClientIP affinity: a `services` element to its own chain, which spreads over one chain per
    endpoint); without, a `no-endpoint-services` element that rejects at once. Its NodePort on
    the node's address gets the same elements."""
    keys = [(_key(rule), ""), *((k, " nodePort") for k in _node_port_keys(rule, node_ip))]
    if not rule.backends:
        rejects = tuple((k, f' comment "{rule.label}{note}" : goto reject-service')
                        for k, note in keys)
        return PortModel(rule.label, rule.cluster_ip, (), rejects, (), ())
    if not rule.affinity_timeout:
        n = len(rule.backends)
        elements = tuple((k, f' comment "{rule.label}{note}" : goto spread') for k, note in keys)
        endpoints = tuple((f"{k} . {i}", f" : {b.ip} . {b.port}")
                          for k, _ in keys for i, b in enumerate(rule.backends))
        counts = tuple((k, f" : goto spread-{n}") for k, _ in keys)
        return PortModel(rule.label, rule.cluster_ip, elements, (), (), (), endpoints, n, counts)
    chain = service_chain(rule)
    elements = tuple((k, f' comment "{rule.label}{note}" : goto {chain}') for k, note in keys)
    sets = tuple((affinity_set(rule, b), rule.affinity_timeout) for b in rule.backends)
    chains = [(chain, _service_chain_rules(rule))]
    chains += [(endpoint_chain(rule, b), _endpoint_chain_rules(rule, b)) for b in rule.backends]
    return PortModel(rule.label, rule.cluster_ip, elements, (), sets, tuple(chains))


def ruleset_model(snapshot: Snapshot, rules: list[PortRule] | None = None) -> RulesetModel:
    """The table that programs `snapshot` (`rules`: its `port_rules`, when known already)."""
    if rules is None:
        rules = port_rules(snapshot)
    ports = {r.label: port_model(r, snapshot.node_ip) for r in rules}
    return RulesetModel(ports, frozenset({r.cluster_ip for r in rules} - {snapshot.dns_ip}),
                        spreads_of(ports.values()))


def render_ruleset(
    snapshot: Snapshot,
    table: str = "localsvc",
    affinity: AffinityState | None = None,
    rules: list[PortRule] | None = None,
) -> str:
    """The complete `nft -f -` input that replaces table `ip <table>` (created if missing).

    `affinity`, read from the table being replaced, carries ClientIP pins over to the new
    table (for sets that still exist), so a sync does not re-balance pinned clients.
    `rules`: the snapshot's `port_rules`, when the caller has them already."""
    if rules is None:
        rules = port_rules(snapshot)
    model = ruleset_model(snapshot, rules)
    return ruleset_text(model, table) + carry_over(model, table, affinity or {})

