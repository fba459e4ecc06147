"""What the kubelet knows of a pod and how Kubernetes shows it: pure data, no Docker.

`ContainerState` and `PodState` are the pod worker's view of the pod's containers (the latest
attempt of each); `pod_status` renders them as the pod's `status`, with the Ready condition
saying why a pod is not ready (failing readiness probes included: localsvc has no Events). The
decisions taken on this state are in localsvc.model.kubelet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from localsvc.model.clock import iso_time

# A container that ran this long before exiting resets its back-off, as the kubelet does.
BACKOFF_RESET_SECONDS = 600.0


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
    kill_reason: str = ""  # a liveness or startup probe failed: why this instance must go
    kill_probe: str = ""  # which of them ("liveness", "startup")

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


class TransitionTimes:
    """When each of a pod's conditions last changed status: the kubelet keeps a condition's
    lastTransitionTime while its status stays and stamps the moment it flips
    (updateLastTransitionTime in pkg/kubelet/kubelet_pods.go). Tools read it as "ready since"
    (`kubectl describe`, the dashboard's endpoint history)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, str | None]] = {}

    def stamp(self, conditions: list[dict[str, Any]], now: float) -> None:
        for condition in conditions:
            if "lastTransitionTime" in condition:
                continue  # PodScheduled: the pod's creation
            seen = self._seen.get(condition["type"])
            if seen is None or seen[0] != condition["status"]:
                seen = self._seen[condition["type"]] = (condition["status"], iso_time(now))
            condition["lastTransitionTime"] = seen[1]


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
    transitions: TransitionTimes = field(default_factory=TransitionTimes, compare=False,
                                         repr=False)

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


def phase_of(containers: list[ContainerState]) -> str:
    if all(c.state == "terminated" for c in containers):
        return "Succeeded" if all(c.exit_code == 0 for c in containers) else "Failed"
    if any(c.container_id for c in containers):
        return "Running"
    return "Pending"


def pod_status(s: PodState, stopping: bool, created: float | None, node_ip: str,
               now: float | None = None) -> dict[str, Any]:
    """The pod's `status` as the kubelet reports it; with `now`, conditions that changed status
    since the last call are stamped with it (s.transitions keeps the times)."""
    ready = s.ready and not stopping
    not_ready = not_ready_reason(s) if not ready else {}
    conditions: list[dict[str, Any]] = [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": iso_time(created)},
        {"type": "Initialized", "status": "True" if s.init_done else "False"},
        {"type": "ContainersReady", "status": "True" if ready else "False", **not_ready},
        {"type": "Ready", "status": "True" if ready else "False", **not_ready},
    ]
    if now is not None:
        s.transitions.stamp(conditions, now)
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
