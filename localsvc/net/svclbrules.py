"""The svclb container's kernel forwarding, as k3s's ServiceLB (klipper-lb) does it, in nftables:
the ruleset that DNATs each published port to the Service's ClusterIP:port, masquerades so that
the replies come back through the svclb (the node then sees the svclb as the client and NATs to a
pod as for any ClusterIP traffic), and enforces loadBalancerSourceRanges. Pure: rules in, nft
text out; net/svclbrun.py loads it into the container's own network namespace.

Source ranges keep the userspace relay's meaning (net/forwarder.py `_Sources`): a host client on
127.0.0.1 reaches the container through Docker's proxy (or its loopback masquerade), so the svclb
sees the bridge gateway as the source, and the gateway stands for 127.0.0.1. Other clients keep
their own address: a LAN client of a port published on 0.0.0.0 (Docker's DNAT), the host itself
connecting to its LAN address (DNAT without masquerade: measured 2026-12-07, the container saw
the host's 192.0.2.2), a pod. The svclb's network is IPv4: IPv6 ranges match no client, as in
the relay.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from localsvc.net.forwarder import ForwardRule

TABLE = "localsvc-svclb"
# What a host client on the loopback is, once the gateway stands for it.
LOOPBACK = ipaddress.IPv4Address("127.0.0.1")


@dataclass(frozen=True)
class SourceCheck:
    """One rule's loadBalancerSourceRanges as the kernel checks them."""

    networks: tuple[ipaddress.IPv4Network, ...]  # collapsed: nft refuses overlapping intervals
    host_alias: str | None  # the bridge gateway, the source of host loopback clients
    alias_allowed: bool  # whether 127.0.0.1 (which the gateway stands for) is in the ranges


def source_check(rule: ForwardRule, host_alias: str | None) -> SourceCheck | None:
    """None when the rule lets every client in (no ranges)."""
    if not rule.source_ranges:
        return None
    v4 = [n for n in (ipaddress.ip_network(c, strict=False) for c in rule.source_ranges)
          if isinstance(n, ipaddress.IPv4Network)]
    return SourceCheck(networks=tuple(ipaddress.collapse_addresses(v4)), host_alias=host_alias,
                       alias_allowed=any(LOOPBACK in n for n in v4))


def _deny(protocol: str) -> str:
    # TCP: a reset, so the client (or Docker's proxy, which then closes the host client's
    # connection) learns at once, as from the relay's closed connection; UDP: dropped, as the
    # relay drops the datagrams.
    return "meta l4proto tcp reject with tcp reset" if protocol == "TCP" else "drop"


def _element(net: ipaddress.IPv4Network) -> str:
    return str(net.network_address) if net.prefixlen == 32 else str(net)


def render_svclb_ruleset(rules: Sequence[ForwardRule], host_alias: str | None = None) -> str:
    """The whole table; loading it twice gives the same table (it is deleted first)."""
    checks = [(i, rule, source_check(rule, host_alias)) for i, rule in enumerate(rules)]
    checked = [(i, rule, c) for i, rule, c in checks if c is not None]
    lines = [f"table ip {TABLE} {{}}", f"delete table ip {TABLE}", f"table ip {TABLE} {{"]
    for i, _, check in checked:
        if check.networks:
            lines += [f"\tset sources-{i} {{", "\t\ttype ipv4_addr", "\t\tflags interval",
                      "\t\telements = { " + ", ".join(_element(n) for n in check.networks)
                      + " }", "\t}", ""]
    lines += ["\tchain nat-prerouting {", "\t\ttype nat hook prerouting priority dstnat; policy accept;"]
    for rule in rules:
        proto = rule.protocol.lower()
        lines.append(f"\t\t{proto} dport {rule.listen_port} "
                     f"dnat to {rule.target_ip}:{rule.target_port}")
    lines += ["\t}", "", "\tchain nat-postrouting {",
              "\t\ttype nat hook postrouting priority srcnat; policy accept;",
              # Only what this table DNATed: the node must answer the svclb, which un-NATs.
              "\t\tct status dnat masquerade", "\t}"]
    if checked:
        # After the DNAT the packet names the ClusterIP:port, which several rules may share (a
        # nodePort and the LoadBalancer port): the port the client asked is the original one.
        lines += ["", "\tchain filter-forward {",
                  "\t\ttype filter hook forward priority filter; policy accept;"]
        for i, rule, _ in checked:
            lines.append(f"\t\tct state new meta l4proto {rule.protocol.lower()} "
                         f"ct original proto-dst {rule.listen_port} jump check-sources-{i}")
        lines.append("\t}")
    for i, rule, check in checked:
        deny = _deny(rule.protocol)
        lines += ["", f"\tchain check-sources-{i} {{"]
        if check.host_alias:
            lines.append(f"\t\tip saddr {check.host_alias} "
                         + ("return" if check.alias_allowed else deny))
        if check.networks:
            lines.append(f"\t\tip saddr @sources-{i} return")
        lines += [f"\t\t{deny}", "\t}"]
    lines.append("}")
    return "\n".join(lines) + "\n"
