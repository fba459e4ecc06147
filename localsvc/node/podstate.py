"""The Docker side of the pod worker's state: Docker's containers as the pure model reads them.

`leftover_of` turns one of a pod's containers (its labels and inspect data) into the
model.kubelet_adopt.Leftover that adoption decides on. The state itself, the pod status and the
decisions on them are in localsvc.model.kubelet_state, localsvc.model.kubelet and
localsvc.model.kubelet_adopt (re-exported here for the modules that import them from the node).
"""

from __future__ import annotations

from typing import Any

from localsvc.model.kubelet import schedule_restart
from localsvc.model.kubelet_adopt import Leftover, observe
from localsvc.model.kubelet_state import (
    BACKOFF_RESET_SECONDS,
    ContainerState,
    PodState,
    fingerprint,
    not_ready_reason,
    phase_of,
    pod_status,
)
from localsvc.runtime import labels as L
from localsvc.runtime.pods import pod_ip


def _attempt(labels: dict[str, str]) -> int:
    try:
        return int(labels.get(L.ATTEMPT, "0"))
    except ValueError:  # a label someone else wrote: the first attempt
        return 0


def leftover_of(container: Any, network: str) -> Leftover | None:
    """One of a pod's containers as adoption reads it; None for what is not the sandbox nor a
    pod container."""
    labels = container.labels
    role = labels.get(L.ROLE)
    if role not in (L.ROLE_POD_INFRA, L.ROLE_POD_CONTAINER):
        return None
    sandbox = role == L.ROLE_POD_INFRA
    return Leftover(
        id=container.id, sandbox=sandbox, name="" if sandbox else labels.get(L.CONTAINER, ""),
        attempt=_attempt(labels), running=container.status == "running",
        state=container.attrs.get("State") or {},
        ip=pod_ip(container, network) if sandbox else "")


__all__ = [
    "BACKOFF_RESET_SECONDS",
    "ContainerState",
    "PodState",
    "fingerprint",
    "leftover_of",
    "not_ready_reason",
    "observe",
    "phase_of",
    "pod_status",
    "schedule_restart",
]
