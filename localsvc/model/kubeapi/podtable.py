"""The Pod row of a Table, as the 1.32 API server's printPod writes it. Pure.

STATUS is the reason kubectl users know: the phase, replaced by the pod's reason, then by the
first init container that has not finished ("Init:1/3", "Init:CrashLoopBackOff",
"Init:ExitCode:1"), else by the last app container that waits or terminated ("CrashLoopBackOff",
"ContainerCreating", "Completed", "Error", "ExitCode:2"); "Completed" with a container still
running and ready turns back into "Running" (or "NotReady" without the Ready condition), and a
pod being deleted is "Terminating". RESTARTS adds "(5m ago)" from the latest termination.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localsvc.model.kubeapi.tablecells import AGE, NAME, NONE, Column, age, dig, name_of, since
from localsvc.model.kubeapi.tablecells import condition_true, timestamp

COLUMNS = (
    NAME,
    Column("Ready", text="The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", text="The aggregate status of the containers in this pod."),
    Column("Restarts", text="The number of times the containers in this pod have been restarted "
                            "and when the last container in this pod has restarted."),
    AGE,
    Column("IP", priority=1, doc="PodStatus.podIP"),
    Column("Node", priority=1, doc="PodSpec.nodeName"),
    Column("Nominated Node", priority=1, doc="PodStatus.nominatedNodeName"),
    Column("Readiness Gates", priority=1, doc="PodSpec.readinessGates"),
)

SUCCEEDED_CONDITIONS = [{"type": "Completed", "status": "True", "reason": "Succeeded",
                         "message": "The pod has completed successfully."}]
FAILED_CONDITIONS = [{"type": "Completed", "status": "True", "reason": "Failed",
                      "message": "The pod failed."}]


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value or [] if isinstance(item, Mapping)] \
        if isinstance(value, list) else []


def _terminated_reason(terminated: Mapping[str, Any], prefix: str = "") -> str:
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


class _Restarts:
    """The restart count and the latest termination seen, in the order printPod adds them."""

    def __init__(self) -> None:
        self.count = 0
        self.last: str | None = None
        self._last_at: float | None = None

    def add(self, status: Mapping[str, Any]) -> None:
        count = status.get("restartCount") or 0
        self.count += count if isinstance(count, int) else 0
        finished = dig(status, "lastState", "terminated", "finishedAt")
        moment = timestamp(finished)
        if moment is not None and (self._last_at is None or moment > self._last_at):
            self.last, self._last_at = str(finished), moment

    def cell(self, now: float) -> str:
        if self.count and self.last is not None:
            return f"{self.count} ({since(self.last, now)} ago)"
        return str(self.count)


def pod_row(pod: Mapping[str, Any], now: float) -> tuple[list[Any], list[dict[str, str]]]:
    """The cells (all columns, wide included) and the row conditions of one Pod."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or phase)
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in _list(status.get("conditions"))):
        reason = "SchedulingGated"
    init_specs = {str(c.get("name")): c for c in _list(spec.get("initContainers"))}
    sidecars = {name for name, c in init_specs.items() if c.get("restartPolicy") == "Always"}
    total = len(_list(spec.get("containers"))) + len(sidecars)
    ready = 0
    restarts, sidecar_restarts = _Restarts(), _Restarts()

    initializing = False
    for index, container in enumerate(_list(status.get("initContainerStatuses"))):
        restarts.add(container)
        is_sidecar = container.get("name") in sidecars
        if is_sidecar:
            sidecar_restarts.add(container)
        terminated = dig(container, "state", "terminated")
        waiting_reason = dig(container, "state", "waiting", "reason")
        if isinstance(terminated, Mapping) and terminated.get("exitCode", 0) == 0:
            continue
        if is_sidecar and container.get("started") is True:
            ready += 1 if container.get("ready") else 0
            continue
        if isinstance(terminated, Mapping):
            reason = _terminated_reason(terminated, "Init:")
        elif waiting_reason and waiting_reason != "PodInitializing":
            reason = f"Init:{waiting_reason}"
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or condition_true(pod, "Initialized"):
        restarts = sidecar_restarts
        has_running = False
        for container in reversed(_list(status.get("containerStatuses"))):
            restarts.add(container)
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if isinstance(waiting, Mapping) and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif isinstance(terminated, Mapping):
                reason = _terminated_reason(terminated)
            elif container.get("ready") and isinstance(state.get("running"), Mapping):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if condition_true(pod, "Ready") else "NotReady"

    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    cells: list[Any] = [name_of(pod), f"{ready}/{total}", reason, restarts.cell(now),
                        age(pod, now)]
    cells += [_pod_ip(status), spec.get("nodeName") or NONE,
              status.get("nominatedNodeName") or NONE, _readiness_gates(spec, status)]
    conditions = {"Succeeded": SUCCEEDED_CONDITIONS, "Failed": FAILED_CONDITIONS}.get(phase, [])
    return cells, [dict(c) for c in conditions]


def _pod_ip(status: Mapping[str, Any]) -> str:
    ips = _list(status.get("podIPs"))
    ip = ips[0].get("ip") if ips else status.get("podIP")
    return str(ip) if ip else NONE


def _readiness_gates(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    gates = _list(spec.get("readinessGates"))
    if not gates:
        return NONE
    conditions = _list(status.get("conditions"))
    passed = 0
    for gate in gates:
        match = next((c for c in conditions if c.get("type") == gate.get("conditionType")), None)
        passed += 1 if match is not None and match.get("status") == "True" else 0
    return f"{passed}/{len(gates)}"
