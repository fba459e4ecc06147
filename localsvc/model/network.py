"""Address plan of an environment's bridge network (pure: no Docker).

The subnet is split in two halves: Docker's IPAM hands pod addresses from the lower half
(`ip_range`), ClusterIPs come from the upper half, which IPAM never uses. The gateway is .1
and the node is always .2, so every pod can reach the node's DNS and proxy on-link.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from localsvc.errors import LocalsvcError

# Candidates tried in order: 10.208.0.0/16 ... 10.254.0.0/16. These are rarely used by home or
# office LANs and are far from Docker's default pools (172.17-31, 192.168).
_CANDIDATES = [f"10.{i}.0.0/16" for i in range(208, 255)]


@dataclass(frozen=True)
class AddressPlan:
    subnet: ipaddress.IPv4Network
    pod_range: ipaddress.IPv4Network
    cluster_ip_range: ipaddress.IPv4Network

    @property
    def gateway(self) -> str:
        return str(self.subnet.network_address + 1)

    @property
    def node_ip(self) -> str:
        return str(self.subnet.network_address + 2)


def plan_for(subnet: str) -> AddressPlan:
    """Split a subnet (a /24 at the smallest) into pod and ClusterIP halves."""
    try:
        net = ipaddress.IPv4Network(subnet, strict=True)
    except ValueError as err:
        raise LocalsvcError(
            f"--subnet {subnet!r} is not an IPv4 network such as 10.210.0.0/16 ({err})"
        ) from err
    if net.prefixlen > 24:
        raise LocalsvcError(f"--subnet {subnet}: use a /24 or larger (e.g. /16)")
    lower, upper = net.subnets(prefixlen_diff=1)
    return AddressPlan(subnet=net, pod_range=lower, cluster_ip_range=upper)


def choose_subnet(used: Iterable[str], exclude: Iterable[str] = ()) -> str:
    """The first candidate subnet that overlaps none of `used` (Docker networks, host routes)."""
    taken = []
    for text in [*used, *exclude]:
        try:
            taken.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            continue
    for candidate in _CANDIDATES:
        net = ipaddress.IPv4Network(candidate)
        if not any(net.overlaps(t) for t in taken if t.version == 4):
            return candidate
    raise LocalsvcError(
        "no free subnet left for a new environment in 10.208.0.0-10.254.255.255; "
        "remove unused environments (`localsvc ls`, `localsvc down --env NAME`) or pass --subnet"
    )
