"""When the host may call an environment ready: pure rules over the objects it read."""

from __future__ import annotations

from typing import Any

from localsvc.host.podstatus import deployment_complete

Obj = dict[str, Any]


def rolled_out(deployment: Obj) -> bool:
    """The Deployment's controller has seen its latest spec (status.observedGeneration, as
    `kubectl rollout status` checks first) and has every replica updated and ready. Without
    the first check, the status of the previous spec right after an apply looks complete and
    a wait returns before the rollout has begun."""
    meta, status = deployment.get("metadata") or {}, deployment.get("status") or {}
    observed = int(status.get("observedGeneration") or 0)
    return observed >= int(meta.get("generation") or 0) and deployment_complete(deployment)
