"""The Docker side of the pod worker's state: reading containers into it (pure: no Docker calls).

`observe` turns a container's inspect data into a ContainerState; `latest_attempts` and
`count_lost_attempts` read the labels of a pod's containers when a node process adopts them. The
state itself, the pod status and the decisions on them are in localsvc.model.kubelet_state and
localsvc.model.kubelet (re-exported here for the modules that import them from the node).
"""

from __future__ import annotations

import time
from typing import Any

from localsvc.model.clock import docker_time
from localsvc.model.kubelet import schedule_restart
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

__all__ = [
    "BACKOFF_RESET_SECONDS",
    "ContainerState",
    "PodState",
    "count_lost_attempts",
    "fingerprint",
    "latest_attempts",
    "not_ready_reason",
    "observe",
    "phase_of",
    "pod_status",
    "schedule_restart",
]


def count_lost_attempts(s: PodState, found: list[dict[str, str]]) -> None:
    """The sandbox of an adopted pod is gone: its containers start again as new attempts.
    `found` holds the labels of the pod's containers still there."""
    for labels in found:
        name = labels.get(L.CONTAINER) or ""
        target = s.containers.get(name) or s.init.get(name)
        if target:
            target.attempt = max(target.attempt, int(labels.get(L.ATTEMPT, "0")) + 1)


def latest_attempts(found: list[dict[str, str]]) -> dict[str, int]:
    """Container name -> index in `found` (the pod's containers' labels) of its latest attempt."""
    latest: dict[str, int] = {}
    for i, labels in enumerate(found):
        if labels.get(L.ROLE) != L.ROLE_POD_CONTAINER:
            continue
        name = labels.get(L.CONTAINER, "")
        attempt = int(labels.get(L.ATTEMPT, "0"))
        if name not in latest or attempt > int(found[latest[name]].get(L.ATTEMPT, "0")):
            latest[name] = i
    return latest


def observe(c: ContainerState, container_id: str, st: dict[str, Any]) -> None:
    """Update `c` from a Docker container's inspect data (`State`)."""
    c.container_id = container_id
    c.started_at = docker_time(st.get("StartedAt"))
    if st.get("Running"):
        c.state, c.reason, c.message = "running", "", ""
        return
    if st.get("Status") == "created":
        c.state, c.reason = "waiting", "ContainerCreating"
        return
    c.state = "terminated"
    c.exit_code = int(st.get("ExitCode", 0))
    c.finished_at = docker_time(st.get("FinishedAt")) or time.time()
    c.reason = "OOMKilled" if st.get("OOMKilled") else (
        "Completed" if c.exit_code == 0 else "Error"
    )


