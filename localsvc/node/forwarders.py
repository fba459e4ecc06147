"""NodePort and LoadBalancer forwarders (svclb containers): which LoadBalancer holds which host
ports, which forwarders should run, and reconciling them in a thread, one pass at a time.

A mixin of the Controller. A Service whose forwarder cannot be computed is skipped and reported;
the other Services keep theirs.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from localsvc.model.nodeports import LBClaim, assign_lb_ports
from localsvc.model.snapshot import Snapshot, Unserved
from localsvc.net.dataplane import NftDataplane
from localsvc.node import services as svc
from localsvc.node import svclb
from localsvc.node.context import NodeContext
from localsvc.node.network import NetworkSync
from localsvc.node.store import State
from localsvc.node.subscriber import StoreSubscriber
from localsvc.tasks import spawn

Obj = dict[str, Any]


class Forwarders:
    """Attributes are the Controller's."""

    ctx: NodeContext
    network: NetworkSync | None
    state: State
    snapshot: Snapshot
    gateway: str
    svclb_errors: dict[str, str]
    lb_pending: dict[str, str]
    lb_owned: set[str]
    forwarder_problems: list[Unserved]
    _svclb_applied: dict[str, svclb.SvclbSpec] | None
    _svclb_task: asyncio.Task[Any] | None
    _svclb_changes: StoreSubscriber  # the store's Service events

    def _assign_load_balancers(self) -> bool:
        """Which LoadBalancers hold all their host ports (self.lb_owned); the others get a
        pending message. Returns whether the port owners changed (the state needs saving)."""
        claims = []
        for obj in self.state.objects_of("Service"):
            spec = obj.get("spec") or {}
            if spec.get("type") != "LoadBalancer":
                continue
            key = svc.service_key(obj)
            try:
                claims += [LBClaim(key, int(port["port"]), port.get("protocol") or "TCP",
                                   obj["metadata"].get("creationTimestamp", ""))
                           for port in spec.get("ports") or []]
            except (KeyError, TypeError, ValueError):
                continue  # a malformed stored port: the snapshot reports this Service
        current = self.state.allocations.get("lbOwners") or {}
        owners, pending = assign_lb_ports(claims, current)
        self.state.allocations["lbOwners"] = owners
        self.lb_pending = pending
        self.lb_owned = {key for key in owners.values() if key not in pending}
        return owners != current

    def _reconcile_forwarders(self, force: bool = False) -> None:
        """Start a forwarder reconciliation of the Services whose forwarder changed (of all of
        them periodically, to notice a removed container); one at a time, in a thread."""
        if self._svclb_task is not None and not self._svclb_task.done():
            return
        # Only a Service event can change a forwarder (its ports, type, addresses, or its
        # LoadBalancer's pending status): a pod or endpoint change computes nothing here.
        changed = self._svclb_changes.changes()
        if not changed and not force and self._svclb_applied is not None:
            return
        services = {svc.service_key(o): o for o in self.state.objects_of("Service")}
        desired = self._desired_forwarders(services)
        if desired == self._svclb_applied and not force:
            return
        only = None if force else svclb.changed_services(self._svclb_applied, desired)
        self._svclb_applied = desired
        self._svclb_task = spawn(self._run_forwarder_reconcile(desired, only),
                                 name="svclb reconcile")

    def _kernel_forwarding(self) -> bool:
        """Whether the svclb containers forward in the kernel: where the node's service proxy
        runs on nftables, the engine grants NET_ADMIN and nft works, so theirs will too (each
        still falls back to its relay by itself when it cannot: net/svclbrun.py)."""
        return self.network is not None and isinstance(self.network.dataplane, NftDataplane)

    def _desired_forwarders(self, services: dict[str, Obj]) -> dict[str, svclb.SvclbSpec]:
        """The forwarders wanted; a Service whose forwarder cannot be computed is skipped and
        reported, and the others still get theirs."""
        cfg = self.ctx.config
        kernel = self._kernel_forwarding()
        try:
            self.forwarder_problems = []
            return svclb.desired_forwarders(self.snapshot, services, self.lb_owned,
                                            cfg.host_address, kernel)
        except Exception:  # find the Service(s) at fault, one at a time
            desired: dict[str, svclb.SvclbSpec] = {}
            for info in self.snapshot.services:
                one = replace(self.snapshot, services=(info,))
                try:
                    desired.update(svclb.desired_forwarders(one, services, self.lb_owned,
                                                            cfg.host_address, kernel))
                except Exception as err:
                    self.forwarder_problems.append(Unserved(
                        f"Service/{info.namespace}/{info.name}",
                        f"no NodePort/LoadBalancer forwarder: {err!r}"))
            return desired

    async def _run_forwarder_reconcile(self, desired: dict[str, svclb.SvclbSpec],
                                       only: set[str] | None = None) -> None:
        cfg = self.ctx.config
        errors = await asyncio.to_thread(svclb.reconcile, self.ctx.docker, cfg.env, cfg.network,
                                         cfg.image, desired, self.gateway, only)
        if only is not None:  # the errors of the Services left alone still hold
            errors = {**{k: v for k, v in self.svclb_errors.items() if k not in only}, **errors}
        self.svclb_errors = errors
        if errors:
            self._svclb_applied = None  # retry on the next pass
