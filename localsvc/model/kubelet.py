"""The kubelet's decisions for one pod, as a pure function: `decide(spec, pod, infra, now)`.

The pod worker (localsvc.node.podworker) observes its containers through Docker, calls
`decide`, and performs the actions it returns, in order; what an action does to the worker's
state is written here too (`schedule_restart`, `image_pull_failed`, ...), so that every rule
(init-container order, restart policy, crash back-off, phase, readiness) is in one place and
unit-tested without Docker. Times are the caller's clock (`now`, seconds since the epoch).
"""

from __future__ import annotations

from dataclasses import dataclass

from localsvc.model.clock import iso_time
from localsvc.model.kubelet_state import (
    BACKOFF_RESET_SECONDS,
    ContainerState,
    PodState,
    phase_of,
)
from localsvc.model.podplan import backoff_seconds

FINISHED_PHASES = ("Succeeded", "Failed")


@dataclass(frozen=True)
class KubeletSpec:
    """What `decide` needs of the pod's spec (and of the plan made from it)."""

    restart_policy: str  # Always | OnFailure | Never
    init: tuple[str, ...]  # init container names, in the order they run
    containers: tuple[str, ...]
    config_error: str = ""  # why the containers' config cannot be made (a missing ConfigMap...)


# ---- actions: plain data the executor performs ----------------------------------------------


@dataclass(frozen=True)
class ConfigFailed:
    """Waiting containers show CreateContainerConfigError with `message`; nothing starts."""

    message: str


@dataclass(frozen=True)
class CreateSandbox:
    """Create the pod's volumes and infra container (its network namespace and IP)."""


@dataclass(frozen=True)
class RecreateSandbox:
    """The infra container is gone: remove what is left and start the pod over."""


@dataclass(frozen=True)
class FailPod:
    reason: str


@dataclass(frozen=True)
class BackOff:
    """A terminated container waits for its back-off before it starts again."""

    name: str
    init: bool = False


@dataclass(frozen=True)
class Start:
    """Pull the image if needed, create and start the container (a new attempt)."""

    name: str
    init: bool = False


@dataclass(frozen=True)
class Kill:
    """Stop the running container (its grace period given): a liveness or startup probe
    failed. It then exits and restarts by its restart policy, like any other exit."""

    name: str
    reason: str
    probe: str = ""  # "liveness" or "startup": which probe failed (the Killing event says so)


@dataclass(frozen=True)
class MarkInitDone:
    """Every init container succeeded: the app containers may start."""


@dataclass(frozen=True)
class SyncProbes:
    """Run the probes of each running app container (new instance, new probers)."""


@dataclass(frozen=True)
class Settle:
    """Work out each app container's readiness and the pod's phase (see `settle`)."""


Action = (
    ConfigFailed | CreateSandbox | RecreateSandbox | FailPod | BackOff | Start | Kill
    | MarkInitDone | SyncProbes | Settle
)


# ---- the decision -------------------------------------------------------------------------


def finished(pod: PodState) -> bool:
    return pod.phase in FINISHED_PHASES


def restarts(policy: str, exit_code: int | None) -> bool:
    """Whether restartPolicy `policy` restarts a container that exited with `exit_code`."""
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


def decide(spec: KubeletSpec, pod: PodState, infra_running: bool, now: float) -> list[Action]:
    """The actions that move `pod` (as last observed) towards what `spec` asks. An empty list:
    wait (for a back-off to end, a running init container to exit, or a Docker event)."""
    if finished(pod):
        return []
    if spec.config_error:
        return [ConfigFailed(spec.config_error)]
    if pod.infra_id is None:
        return [CreateSandbox()]
    if not infra_running:
        return [RecreateSandbox()]
    actions: list[Action] = []
    if not pod.init_done:
        init_actions = _decide_init(spec, pod, now)
        if init_actions is not None:
            return init_actions
        actions.append(MarkInitDone())
    for name in spec.containers:
        c = pod.containers[name]
        retry_at = c.retry_at
        waiting = c.state == "waiting"
        if c.state == "terminated" and restarts(spec.restart_policy, c.exit_code):
            actions.append(BackOff(name))
            retry_at, waiting = now + restart_delay(c)[1], True
        if waiting and retry_at <= now:
            actions.append(Start(name))
        if c.state == "running" and c.kill_reason:
            actions.append(Kill(name, c.kill_reason, c.kill_probe))
    return [*actions, SyncProbes(), Settle()]


def _decide_init(spec: KubeletSpec, pod: PodState, now: float) -> list[Action] | None:
    """Init containers run one after another, each to success, before any app container.
    None when all have succeeded."""
    for name in spec.init:
        c = pod.init[name]
        if c.state == "terminated" and c.exit_code == 0:
            continue
        if c.state == "running":
            return []  # its exit wakes the worker (a Docker event, or the resync)
        if c.state == "terminated":
            if spec.restart_policy == "Never":
                return [FailPod("InitContainerFailed")]
            restart: list[Action] = [BackOff(name, init=True)]
            if restart_delay(c)[1] <= 0:  # no back-off yet: start it again in this step
                restart.append(Start(name, init=True))
            return restart
        return [Start(name, init=True)] if c.retry_at <= now else []
    return None


# ---- what the actions do to the state -------------------------------------------------------


def restart_delay(c: ContainerState) -> tuple[int, float]:
    """(back-off step, seconds to wait) before terminated `c` starts again: 0 s the first time,
    then 10 s doubling to 5 minutes; a container that ran 10 minutes starts over at 0."""
    ran = (c.finished_at or 0) - (c.started_at or 0)
    level = 0 if ran >= BACKOFF_RESET_SECONDS else c.crash_level
    return level, backoff_seconds(level)


