"""What a pod worker knows of its pod, and how Kubernetes shows it (pure: no Docker calls).

`ContainerState` and `PodState` are the worker's view of the pod's containers (the latest
attempt of each); `pod_status` renders them as the pod's `status`, with the Ready condition
saying why a pod is not ready (failing readiness probes included: localsvc has no Events).
"""

from __future__ import annotations

import time
from datetime import datetime
from dataclasses import dataclass, field
from typing import Any

from localsvc.model.podplan import backoff_seconds
from localsvc.runtime import labels as L

# A container that ran this long before exiting resets its back-off, as the kubelet does.
BACKOFF_RESET_SECONDS = 600.0


def iso_time(ts: float | None) -> str | None:
    if not ts:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def parse_docker_time(text: str | None) -> float | None:
    if not text or text.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00").timestamp()
    except ValueError:
        return None


@dataclass
class ContainerState:
    """What the worker knows of one container of the pod (the latest attempt)."""

    name: str
    image: str
    init: bool
    attempt: int = 0  # == restartCount
    container_id: str | None = None
    state: str = "waiting"  # waiting | running | terminated
    reason: str = "ContainerCreating"
    message: str = ""
    exit_code: int | None = None
    started_at: float | None = None
    finished_at: float | None = None
    last_terminated: dict[str, Any] | None = None
    crash_level: int = 0  # back-off step; reset after a long run
    retry_at: float = 0.0  # when a waiting container may be (re)started
    ready: bool = False
    probed: bool = False  # has a readiness or startup probe: ready only once it passes
    probe_ready: bool = False
    probe_message: str = ""  # why the readiness probe last failed, shown in the Ready condition

    def k8s(self) -> dict[str, Any]:
        if self.state == "running":
            state: dict[str, Any] = {"running": {"startedAt": iso_time(self.started_at)}}
        elif self.state == "terminated":
            state = {
                "terminated": {
                    "exitCode": self.exit_code,
                    "reason": self.reason,
                    "startedAt": iso_time(self.started_at),
                    "finishedAt": iso_time(self.finished_at),
                    "containerID": f"docker://{self.container_id}" if self.container_id else None,
                }
            }
        else:
            state = {"waiting": {"reason": self.reason, "message": self.message or None}}
        out: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "ready": self.ready,
            "started": self.state == "running",
            "restartCount": self.attempt,
            "state": state,
            "lastState": {"terminated": self.last_terminated} if self.last_terminated else {},
        }
        if self.container_id:
            out["containerID"] = f"docker://{self.container_id}"
        return out


@dataclass
class PodState:
    phase: str = "Pending"
    reason: str = ""
    message: str = ""
    pod_ip: str = ""
    infra_id: str | None = None
    started_at: float | None = None
    init_done: bool = False
    init: dict[str, ContainerState] = field(default_factory=dict)
    containers: dict[str, ContainerState] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return (
            self.phase == "Running"
            and bool(self.containers)
            and all(c.ready for c in self.containers.values())
        )


def fingerprint(s: PodState) -> tuple[Any, ...]:
    """What, when it changes, the controller must hear about."""
    return (
        s.phase,
        s.pod_ip,
        s.reason,
        tuple(
            (c.state, c.reason, c.attempt, c.ready, c.container_id)
            for c in [*s.init.values(), *s.containers.values()]
        ),
    )


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
    c.started_at = parse_docker_time(st.get("StartedAt"))
    if st.get("Running"):
        c.state, c.reason, c.message = "running", "", ""
        return
    if st.get("Status") == "created":
        c.state, c.reason = "waiting", "ContainerCreating"
        return
    c.state = "terminated"
    c.exit_code = int(st.get("ExitCode", 0))
    c.finished_at = parse_docker_time(st.get("FinishedAt")) or time.time()
    c.reason = "OOMKilled" if st.get("OOMKilled") else (
        "Completed" if c.exit_code == 0 else "Error"
    )


def schedule_restart(c: ContainerState, pod_name: str) -> None:
    """A terminated container waits for its back-off, then starts again."""
    ran = (c.finished_at or 0) - (c.started_at or 0)
    if ran >= BACKOFF_RESET_SECONDS:
        c.crash_level = 0
    c.last_terminated = {
        "exitCode": c.exit_code,
        "reason": c.reason,
        "startedAt": iso_time(c.started_at),
        "finishedAt": iso_time(c.finished_at),
        "containerID": f"docker://{c.container_id}" if c.container_id else None,
    }
    delay = backoff_seconds(c.crash_level)
    c.crash_level += 1
    c.state = "waiting"
    c.reason = "CrashLoopBackOff" if delay > 0 else "ContainerCreating"
    c.message = (
        f"back-off {int(delay)}s restarting failed container={c.name} pod={pod_name}"
        if delay > 0
        else ""
    )
    c.retry_at = time.time() + delay


def phase_of(containers: list[ContainerState]) -> str:
    if all(c.state == "terminated" for c in containers):
        return "Succeeded" if all(c.exit_code == 0 for c in containers) else "Failed"
    if any(c.container_id for c in containers):
        return "Running"
    return "Pending"


def pod_status(s: PodState, stopping: bool, created: float | None, node_ip: str) -> dict[str, Any]:
    """The pod's `status` as the kubelet reports it."""
    ready = s.ready and not stopping
    not_ready = not_ready_reason(s) if not ready else {}
    conditions = [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": iso_time(created)},
        {"type": "Initialized", "status": "True" if s.init_done else "False"},
        {"type": "ContainersReady", "status": "True" if ready else "False", **not_ready},
        {"type": "Ready", "status": "True" if ready else "False", **not_ready},
    ]
    status: dict[str, Any] = {
        "phase": s.phase,
        "conditions": conditions,
        "hostIP": node_ip,
        "podIP": s.pod_ip or None,
        "podIPs": [{"ip": s.pod_ip}] if s.pod_ip else [],
        "startTime": iso_time(s.started_at),
        "containerStatuses": [c.k8s() for c in s.containers.values()],
    }
    if s.init:
        status["initContainerStatuses"] = [c.k8s() for c in s.init.values()]
    if s.reason:
        status["reason"], status["message"] = s.reason, s.message
    return status


def not_ready_reason(s: PodState) -> dict[str, str]:
    """Reason and message of a not-ready pod's Ready condition, as the kubelet words them, with
    the failing readiness probes' messages added (localsvc has no Events to carry them)."""
    unready = [c for c in s.containers.values() if not c.ready]
    if not unready:
        return {}
    message = f"containers with unready status: [{' '.join(c.name for c in unready)}]"
    probes = [f"{c.name}: {c.probe_message}" for c in unready if c.probe_message]
    if probes:
        message += "; " + "; ".join(probes)
    return {"reason": "ContainersNotReady", "message": message}
