"""What `get pods` and readiness waits read from objects' status, as kubectl shows it. Pure."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def pod_ready(pod: Obj) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") == "Succeeded":
        return True
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in status.get("conditions") or [])


def deployment_complete(d: Obj) -> bool:
    want = int(d["spec"].get("replicas", 1))
    s = d.get("status") or {}
    return s.get("replicas") == want and s.get("updatedReplicas") == want and s.get("readyReplicas") == want


def pod_reason(pod: Obj) -> str:
    """The STATUS column of `kubectl get pods`."""
    meta, status = pod["metadata"], pod.get("status") or {}
    if meta.get("deletionTimestamp"):
        return "Terminating"
    inits = status.get("initContainerStatuses") or []
    done = sum(1 for c in inits if "terminated" in c["state"] and c["state"]["terminated"].get("exitCode") == 0)
    if inits and done < len(inits):
        for c in inits:
            terminated = c["state"].get("terminated")
            if terminated and terminated.get("exitCode") != 0:
                return "Init:" + (terminated.get("reason") or f"ExitCode:{terminated.get('exitCode')}")
            waiting = c["state"].get("waiting")
            if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
                return f"Init:{waiting['reason']}"
        return f"Init:{done}/{len(inits)}"
    reason = status.get("phase", "Pending")
    for c in status.get("containerStatuses") or []:
        state = c.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            return str(state["waiting"]["reason"])
        if "terminated" in state and status.get("phase") not in ("Succeeded", "Failed"):
            return str(state["terminated"].get("reason") or "Error")
    if status.get("phase") == "Succeeded":
        return "Completed"
    if status.get("phase") == "Failed":
        return status.get("reason") or "Error"
    return str(reason)
