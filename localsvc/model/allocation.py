"""ClusterIP allocation (pure): stable addresses from the environment's reserved range.

An address, once given to a Service, stays with it across apply, node restarts and pod churn,
and is freed when the Service is deleted. A Service without a requested address gets one derived
from a hash of its namespace/name (probing linearly on collision), so the same manifests tend to
get the same ClusterIPs in every environment. The range's first ten addresses are reserved: the
first is the `kubernetes` Service's, the tenth kube-dns's, as 10.96.0.1 and 10.96.0.10 are in
many clusters.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from localsvc.errors import Problem

RESERVED = 10
DNS_OFFSET = 10
KUBERNETES_OFFSET = 1  # the `kubernetes` Service in default, as 10.96.0.1 in many clusters


def probe_order(key: str, size: int) -> Iterator[int]:
    """Offsets 0..size-1 starting from a hash of `key`, then linearly: a stable first choice per
    key, and a free slot found whatever is taken (ClusterIPs, NodePorts)."""
    start = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % size
    return ((start + i) % size for i in range(size))


def dns_ip(cluster_range: str) -> str:
    return str(ipaddress.IPv4Network(cluster_range).network_address + DNS_OFFSET)


def kubernetes_ip(cluster_range: str) -> str:
    return str(ipaddress.IPv4Network(cluster_range).network_address + KUBERNETES_OFFSET)


@dataclass(frozen=True)
class ServiceRequest:
    key: str  # "ns/name"
    requested: str  # spec.clusterIP as written: "", "None" or an address
    headless_or_external: bool
    file: str = ""
    line: int | None = None


def allocate(
    requests: Sequence[ServiceRequest],
    current: Mapping[str, str],
    cluster_range: str,
) -> tuple[dict[str, str], list[Problem]]:
    """New allocation table (key -> IP) for exactly these Services, or the problems found."""
    net = ipaddress.IPv4Network(cluster_range)
    reserved = {str(net.network_address + i) for i in range(RESERVED + 1)}
    reserved.add(str(net.broadcast_address))
    out: dict[str, str] = {}
    problems: list[Problem] = []
    wanted = {r.key for r in requests}

    failed: set[str] = set()

    def problem(r: ServiceRequest, message: str) -> None:
        namespace, name = r.key.split("/", 1)
        failed.add(r.key)
        problems.append(Problem(r.file, r.line, "Service", name, "spec.clusterIP", message))

    # Keep what existing Services hold; check explicit requests.
    taken = {ip: key for key, ip in current.items() if key in wanted}
    for r in requests:
        if r.headless_or_external:
            continue
        held = current.get(r.key)
        if r.requested and r.requested != "None":
            if held and held != r.requested:
                problem(r, f"field is immutable: the Service has {held}; delete and re-create "
                           "the Service to change it")
                continue
            try:
                ip = ipaddress.IPv4Address(r.requested)
            except ValueError:
                problem(r, f'"{r.requested}" is not a valid IPv4 address')
                continue
            if ip not in net or str(ip) in reserved:
                problem(r, f"{ip} is not in this environment's ClusterIP range {net} (first "
                           f"{RESERVED} addresses reserved); omit clusterIP to get one allocated")
                continue
            owner = taken.get(str(ip))
            if owner and owner != r.key:
                problem(r, f"{ip} is already allocated to Service {owner}")
                continue
            out[r.key] = str(ip)
            taken[str(ip)] = r.key
        elif held:
            out[r.key] = held
    size = net.num_addresses
    for r in requests:
        if r.headless_or_external or r.key in out or r.key in failed:
            continue
        for offset in probe_order(r.key, size):
            candidate = str(net.network_address + offset)
            if candidate not in reserved and candidate not in taken:
                out[r.key] = candidate
                taken[candidate] = r.key
                break
        else:
            problem(r, f"no free ClusterIP left in {net}")
    return out, problems
