"""The service proxy's nftables table as data, and its full text (pure: no I/O).

nftables.py turns each service port into a PortModel (its map elements, affinity sets and
chains); a RulesetModel is all of them plus the fixed base chains. The full render
(`ruleset_text`) writes a model out as one table that replaces the old one; nftdiff.py compares
two models and writes only what changed. Both read the same model, so a partial sync programs
exactly what a full render of the same snapshot would.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MASQ_MARK = "0x4000"

Element = tuple[str, str]  # (key, the rest of the element: ` comment "..." : goto chain`)
Chain = tuple[str, tuple[str, ...]]  # (name, its rules in order)


@dataclass(frozen=True)
class PortModel:
    """What one service port puts in the table. A port with ready endpoints has `services`
    elements and chains (its service chain first); one without has `no_endpoint` elements only."""

    label: str  # ns/name/proto/port, the readable key (nftables.PortRule.label)
    cluster_ip: str
    services: tuple[Element, ...]  # the ClusterIP element first, then the NodePort one
    no_endpoint: tuple[Element, ...]  # the same order, for ports rejected at once
    sets: tuple[tuple[str, int], ...]  # ClientIP affinity sets: (name, timeout seconds)
    chains: tuple[Chain, ...]
    endpoints: tuple[Element, ...] = ()  # `endpoints` map elements: (`<key> . <i>`, ` : ip . port`)
    spread: int = 0  # endpoints spread by the shared chain `spread-<n>` (0: own chains or none)
    counts: tuple[Element, ...] = ()  # `spreads` map elements: (`<key>`, ` : goto spread-<n>`)


@dataclass(frozen=True)
class RulesetModel:
    """The whole table: every service port (by label, in render order) and the ClusterIPs
    rejected when no rule took them (`cluster-ips`: every proxied ClusterIP but the DNS one),
    and the endpoint counts whose shared `spread-<n>` chain the ports use."""

    ports: Mapping[str, PortModel]
    cluster_ips: frozenset[str]
    spreads: frozenset[int] = frozenset()


def spreads_of(ports: Iterable[PortModel]) -> frozenset[int]:
    """The `spread-<n>` chains that `ports` jump to."""
    return frozenset({p.spread for p in ports if p.spread})


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

	chain spread {
		ip daddr . meta l4proto . th dport vmap @spreads
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

SERVICES_MAP = "services"
NO_ENDPOINT_MAP = "no-endpoint-services"
CLUSTER_IPS_SET = "cluster-ips"
ENDPOINTS_MAP = "endpoints"
# A service port without ClientIP affinity: its `services` element is always `goto spread`, whose
# `spreads` map sends it on to `spread-<n>` for its n endpoints. So a change of n rewrites a
# `spreads` element, and the `services` element (and the connection counter on it) stays.
SPREADS_MAP = "spreads"
# The endpoints of every service port without ClientIP affinity, as map elements keyed by the
# service port and the endpoint's index: `<ClusterIP> . tcp . 80 . 1 : 10.96.0.6 . 8080`. The
# key's port is declared as `tcp dport` but serves every protocol (the kernel sees 2 bytes): nft
# 1.0.6 rejects a later `add rule` looking up a map declared with `th dport` ("conflicting
# protocols specified: tcp vs. th"), though a whole table with both loads.
ENDPOINTS_TYPE = ("typeof ip daddr . meta l4proto . tcp dport . numgen random mod 1 : "
                  "ip daddr . tcp dport")
# Each protocol a Service may use (`<proto> dport` matches the protocol first).
_PROTOCOLS = ("tcp", "udp", "sctp")


def spread_chain(n: int) -> Chain:
    """The chain shared by every service port of `n` endpoints (no ClientIP affinity): each new
    connection goes to endpoint `numgen random mod n` of its service port, looked up in the
    `endpoints` map (kube-proxy's `numgen random mod n vmap`, with the endpoints as elements of
    one map rather than a chain each). nft 1.0.6 reads every chain of the namespace before each
    transaction that adds a rule or an element (~8 µs a chain), so the table keeps few chains:
    an endpoint change adds and deletes elements only."""
    pick = f"numgen random mod {n} map @{ENDPOINTS_MAP}"
    return (f"spread-{n}", ("jump mark-for-masquerade", *(
        f"dnat ip to ip daddr . meta l4proto . {p} dport . {pick}" for p in _PROTOCOLS)))


def _elements(items: Iterable[str]) -> str:
    body = ",\n\t\t\t".join(items)
    return f"\t\telements = {{\n\t\t\t{body}\n\t\t}}\n" if body else ""


def counter_statement(name: str) -> str:
    """The `counter` line of the `services` map: every element (a service port's ClusterIP or
    NodePort key) then counts the packets that look it up. The map is read in NAT chains, which
    see only a connection's first packet, so each count is the port's new connections
    (net/connections.py reads them all with one `nft -j list map`). It sits on the map's
    elements, not in a service chain, so rewriting a chain when endpoints change (partial syncs)
    keeps the count; `add element` in partial syncs inherits it."""
    return "\t\tcounter\n" if name == SERVICES_MAP else ""


def _map_text(name: str, elements: list[str]) -> str:
    return (f"\tmap {name} {{\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict\n"
            + counter_statement(name) + _elements(elements) + "\t}\n")


def set_declaration(name: str, timeout: int) -> str:
    """The body of a ClientIP affinity set (members expire `timeout` s after their last use)."""
    return f"{{\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout {timeout}s\n\t}}"


def chain_text(name: str, rules: Iterable[str]) -> str:
    return "\n".join([f"\tchain {name} {{", *(f"\t\t{r}" for r in rules), "\t}"]) + "\n"


def ruleset_text(model: RulesetModel, table: str) -> str:
    """The complete `nft -f -` input that replaces table `ip <table>` (created if missing)."""
    ports = list(model.ports.values())
    out = [f"table ip {table} {{}}", f"delete table ip {table}", f"table ip {table} {{"]
    ips = sorted(model.cluster_ips, key=ipaddress.IPv4Address)
    out.append(f"\tset {CLUSTER_IPS_SET} {{\n\t\ttype ipv4_addr\n" + _elements(ips) + "\t}\n")
    # ClusterIP elements of every port first, then the NodePort ones (the render's order).
    for name, field in ((SERVICES_MAP, "services"), (NO_ENDPOINT_MAP, "no_endpoint")):
        elements: list[Element] = [e for p in ports for e in getattr(p, field)[:1]]
        elements += [e for p in ports for e in getattr(p, field)[1:]]
        out.append(_map_text(name, [key + rest for key, rest in elements]))
    counts: list[Element] = [e for p in ports for e in p.counts[:1]]
    counts += [e for p in ports for e in p.counts[1:]]
    out.append(_map_text(SPREADS_MAP, [key + rest for key, rest in counts]))
    endpoints = [key + rest for p in ports for key, rest in p.endpoints]
    out.append(f"\tmap {ENDPOINTS_MAP} {{\n\t\t{ENDPOINTS_TYPE}\n" + _elements(endpoints) + "\t}\n")
    out.append(_BASE_CHAINS % {"mark": MASQ_MARK})
    for n in sorted(model.spreads):
        out.append(chain_text(*spread_chain(n)))
    for port in ports:
        for name, timeout in port.sets:
            out.append(f"\tset {name} {set_declaration(name, timeout)}\n")
        for name, rules in port.chains:
            out.append(chain_text(name, rules))
    return "\n".join(out).rstrip("\n") + "\n}\n"


AffinityState = Mapping[str, Mapping[str, int]]  # affinity set name -> client IP -> seconds left


def carry_over(model: RulesetModel, table: str, affinity: AffinityState) -> str:
    """The commands that re-add ClientIP pins read from the table being replaced to the sets
    of `model` that still exist, so a full sync does not re-balance pinned clients."""
    lines = []
    for port in model.ports.values():
        for name, timeout in port.sets:
            pins = {ip: min(left, timeout) for ip, left in affinity.get(name, {}).items()
                    if left > 0}
            if pins:
                elements = ", ".join(
                    f"{ip} timeout {timeout}s expires {left}s"
                    for ip, left in sorted(pins.items(), key=lambda p: ipaddress.IPv4Address(p[0])))
                lines.append(f"add element ip {table} {name} {{ {elements} }}\n")
    return "".join(lines)


def has_affinity(model: RulesetModel | None) -> bool:
    return model is not None and any(p.sets for p in model.ports.values())


def chains_of(ports: Iterable[PortModel]) -> dict[str, tuple[str, ...]]:
    return {name: rules for p in ports for name, rules in p.chains}


def elements_of(ports: Iterable[PortModel], field: str) -> dict[str, str]:
    """The elements `field` (services, no_endpoint, counts, endpoints) of `ports`, key -> the
    rest."""
    return {key: rest for p in ports for key, rest in getattr(p, field)}


__all__ = ["MASQ_MARK", "AffinityState", "PortModel", "RulesetModel", "carry_over", "ruleset_text",
           "spread_chain", "spreads_of"]
