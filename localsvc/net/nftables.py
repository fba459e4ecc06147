"""Render a Snapshot into one nftables ruleset (pure: no I/O, no subprocess, no clock).

Owns the kernel-NAT form of the service proxy, modelled on kube-proxy's nftables mode: a
`services` verdict map keyed on `daddr . l4proto . dport` jumps to one chain per service port,
which spreads new connections at random over ready endpoints (ClientIP affinity checked first);
each endpoint chain DNATs and marks for masquerade. Service ports without a ready endpoint are
rejected at once from filter chains (TCP reset / ICMP port unreachable). The output replaces the
whole table in one `nft -f -` transaction. Applying it is dataplane.py's job, not this module's.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
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

MASQ_MARK = "0x4000"
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
        kept, skipped = screen_service(svc)
        problems += skipped
        if kept is None:
            continue
        try:
            rules += _service_rules(kept)
        except Exception as err:  # a value the screen did not foresee: skip this Service only
            problems.append(Unserved(service_ref(svc), f"no proxy rules: {err!r}"))
    return rules, problems


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


def _elements(items: Iterable[str]) -> str:
    body = ",\n\t\t\t".join(items)
    return f"\t\telements = {{\n\t\t\t{body}\n\t\t}}\n" if body else ""


# Masquerade keeps the client's source port where it can, as a direct connection would. With
# `fully-random`, each new connection got a random node port; the server then met SYNs on the
# TIME_WAIT sockets of earlier connections from the node's address whose timestamps looked older
# (TcpExt PAWSTimewait), dropped them, and every such connection waited a 1 s SYN retransmit:
# the new-connection rate collapsed from ~6,500/s to ~700/s within seconds. Measured 2026-11-26.
_BASE_CHAINS = """\
	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump services
	}

	chain nat-output {
		type nat hook output priority -100; policy accept;
		jump services
	}

	chain nat-postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		jump masquerading
	}

	chain filter-input {
		type filter hook input priority -110; policy accept;
		ct state new jump endpoints-check
		ct state new jump cluster-ips-check
	}

	chain filter-forward {
		type filter hook forward priority -110; policy accept;
		ct state new jump endpoints-check
		ct state new jump cluster-ips-check
	}

	chain filter-output {
		type filter hook output priority -110; policy accept;
		ct state new jump endpoints-check
	}

	chain filter-output-post-dnat {
		type filter hook output priority -90; policy accept;
		ct state new jump cluster-ips-check
	}

	chain services {
		ip daddr . meta l4proto . th dport vmap @services
	}

	chain endpoints-check {
		ip daddr . meta l4proto . th dport vmap @no-endpoint-services
	}

	chain cluster-ips-check {
		ip daddr @cluster-ips goto reject-service
	}

	chain reject-service {
		meta l4proto tcp reject with tcp reset
		reject
	}

	chain mark-for-masquerade {
		meta mark set meta mark | %(mark)s
	}

	chain masquerading {
		meta mark & %(mark)s == 0 return
		meta mark set meta mark ^ %(mark)s
		masquerade
	}
"""


def _service_chain_text(rule: PortRule) -> list[str]:
    lines = [f"\tchain {service_chain(rule)} {{", "\t\tjump mark-for-masquerade"]
    if rule.affinity_timeout:
        for b in rule.backends:
            lines.append(f"\t\tip saddr @{affinity_set(rule, b)} goto {endpoint_chain(rule, b)}")
    spread = ", ".join(f"{i} : goto {endpoint_chain(rule, b)}" for i, b in enumerate(rule.backends))
    lines.append(f"\t\tnumgen random mod {len(rule.backends)} vmap {{ {spread} }}")
    lines.append("\t}")
    return lines


def _endpoint_chain_text(rule: PortRule, b: Backend) -> list[str]:
    lines = [f"\tchain {endpoint_chain(rule, b)} {{"]
    if rule.affinity_timeout:
        lines.append(f"\t\tupdate @{affinity_set(rule, b)} {{ ip saddr }}")
    lines.append(f"\t\tmeta l4proto {rule.protocol} dnat to {b.ip}:{b.port}")
    lines.append("\t}")
    return lines


AffinityState = Mapping[str, Mapping[str, int]]  # affinity set name -> client IP -> seconds left


def _node_port_keys(rule: PortRule, node_ip: str) -> list[str]:
    """`<node IP> . proto . nodePort`: pods reach a NodePort on the node's address."""
    if not node_ip or not rule.port.node_port:
        return []
    return [f"{node_ip} . {rule.protocol} . {rule.port.node_port}"]


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
    served = [r for r in rules if r.backends]
    unserved = [r for r in rules if not r.backends]
    checked_ips = sorted(
        {r.cluster_ip for r in rules} - {snapshot.dns_ip}, key=ipaddress.IPv4Address
    )

    out = [f"table ip {table} {{}}", f"delete table ip {table}", f"table ip {table} {{"]
    out.append("\tset cluster-ips {\n\t\ttype ipv4_addr\n" + _elements(checked_ips) + "\t}\n")
    out.append(
        "\tmap services {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n"
        + _elements(
            [f'{_key(r)} comment "{r.label}" : goto {service_chain(r)}' for r in served]
            + [f'{k} comment "{r.label} nodePort" : goto {service_chain(r)}'
               for r in served for k in _node_port_keys(r, snapshot.node_ip)]
        )
        + "\t}\n"
    )
    out.append(
        "\tmap no-endpoint-services {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n"
        + _elements(
            [f'{_key(r)} comment "{r.label}" : goto reject-service' for r in unserved]
            + [f'{k} comment "{r.label} nodePort" : goto reject-service'
               for r in unserved for k in _node_port_keys(r, snapshot.node_ip)]
        )
        + "\t}\n"
    )
    out.append(_BASE_CHAINS % {"mark": MASQ_MARK})
    for rule in served:
        if rule.affinity_timeout:
            for b in rule.backends:
                out.append(
                    f"\tset {affinity_set(rule, b)} {{\n\t\ttype ipv4_addr\n"
                    f"\t\tflags dynamic,timeout\n\t\ttimeout {rule.affinity_timeout}s\n\t}}\n"
                )
        out.append("\n".join(_service_chain_text(rule)) + "\n")
        for b in rule.backends:
            out.append("\n".join(_endpoint_chain_text(rule, b)) + "\n")
    text = "\n".join(out).rstrip("\n") + "\n}\n"
    return text + _carry_over(rules, table, affinity or {})


def affinity_elements(snapshot: Snapshot, table: str, affinity: AffinityState) -> str:
    """The lines that re-add ClientIP pins to a freshly rendered table (what render_ruleset
    appends when given `affinity`), for a caller that already has the base text."""
    return _carry_over(port_rules(snapshot), table, affinity)


def _carry_over(rules: list[PortRule], table: str, affinity: AffinityState) -> str:
    lines = []
    for rule in rules:
        if not (rule.affinity_timeout and rule.backends):
            continue
        for b in rule.backends:
            name = affinity_set(rule, b)
            pins = {
                ip: min(left, rule.affinity_timeout)
                for ip, left in affinity.get(name, {}).items()
                if left > 0
            }
            if pins:
                elements = ", ".join(
                    f"{ip} timeout {rule.affinity_timeout}s expires {left}s"
                    for ip, left in sorted(pins.items(), key=lambda p: ipaddress.IPv4Address(p[0]))
                )
                lines.append(f"add element ip {table} {name} {{ {elements} }}\n")
    return "".join(lines)
