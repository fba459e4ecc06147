"""Adoption: what a new node process makes of the containers a previous one left for a pod.

The node can restart (an upgrade, a crash, the engine restarting) while its pods run on. A new
pod worker then finds the pod's containers by its uid and, like a kubelet restarting on a node,
takes them over instead of starting them again: the sandbox keeps its IP, each container its
restart count and state. When the sandbox is gone, the pod starts again from scratch and every
container left over counts as a restart (its next attempt is one higher), as the kubelet counts a
sandbox lost under a running pod.

`decide_adoption(pod, leftovers)` is pure: the executor (node/podworker.py) turns Docker's
containers into `Leftover`s (node/podstate.py reads their labels), removes what DiscardLeftovers
names, and applies every action to the state with `apply_adoption`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from localsvc.model.clock import docker_time
from localsvc.model.kubelet_state import ContainerState, PodState, phase_of


@dataclass(frozen=True)
class Leftover:
    """One container a previous node process made for the pod, as Docker shows it now."""

    id: str
    sandbox: bool  # the pod's infra container (its network namespace and IP)
    name: str  # the pod container's name ("" for the sandbox)
    attempt: int  # the restart count it was started as
    running: bool
    state: Mapping[str, Any]  # Docker's State of the container
    ip: str = ""  # the sandbox's address on the environment's network


@dataclass(frozen=True)
class DiscardLeftovers:
    """The sandbox is gone: remove these containers; the pod starts again."""

    ids: tuple[str, ...]


@dataclass(frozen=True)
class AdoptSandbox:
    infra_id: str
    pod_ip: str
    started_at: float | None


@dataclass(frozen=True)
class AdoptContainer:
    """Take over the latest attempt of container `name`."""

    name: str
    container_id: str
    attempt: int
    state: Mapping[str, Any]


@dataclass(frozen=True)
class CountLostAttempt:
    """Container `name`'s next start is attempt `attempt` (a lost sandbox's restart)."""

    name: str
    attempt: int


@dataclass(frozen=True)
class InitDone:
    """The init containers need not run again: an app container had already started, or there
    are none."""


AdoptAction = DiscardLeftovers | AdoptSandbox | AdoptContainer | CountLostAttempt | InitDone


def _latest(leftovers: Sequence[Leftover]) -> dict[str, Leftover]:
    """Container name -> its latest attempt among the leftovers (sandboxes aside)."""
    latest: dict[str, Leftover] = {}
    for found in leftovers:
        if found.sandbox:
            continue
        if found.name not in latest or found.attempt > latest[found.name].attempt:
            latest[found.name] = found
    return latest


def _never_started(found: Leftover) -> bool:
    return found.state.get("Status") == "created"


def _known(pod: PodState, name: str) -> bool:
    return name in pod.containers or name in pod.init


def decide_adoption(pod: PodState, leftovers: Sequence[Leftover]) -> list[AdoptAction]:
    """What to make of a pod's `leftovers` (nothing when there are none)."""
    if not leftovers:
        return []
    sandboxes = [found for found in leftovers if found.sandbox]
    if not sandboxes or not sandboxes[0].running:
        counted: dict[str, int] = {}
        for found in leftovers:
            # One created but never started (made alongside its sandbox: node/podearly.py) never
            # ran: no restart to count.
            if not found.sandbox and _known(pod, found.name) and not _never_started(found):
                counted[found.name] = max(counted.get(found.name, 0), found.attempt + 1)
        return [DiscardLeftovers(tuple(found.id for found in leftovers)),
                *(CountLostAttempt(name, attempt) for name, attempt in counted.items())]
    sandbox = sandboxes[0]
    actions: list[AdoptAction] = [
        AdoptSandbox(sandbox.id, sandbox.ip, docker_time(sandbox.state.get("StartedAt")))]
    latest = _latest(leftovers)
    actions += [AdoptContainer(name, found.id, found.attempt, found.state)
                for name, found in latest.items() if _known(pod, name)]
    if any(name in pod.containers for name in latest) or not pod.init:
        actions.append(InitDone())
    return actions


def observe(c: ContainerState, container_id: str, st: Mapping[str, Any], now: float) -> None:
    """Update `c` from a Docker container's inspect data (`State`); `now` stands in for a
    finish time Docker did not record."""
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
    c.finished_at = docker_time(st.get("FinishedAt")) or now
    c.reason = "OOMKilled" if st.get("OOMKilled") else (
        "Completed" if c.exit_code == 0 else "Error"
    )


def apply_adoption(action: AdoptAction, pod: PodState, now: float) -> None:
    """What `action` changes in the state (removing containers is the executor's part)."""
    match action:
        case DiscardLeftovers():
            pass
        case CountLostAttempt(name, attempt):
            target = pod.containers.get(name) or pod.init[name]
            target.attempt = max(target.attempt, attempt)
        case AdoptSandbox(infra_id, pod_ip, started_at):
            pod.infra_id, pod.pod_ip, pod.started_at = infra_id, pod_ip, started_at
        case AdoptContainer(name, container_id, attempt, state):
            target = pod.containers.get(name) or pod.init[name]
            target.attempt = attempt
            observe(target, container_id, state, now)
            # The phase the containers give (served before the worker's first step): a pod
            # whose containers ended stays Succeeded or Failed across a node restart.
            pod.phase = phase_of(list(pod.containers.values()))
        case InitDone():
            pod.init_done = True


__all__ = [
    "AdoptAction",
    "AdoptContainer",
    "AdoptSandbox",
    "CountLostAttempt",
    "DiscardLeftovers",
    "InitDone",
    "Leftover",
    "apply_adoption",
    "decide_adoption",
    "observe",
]