def schedule_restart(c: ContainerState, pod_name: str, now: float) -> None:
    """A terminated container waits for its back-off (CrashLoopBackOff), then starts again."""
    level, delay = restart_delay(c)
    c.last_terminated = {
        "exitCode": c.exit_code,
        "reason": c.reason,
        "startedAt": iso_time(c.started_at),
        "finishedAt": iso_time(c.finished_at),
        "containerID": f"docker://{c.container_id}" if c.container_id else None,
    }
    c.crash_level = level + 1
    c.state = "waiting"
    c.reason = "CrashLoopBackOff" if delay > 0 else "ContainerCreating"
    c.message = (
        f"back-off {int(delay)}s restarting failed container={c.name} pod={pod_name}"
        if delay > 0
        else ""
    )
    c.retry_at = now + delay


def config_failed(pod: PodState, message: str) -> None:
    for c in [*pod.init.values(), *pod.containers.values()]:
        if c.state == "waiting":
            c.reason, c.message = "CreateContainerConfigError", message


def image_pull_failed(c: ContainerState, message: str, now: float) -> None:
    """ErrImagePull the first time, ImagePullBackOff after, retried with the crash back-off."""
    c.crash_level += 1
    c.state = "waiting"
    c.reason = "ErrImagePull" if c.crash_level == 1 else "ImagePullBackOff"
    c.message = message
    c.retry_at = now + backoff_seconds(c.crash_level)


def create_failed(c: ContainerState, message: str, now: float,
                  reason: str = "CreateContainerError") -> None:
    """The container could not be made (CreateContainerConfigError: its mounts' subPath);
    tried again after the crash back-off."""
    c.state, c.reason, c.message = "waiting", reason, message
    c.crash_level += 1
    c.retry_at = now + backoff_seconds(c.crash_level)


def created_with_sandbox(spec: KubeletSpec, pod: PodState) -> tuple[str, ...]:
    """The containers that may be created (not started) while the sandbox starts: those that
    start right after it, the first attempt of each app container of a pod without init
    containers. (Docker joins a container to the sandbox's namespaces at its own start.)"""
    if spec.init or spec.config_error or pod.infra_id is not None:
        return ()
    firsts = [name for name in spec.containers
              if (c := pod.containers.get(name)) is not None and c.container_id is None
              and c.attempt == 0 and c.state == "waiting"]
    return tuple(firsts) if len(firsts) == len(spec.containers) else ()


def next_attempt(c: ContainerState) -> int:
    """The attempt number (restartCount) of `c`'s next container: a restart counts one."""
    return c.attempt + (1 if c.container_id else 0)


def probe_failed(c: ContainerState, container_id: str, reason: str, probe: str = "") -> bool:
    """A liveness or startup probe (`probe`) of instance `container_id` of `c` failed: mark it
    to be killed (once); False when that instance no longer runs (the verdict came too late)."""
    if c.container_id != container_id or c.state != "running" or c.kill_reason:
        return False
    c.kill_reason, c.kill_probe = reason, probe
    return True


def started(c: ContainerState, container_id: str, attempt: int, now: float) -> None:
    c.kill_reason = c.kill_probe = ""
    c.attempt = attempt
    c.container_id = container_id
    c.state, c.reason, c.message = "running", "", ""
    c.started_at = now


def sandbox_created(pod: PodState, infra_id: str, pod_ip: str, now: float) -> None:
    pod.infra_id, pod.pod_ip, pod.started_at = infra_id, pod_ip, now
    pod.reason = pod.message = ""
    if not pod.init:
        pod.init_done = True


def sandbox_failed(pod: PodState, message: str) -> None:
    pod.reason, pod.message = "FailedCreatePodSandBox", message


def sandbox_lost(pod: PodState) -> None:
    """The infra container is gone (its containers with it): every container starts again as a
    new attempt, init containers first, as the kubelet does for a new sandbox."""
    pod.infra_id = None
    pod.pod_ip = ""
    pod.init_done = not pod.init
    for c in [*pod.init.values(), *pod.containers.values()]:
        if c.container_id:
            c.attempt += 1
        c.container_id, c.state, c.reason, c.ready = None, "waiting", "ContainerCreating", False
    pod.phase = "Pending"


def container_vanished(c: ContainerState, now: float) -> None:
    """A running container removed behind our back counts as killed."""
    c.state, c.exit_code, c.reason = "terminated", 137, "Error"
    c.finished_at = now


def fail_pod(pod: PodState, reason: str) -> None:
    pod.phase, pod.reason = "Failed", reason


def settle(pod: PodState) -> None:
    """Each app container is ready when running and its readiness (or startup) probe passed, if
    it has one; the phase follows the app containers."""
    for c in pod.containers.values():
        c.ready = c.state == "running" and (c.probe_ready or not c.probed)
    pod.phase = phase_of(list(pod.containers.values()))


def apply(action: Action, pod: PodState, pod_name: str, now: float) -> None:
    """The part of `action` that only changes the state (the executor does the Docker part)."""
    match action:
        case ConfigFailed(message):
            config_failed(pod, message)
        case FailPod(reason):
            fail_pod(pod, reason)
        case BackOff(name, init):
            schedule_restart((pod.init if init else pod.containers)[name], pod_name, now)
        case Kill(name):
            # Asked once; its exit shows it happened.
            pod.containers[name].kill_reason = pod.containers[name].kill_probe = ""
        case MarkInitDone():
            pod.init_done = True
        case Settle():
            settle(pod)
        case _:
            raise ValueError(f"{action!r} needs Docker: the executor performs it")
