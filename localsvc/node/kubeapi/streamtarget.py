"""The Docker container a pods/exec or pods/attach session reaches: the running attempt of the
named container of the pod (found by its labels), with the settings attach follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localsvc.node.controller import Controller
from localsvc.runtime import labels as L
from localsvc.runtime.pods import find_pod_containers


@dataclass(frozen=True)
class StreamTarget:
    container_id: str
    tty: bool  # created with a TTY: its attach stream is raw, not multiplexed
    stdin: bool  # created with stdin open: attach may write to it


def running_container(controller: Controller, pod: dict[str, Any],
                      container: str) -> StreamTarget | None:
    """The running container `container` of `pod`; None when it is not running (never started,
    exited, restarting). Blocking: call it in a thread."""
    uid = str(pod.get("metadata", {}).get("uid", ""))
    if not uid:
        return None
    for candidate in find_pod_containers(controller.ctx.docker, controller.ctx.config.env, uid):
        labels = candidate.labels or {}
        if labels.get(L.ROLE) != L.ROLE_POD_CONTAINER or labels.get(L.CONTAINER) != container:
            continue
        state = candidate.attrs.get("State") or {}
        if state.get("Running") and not state.get("Restarting"):
            config = candidate.attrs.get("Config") or {}
            return StreamTarget(candidate.id, bool(config.get("Tty")),
                                bool(config.get("OpenStdin")))
    return None
