"""What the node is doing, for `localsvc status` and the benchmarks (GET /v1/status)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localsvc.node.controller import Controller

Obj = dict[str, Any]


def node_status(controller: Controller) -> Obj:
    network = controller.network
    dns = getattr(network, "dns", None) if network else None
    return {
        "env": controller.ctx.config.env,
        "pods": len(controller.state.pods),
        "terminating": len(controller.terminating),
        "services": len(controller.snapshot.services),
        # The network's own snapshot, derived from the store (the controller's makes the
        # Endpoints and EndpointSlices it derives from).
        "snapshotVersion": network.version if network else controller.snapshot.version,
        "dataplane": type(network.dataplane).__name__ if network else None,
        "appliedVersion": network.applied_version if network else None,
        "lastApplySeconds": network.last_apply_seconds if network else None,
        "lastError": network.last_error if network else None,
        # Per change: deriving the network snapshot, the DNS index update, and the nftables
        # syncs (full or partial, net/dataplane.SyncStats).
        "lastDeriveSeconds": network.last_derive_seconds if network else None,
        "lastDnsSeconds": network.last_dns_seconds if network else None,
        "dataplaneSyncs": _sync_stats(network.dataplane) if network else None,
        "dns": dict(dns.stats.__dict__) if dns is not None else None,
        "problems": [p.as_dict() for p in controller.problems()],
        "stateError": controller.store.load_error or None,
        "resourceVersion": str(controller.objects.resource_version),
        "lastSyncSeconds": controller.last_sync_seconds,
        "ingress": controller.ingress_summary(),
    }


def _sync_stats(dataplane: Any) -> Obj | None:
    stats = getattr(dataplane, "stats", None)
    return dict(stats.as_dict()) if stats is not None else None


__all__ = ["node_status"]
