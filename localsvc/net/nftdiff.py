"""Partial syncs of the service proxy's table: only what changed (pure: no I/O, no clock).

kube-proxy's nftables mode keeps its service and endpoint chains from one sync to the next and,
when only some Services changed, rewrites just their chains and adds or deletes just their map
elements, all in one `nft -f` transaction; it renders everything again at startup, after an error
and periodically. The same here: `partial_transaction(old, new)` compares two RulesetModels (what
the table holds, what it should hold) and writes the commands that turn one into the other;
`RulesetCompiler` builds the models again only for the Services that changed, so a sync costs
what changed, not what exists. The full render (nftmodel.ruleset_text) stays for startup and
recovery.

Chains that are no longer used are flushed, not deleted: before Linux 6.2 the kernel notices only
a moment after a transaction that a chain lost the map element that pointed to it, and deleting it
in the same transaction fails (kube-proxy waits a second). The caller deletes such empty chains in
a later transaction (`delete_chains`). Affinity sets are referenced by rules only, which a flush
releases at once, so they are deleted right away, as kube-proxy does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from localsvc.model.snapshot import ServiceInfo, Snapshot, Unserved, ipv4_problem
from localsvc.net.nftables import PortRule, port_model, proxied_services, service_port_rules
from localsvc.net.nftmodel import (
    CLUSTER_IPS_SET,
    ENDPOINTS_MAP,
    NO_ENDPOINT_MAP,
    SERVICES_MAP,
    SPREADS_MAP,
    PortModel,
    RulesetModel,
    chains_of,
    elements_of,
    spread_chain,
    spreads_of,
)


@dataclass(frozen=True)
class Transaction:
    """One partial sync: its `nft -f -` input ("" when nothing changed), the chains it empties
    and leaves in the table (to delete in a later transaction), the chains it creates or fills
    again, and the empty chains it deletes."""

    text: str
    flushed: frozenset[str]
    added: frozenset[str]
    deleted: frozenset[str]
    ports: int = 0  # service ports changed, added or removed


def _changed_ports(old: RulesetModel, new: RulesetModel) -> tuple[list[PortModel], list[PortModel]]:
    """The ports of `old` and of `new` that differ (an unchanged Service's ports are the same
    objects, so most are skipped by identity)."""
    before: list[PortModel] = []
    after: list[PortModel] = []
    for label, port in new.ports.items():
        was = old.ports.get(label)
        if was is port or was == port:
            continue
        after.append(port)
        if was is not None:
            before.append(was)
    if len(old.ports) + len(after) != len(new.ports) + len(before):  # some labels are gone
        before += [p for label, p in old.ports.items() if label not in new.ports]
    return before, after


def _sorted_ips(ips: Iterable[str]) -> list[str]:
    return sorted(ips, key=ipaddress.IPv4Address)


def partial_transaction(
    old: RulesetModel, new: RulesetModel, table: str = "localsvc",
    delete_chains: Collection[str] = (),
) -> Transaction | None:
    """The commands that turn table `ip <table>` holding `old` into one holding `new`, in one
    transaction; None when a change needs the full render (an affinity timeout changed: a set's
    timeout cannot be altered in place). `delete_chains`: empty chains flushed by an earlier
    transaction, now to be deleted (those `new` uses again are filled instead)."""
    target = f"ip {table}"
    before, after = _changed_ports(old, new)
    old_chains, new_chains = chains_of(before), chains_of(after)
    # The shared spread chains belong to the table, not to a port: those no port used before
    # are added, those no port uses now are emptied (as a port's own chains are).
    old_chains.update(spread_chain(n) for n in old.spreads - new.spreads)
    new_chains.update(spread_chain(n) for n in new.spreads - old.spreads)
    old_sets = {name: t for p in before for name, t in p.sets}
    new_sets = {name: t for p in after for name, t in p.sets}
    if any(old_sets.get(name, t) != t for name, t in new_sets.items()):
        return None
    lines: list[str] = []
    # Objects first, so that the rules and elements below can refer to them.
    for name, timeout in new_sets.items():
        if name not in old_sets:
            lines.append(f"add set {target} {name} {{ type ipv4_addr; flags dynamic,timeout; "
                         f"timeout {timeout}s; }}")
    added = [name for name in new_chains if name not in old_chains]
    lines += [f"add chain {target} {name}" for name in added]
    for name, rules in new_chains.items():
        was = old_chains.get(name)
        if was == rules:
            continue
        if was is not None:
            lines.append(f"flush chain {target} {name}")
        lines += [f"add rule {target} {name} {rule}" for rule in rules]
    # Elements: every delete before any add, so a key may move between ports and maps.
    maps = [(m, elements_of(before, field), elements_of(after, field))
            for m, field in ((SERVICES_MAP, "services"), (NO_ENDPOINT_MAP, "no_endpoint"),
                             (SPREADS_MAP, "counts"), (ENDPOINTS_MAP, "endpoints"))]
    for name, had, has in maps:
        lines += [f"delete element {target} {name} {{ {key} }}"
                  for key, rest in had.items() if has.get(key) != rest]
    gone_ips = _sorted_ips(old.cluster_ips - new.cluster_ips)
    if gone_ips:
        lines.append(f"delete element {target} {CLUSTER_IPS_SET} {{ {', '.join(gone_ips)} }}")
    for name, had, has in maps:
        lines += [f"add element {target} {name} {{ {key}{rest} }}"
                  for key, rest in has.items() if had.get(key) != rest]
    new_ips = _sorted_ips(new.cluster_ips - old.cluster_ips)
    if new_ips:
        lines.append(f"add element {target} {CLUSTER_IPS_SET} {{ {', '.join(new_ips)} }}")
    # What is no longer used: chains emptied (deleted later), sets deleted (their rules are gone).
    flushed = [name for name in old_chains if name not in new_chains]
    lines += [f"flush chain {target} {name}" for name in flushed]
    lines += [f"delete set {target} {name}" for name in old_sets if name not in new_sets]
    deleted = sorted(set(delete_chains) - set(added))
    lines += [f"delete chain {target} {name}" for name in deleted]
    ports = len(after) + len({p.label for p in before} - {p.label for p in after})
    return Transaction("".join(line + "\n" for line in lines), frozenset(flushed),
                       frozenset(added), frozenset(deleted), ports)


@dataclass(frozen=True)
class Compiled:
    """A snapshot as the kernel dataplane programs it."""

    model: RulesetModel
    rules: list[PortRule]  # as nftables.checked_port_rules gives them
    problems: list[Unserved]  # what could not be served, and why
    addresses: frozenset[str]  # the /32s the node holds (nftables.cluster_ips)


@dataclass(frozen=True)
class _Service:
    info: ServiceInfo
    rules: list[PortRule]
    ports: dict[str, PortModel]  # by label
    problems: list[Unserved]
    address: str | None  # its ClusterIP, when that is an IPv4 address the node can hold
    spreads: frozenset[int]  # the spread chains its ports use


class RulesetCompiler:
    """Snapshot -> RulesetModel, deriving again only the Services that changed since the last
    call (an unchanged Service is the same ServiceInfo object, or an equal one), so that one
    endpoint change costs one Service's rules, not all of them."""

    def __init__(self) -> None:
        self._node_ip = ""
        self._services: dict[tuple[str, str], _Service] = {}  # by (namespace, name)

    def compile(self, snapshot: Snapshot) -> Compiled:
        """`snapshot`'s model (nftables.ruleset_model), rules, problems and addresses."""
        if snapshot.node_ip != self._node_ip:  # the NodePort elements name the node's address
            self._services.clear()
            self._node_ip = snapshot.node_ip
        cache: dict[tuple[str, str], _Service] = {}
        rules: list[PortRule] = []
        ports: dict[str, PortModel] = {}
        problems: list[Unserved] = []
        addresses = {snapshot.dns_ip} if snapshot.dns_ip else set()
        held: set[str] = set()  # the ClusterIPs of the ports (the `cluster-ips` set)
        spreads: set[int] = set()
        for svc in proxied_services(snapshot):
            key = (svc.namespace, svc.name)
            entry = self._services.get(key)
            if entry is None or not (entry.info is svc or entry.info == svc):
                kept, skipped = service_port_rules(svc)
                address = svc.cluster_ip if ipv4_problem(svc.cluster_ip) is None else None
                models = {r.label: port_model(r, snapshot.node_ip) for r in kept}
                entry = _Service(svc, kept, models, skipped, address,
                                 spreads_of(models.values()))
            cache[key] = entry
            rules += entry.rules
            ports.update(entry.ports)  # (per Service, not per port: a sync is O(Services))
            problems += entry.problems
            if entry.address:
                addresses.add(entry.address)
            if entry.rules:  # every port of a Service has its ClusterIP
                held.add(entry.rules[0].cluster_ip)
            spreads.update(entry.spreads)
        self._services = cache
        model = RulesetModel(ports, frozenset(held - {snapshot.dns_ip}), frozenset(spreads))
        return Compiled(model, rules, problems, frozenset(addresses))


__all__ = ["Compiled", "RulesetCompiler", "Transaction", "partial_transaction"]
