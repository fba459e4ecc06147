"""NodePort and LoadBalancer host-port bookkeeping for one environment (pure).

Owns two tables: which nodePort each NodePort/LoadBalancer Service port holds (allocated or
requested, stable across applies and node restarts, freed when the Service or port goes), and
which LoadBalancer Service owns each host `port/PROTO` (one owner per port; the others stay
<pending>). It does no I/O: whether a host port is busy is asked through the `host_in_use`
callables the caller passes in. It does not create svclb containers or publish anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from localsvc.errors import Problem
from localsvc.model.allocation import probe_order
from localsvc.model.load import ObjectKey, parent_path

DEFAULT_RANGE = (30000, 32767)


# ------------------------------------------------------------------------------- node ports


@dataclass(frozen=True)
class PortRequest:
    """One Service port that needs a nodePort, and the one it asks for (None: any)."""

    service_key: str  # "ns/name"
    port_key: str  # "<port>/<PROTO>", e.g. "80/TCP"
    requested: int | None  # spec.ports[i].nodePort
    file: str = ""
    line: int | None = None
    path: str = ""  # e.g. "spec.ports[0].nodePort"

    @property
    def name(self) -> str:
        return self.service_key.split("/", 1)[-1]

    @property
    def group(self) -> tuple[str, str]:
        """Ports of one Service with the same number (TCP and UDP) share one nodePort."""
        return self.service_key, self.port_key.split("/", 1)[0]


def node_port_requests(
    service: Mapping[str, Any], file: str = "", lines: Mapping[str, int] | None = None
) -> list[PortRequest]:
    """The nodePort requests of a Service object (NodePort and LoadBalancer types only).

    A LoadBalancer with `spec.allocateLoadBalancerNodePorts: false` asks only for the nodePorts
    it names explicitly (none, usually), as in Kubernetes.
    """
    spec = _mapping(service.get("spec"))
    kind = spec.get("type") or "ClusterIP"
    if kind not in ("NodePort", "LoadBalancer"):
        return []
    allocate = not (kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is False)
    key = _service_key(service)
    out: list[PortRequest] = []
    ports = spec.get("ports")
    for i, port in enumerate(ports if isinstance(ports, list) else []):
        port = _mapping(port)
        number = port.get("port")
        if not isinstance(number, int) or isinstance(number, bool):
            continue  # validation reports it
        requested = _node_port(port.get("nodePort"))
        if requested is None and not allocate:
            continue
        protocol = str(port.get("protocol") or "TCP").upper()
        path = f"spec.ports[{i}].nodePort"
        line = _line_of(lines or {}, path)
        out.append(PortRequest(key, f"{number}/{protocol}", requested, file, line, path))
    return out


def allocate_node_ports(
    requests: Sequence[PortRequest],
    current: Mapping[str, Mapping[str, int]],
    port_range: tuple[int, int] = DEFAULT_RANGE,
    host_in_use: Callable[[int], bool] = lambda p: False,
    seed: str = "",
) -> tuple[dict[str, dict[str, int]], list[Problem]]:
    """New table (service key -> {port key -> nodePort}) for exactly these requests, or problems.

    Ports held in `current` by Services (or ports) no longer requested are free again. `seed`
    (the environment's name) makes two environments running the same manifests on one host
    choose different ports, since host ports are shared between them.
    """
    table = _Table(requests, current, port_range, host_in_use)
    table.seed = seed
    table.keep_held()
    table.take_explicit()
    table.allocate_rest()
    return table.result, table.problems


class _Table:
    """Working state of one allocation: who holds which port, and the problems found so far."""

    seed = ""  # mixed into the first-choice hash (the environment's name)

    def __init__(
        self,
        requests: Sequence[PortRequest],
        current: Mapping[str, Mapping[str, int]],
        port_range: tuple[int, int],
        host_in_use: Callable[[int], bool],
    ) -> None:
        self.requests = _unique(requests)
        self.current = current
        self.low, self.high = port_range
        self.host_in_use = host_in_use
        self.result: dict[str, dict[str, int]] = {r.service_key: {} for r in self.requests}
        self.problems: list[Problem] = []
        self.owner: dict[int, tuple[str, str]] = {}  # nodePort -> (service key, port number)
        self.by_group: dict[tuple[str, str], int] = {}
        self.failed: set[PortRequest] = set()

    def held(self, r: PortRequest) -> int | None:
        return self.current.get(r.service_key, {}).get(r.port_key)

    def give(self, r: PortRequest, port: int) -> None:
        self.result[r.service_key][r.port_key] = port
        self.owner[port] = r.group
        self.by_group.setdefault(r.group, port)

    def problem(self, r: PortRequest, message: str) -> None:
        self.failed.add(r)
        self.problems.append(Problem(r.file, r.line, "Service", r.name, r.path, message))

    def keep_held(self) -> None:
        """Ports a Service already holds stay with it, unless it now asks for another number."""
        for r in self.requests:
            held = self.held(r)
            if held is None or (r.requested is not None and r.requested != held):
                continue
            if held in self.owner and self.owner[held][0] != r.service_key:
                continue  # a corrupt table: two holders; the first keeps it
            self.give(r, held)

    def take_explicit(self) -> None:
        for r in self.requests:
            if r.requested is None or r.port_key in self.result[r.service_key]:
                continue
            message = self.check_explicit(r, r.requested)
            if message:
                self.problem(r, message)
            else:
                self.give(r, r.requested)

    def check_explicit(self, r: PortRequest, port: int) -> str | None:
        if not self.low <= port <= self.high:
            return (
                f"Invalid value: {port}: provided port is not in the valid range. "
                f"The range of valid ports is {self.low}-{self.high}"
            )
        owner = self.owner.get(port)
        if owner is not None and owner[0] != r.service_key:
            return (
                f"Invalid value: {port}: provided port is already allocated "
                f"(to Service {owner[0]}); choose another nodePort or omit it"
            )
        if owner is not None and owner != r.group:
            return (
                f"Duplicate value: {port}: already the nodePort of port {owner[1]} of this "
                "Service; only the TCP and UDP of one port number may share a nodePort"
            )
        mine = set(self.current.get(r.service_key, {}).values())
        if owner is None and port not in mine and self.host_in_use(port):
            return (
                f"port {port} is already in use on the host by another program; stop it or "
                "choose another nodePort"
            )
        return None

    def allocate_rest(self) -> None:
        for r in self.requests:
            if r in self.failed or r.port_key in self.result[r.service_key]:
                continue
            port = self.by_group.get(r.group)
            if port is None:
                port = self.free_port(r)
            if port is None:
                self.problem(r, f"no free node port left in the range {self.low}-{self.high}")
            else:
                self.give(r, port)

    def free_port(self, r: PortRequest) -> int | None:
        """A free port: the first choice derived from a hash of the key, then linear probing."""
        size = self.high - self.low + 1
        for offset in probe_order(f"{self.seed}{r.service_key}:{r.port_key}", size):
            port = self.low + offset
            if port not in self.owner and not self.host_in_use(port):
                return port
        return None


def _unique(requests: Sequence[PortRequest]) -> list[PortRequest]:
    """The requests, with a repeated (service, port key) kept once (validation reports it)."""
    seen: set[tuple[str, str]] = set()
    out: list[PortRequest] = []
    for r in requests:
        if (r.service_key, r.port_key) not in seen:
            seen.add((r.service_key, r.port_key))
            out.append(r)
    return out


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _service_key(service: Mapping[str, Any]) -> str:
    meta = _mapping(service.get("metadata"))
    return ObjectKey("Service", str(meta.get("namespace") or "default"),
                     str(meta.get("name") or "")).namespaced_name


def _node_port(value: Any) -> int | None:
    """spec.ports[i].nodePort as an int; unset, 0 and malformed values (reported by validation)
    mean "allocate one"."""
    if isinstance(value, int) and not isinstance(value, bool) and value != 0:
        return value
    return None


def _line_of(lines: Mapping[str, int], path: str) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = parent_path(path)
    return None


# --------------------------------------------------------------------- LoadBalancer host ports


@dataclass(frozen=True)
class LBClaim:
    """A LoadBalancer Service wants `port/protocol` published on the host address."""

    service_key: str
    port: int
    protocol: str
    created: str  # metadata.creationTimestamp: earlier claimants come first

    @property
    def port_key(self) -> str:
        return f"{self.port}/{self.protocol.upper()}"


def assign_lb_ports(
    claims: Sequence[LBClaim],
    current_owners: Mapping[str, str],
    host_in_use: Callable[[int, str], bool] = lambda p, proto: False,
) -> tuple[dict[str, str], dict[str, str]]:
    """Owners ("port/PROTO" -> service key) and pending Services (service key -> why).

    A Service gets its host ports all together or not at all. Current owners keep the ports they
    still claim; the rest go first come (creationTimestamp, then key) first served. Ports in
    `current_owners` are bound by localsvc's own svclb containers, so `host_in_use` is asked
    only about ports nobody owned before.
    """
    wanted = _claims_by_service(claims)
    reserved = {pk: key for pk, key in current_owners.items() if pk in wanted.get(key, {})}
    owners: dict[str, str] = {}
    pending: dict[str, str] = {}
    for key in _claim_order(wanted, claims, set(reserved.values())):
        reasons = _blocked(key, wanted[key], owners, reserved, current_owners, host_in_use)
        if reasons:
            pending[key] = _pending_message(reasons)
            reserved = {pk: k for pk, k in reserved.items() if k != key}
        else:
            owners.update((pk, key) for pk in wanted[key])
    return owners, pending


def _claims_by_service(claims: Sequence[LBClaim]) -> dict[str, dict[str, LBClaim]]:
    out: dict[str, dict[str, LBClaim]] = {}
    for c in claims:
        out.setdefault(c.service_key, {}).setdefault(c.port_key, c)
    return out


def _claim_order(
    wanted: Mapping[str, Mapping[str, LBClaim]], claims: Sequence[LBClaim], holders: set[str]
) -> list[str]:
    """Current holders first, then everyone else; each group by (creationTimestamp, key)."""
    created: dict[str, str] = {}
    for c in claims:
        created[c.service_key] = min(created.get(c.service_key, c.created), c.created)
    return sorted(wanted, key=lambda k: (k not in holders, created[k], k))


def _blocked(
    key: str,
    ports: Mapping[str, LBClaim],
    owners: Mapping[str, str],
    reserved: Mapping[str, str],
    current_owners: Mapping[str, str],
    host_in_use: Callable[[int, str], bool],
) -> list[str]:
    reasons: list[str] = []
    for pk, claim in sorted(ports.items()):
        holder = owners.get(pk) or reserved.get(pk)
        if holder is not None and holder != key:
            reasons.append(f"port {pk} is held by LoadBalancer {holder}")
        elif pk not in current_owners and host_in_use(claim.port, claim.protocol.upper()):
            reasons.append(f"port {pk} is already in use on the host by another program")
    return reasons


def _pending_message(reasons: list[str]) -> str:
    free = "it is free" if len(reasons) == 1 else "they are free"
    return "; ".join(reasons) + f"; this Service stays <pending> until {free}"
