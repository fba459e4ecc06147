"""What the Job controller does next, as a pure function of a Job's pods and its memory.

Mirrors pkg/controller/job (Kubernetes 1.32, NonIndexed completion): `parallelism` pods at once
until `completions` succeeded (or, with no `completions`, until one succeeded and the rest
ended: work-queue semantics); failed pods (restartPolicy Never) count against `backoffLimit`,
and so do container restarts of running pods (OnFailure: the kubelet restarts in place); a
failed pod is replaced after the controller's back-off (10 s doubling, at most 6 minutes, reset
by a success); `activeDeadlineSeconds` from the start; `suspend`. As in 1.32 (JobManagedBy and
JobPodReplacementPolicy on) a finishing Job first gets SuccessCriteriaMet or FailureTarget, its
active pods are deleted, and Complete or Failed follows once none is left.
`ttlSecondsAfterFinished` then deletes the Job (the TTL-after-finished controller).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from localsvc.model.clock import iso_time
from localsvc.model.jobindex import format_indexes, next_indexes, parse_indexes
from localsvc.model.jobselector import CONTROLLER_UID, JOB_NAME, with_generated_selector

Obj = dict[str, Any]

POD_FAILURE_BACKOFF = 10.0  # DefaultJobPodFailureBackOff
MAX_POD_FAILURE_BACKOFF = 360.0  # MaxJobPodFailureBackOff
DEFAULT_BACKOFF_LIMIT = 6


COMPLETE, FAILED = "Complete", "Failed"
SUCCESS_CRITERIA_MET, FAILURE_TARGET, SUSPENDED = "SuccessCriteriaMet", "FailureTarget", "Suspended"
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")


def pod_failure_backoff(failures_after_success: int) -> float:
    """How long after its last failure a failed pod is replaced (the controller's back-off)."""
    if failures_after_success <= 0:
        return 0.0
    return min(MAX_POD_FAILURE_BACKOFF,
               POD_FAILURE_BACKOFF * 2.0 ** min(failures_after_success - 1, 32))


@dataclass(frozen=True)
class JobPod:
    """What the controller reads of one of the Job's pods."""

    name: str
    uid: str
    phase: str  # Pending | Running | Succeeded | Failed
    ready: bool = False
    restarts: int = 0  # container restarts (init and app), what OnFailure counts
    finished_at: float | None = None  # when its last container ended (Succeeded/Failed)
    created: float = 0.0
    index: int | None = None  # its completion index (Indexed Jobs)

    @property
    def active(self) -> bool:
        return self.phase not in ("Succeeded", "Failed")


@dataclass
class JobMemory:
    """What the controller keeps of one Job (persisted with the node's state): its status
    fields and which finished pods it has counted."""

    uid: str = ""
    start_time: float | None = None
    completion_time: float | None = None
    finished_at: float | None = None  # Complete or Failed added (the TTL counts from it)
    succeeded: int = 0
    failed: int = 0
    counted: dict[str, str] = field(default_factory=dict)  # pod uid -> its final phase
    failures_after_success: int = 0
    last_failure: float | None = None
    conditions: list[Obj] = field(default_factory=list)
    completed_indexes: str = ""  # Indexed Jobs: the succeeded indexes, "0-2,5"

    @property
    def outcome(self) -> str | None:
        """"Complete" or "Failed" once the Job finished (None while it runs)."""
        return finished_condition(self.conditions)

    def to_json(self) -> Obj:
        return {"uid": self.uid, "startTime": self.start_time,
                "completionTime": self.completion_time, "finishedAt": self.finished_at,
                "succeeded": self.succeeded, "failed": self.failed, "counted": self.counted,
                "failuresAfterSuccess": self.failures_after_success,
                "lastFailure": self.last_failure, "conditions": self.conditions,
                "completedIndexes": self.completed_indexes}

    @classmethod
    def from_json(cls, data: Any) -> JobMemory:
        if not isinstance(data, dict):
            return cls()
        return cls(uid=str(data.get("uid") or ""), start_time=data.get("startTime"),
                   completion_time=data.get("completionTime"),
                   finished_at=data.get("finishedAt"), succeeded=int(data.get("succeeded") or 0),
                   failed=int(data.get("failed") or 0),
                   counted=dict(data.get("counted") or {}),
                   failures_after_success=int(data.get("failuresAfterSuccess") or 0),
                   last_failure=data.get("lastFailure"),
                   conditions=list(data.get("conditions") or []),
                   completed_indexes=str(data.get("completedIndexes") or ""))

    def condition(self, kind: str) -> Obj | None:
        return next((c for c in self.conditions if c.get("type") == kind), None)

    def has(self, kind: str) -> bool:
        found = self.condition(kind)
        return found is not None and found.get("status") == "True"

    def set_condition(self, kind: str, status: str, reason: str, message: str,
                      now: float) -> bool:
        """Add or update a condition; whether it changed."""
        found = self.condition(kind)
        if found is not None and (found.get("status"), found.get("reason"),
                                  found.get("message")) == (status, reason, message):
            return False
        fresh = {"type": kind, "status": status, "lastProbeTime": iso_time(now),
                 "lastTransitionTime": iso_time(now), "reason": reason, "message": message}
        if found is None:
            self.conditions.append(fresh)
        else:
            self.conditions[self.conditions.index(found)] = fresh
        return True

    @property
    def finished(self) -> bool:
        return self.has(COMPLETE) or self.has(FAILED)


@dataclass(frozen=True)
class JobEvent:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class JobStep:
    """What to do now: pods to create and delete, events, whether the TTL deletes the Job, and
    when a clock moves the Job next with no event (a back-off, a deadline, the TTL)."""

    memory: JobMemory
    create: int = 0
    indexes: list[int] = field(default_factory=list)  # Indexed: the index of each to create
    delete: list[str] = field(default_factory=list)
    events: list[JobEvent] = field(default_factory=list)
    delete_job: bool = False
    wake_at: float | None = None


@dataclass(frozen=True)
class JobSpec:
    completions: int | None
    parallelism: int
    backoff_limit: int
    restart_policy: str
    active_deadline: int | None = None
    ttl_after_finished: int | None = None
    suspend: bool = False
    indexed: bool = False

    @classmethod
    def of(cls, spec: Obj) -> JobSpec:
        template = (spec.get("template") or {}).get("spec") or {}

        def optional(name: str) -> int | None:
            value = spec.get(name)
            return None if value is None else int(value)

        parallelism = spec.get("parallelism")
        backoff = spec.get("backoffLimit")
        return cls(optional("completions"), 1 if parallelism is None else int(parallelism),
                   DEFAULT_BACKOFF_LIMIT if backoff is None else int(backoff),
                   str(template.get("restartPolicy") or "Never"),
                   optional("activeDeadlineSeconds"), optional("ttlSecondsAfterFinished"),
                   bool(spec.get("suspend")), spec.get("completionMode") == "Indexed")


def _count_finished(memory: JobMemory, pods: Sequence[JobPod]) -> None:
    """Count the pods that finished since the last step (each once, in the order they ended):
    a success resets the back-off, a failure extends it."""
    fresh = sorted((p for p in pods if not p.active and p.uid not in memory.counted),
                   key=lambda p: p.finished_at or 0.0)
    for pod in fresh:
        memory.counted[pod.uid] = pod.phase
        if pod.phase == "Succeeded" and pod.index is not None:  # each index counts once
            done = parse_indexes(memory.completed_indexes) | {pod.index}
            memory.completed_indexes = format_indexes(done)
            memory.succeeded = len(done)
            memory.failures_after_success = 0
        elif pod.phase == "Succeeded":
            memory.succeeded += 1
            memory.failures_after_success = 0
        else:
            memory.failed += 1
            memory.failures_after_success += 1
            memory.last_failure = max(memory.last_failure or 0.0, pod.finished_at or 0.0)


def _past_backoff_limit_on_failure(spec: JobSpec, pods: Sequence[JobPod]) -> bool:
    """OnFailure: the restarts of the active pods' containers reach the backoffLimit."""
    if spec.restart_policy != "OnFailure":
        return False
    restarts = sum(p.restarts for p in pods if p.active)
    return restarts > 0 if spec.backoff_limit == 0 else restarts >= spec.backoff_limit


def _doomed_first(pods: Sequence[JobPod]) -> list[JobPod]:
    """Active pods to delete first: not ready before ready, newest first (as the controller)."""
    return sorted(pods, key=lambda p: (p.ready, -p.created))


def plan_job(spec: JobSpec, memory: JobMemory, pods: Sequence[JobPod], terminating: int,
             now: float) -> JobStep:
    """The next step of a Job given its pods (`terminating`: its pods being deleted)."""
    memory = copy.deepcopy(memory)
    step = JobStep(memory)
    _count_finished(memory, pods)
    active = [p for p in pods if p.active]
    if memory.finished:
        _expire(spec, step, now)
        return step
    target = memory.condition(SUCCESS_CRITERIA_MET) or memory.condition(FAILURE_TARGET)
    if target is None and spec.suspend:
        _suspend(step, active, now)
        return step
    if target is None:
        if memory.has(SUSPENDED):
            memory.set_condition(SUSPENDED, "False", "JobResumed", "Job resumed", now)
            step.events.append(JobEvent("Normal", "Resumed", "Job resumed"))
        if memory.start_time is None:
            memory.start_time = now
        reached = _finish_target(spec, memory, pods, now)
        if reached is not None:
            step.events.append(JobEvent("Warning", reached[0], reached[1])
                               if reached != COMPLETIONS_REACHED else
                               JobEvent("Normal", "Completed", "Job completed"))
    if memory.condition(SUCCESS_CRITERIA_MET) or memory.condition(FAILURE_TARGET):
        step.delete = [p.name for p in active]
        if not active and terminating == 0:
            _finish(memory, now)
            _expire(spec, step, now)
        else:  # its pods' going is no event of the Job: look again on the next loop
            step.wake_at = now
        return step
    _scale(spec, memory, active, step, now)
    if spec.active_deadline is not None and memory.start_time is not None:
        step.wake_at = _earliest(step.wake_at, memory.start_time + spec.active_deadline)
    return step


def _finish_target(spec: JobSpec, memory: JobMemory, pods: Sequence[JobPod],
                   now: float) -> tuple[str, str] | None:
    """The interim condition the Job reaches now, if any (failure is checked first)."""
    if memory.failed > spec.backoff_limit or _past_backoff_limit_on_failure(spec, pods):
        found: tuple[str, str] | None = BACKOFF_LIMIT_EXCEEDED
    elif spec.active_deadline is not None and memory.start_time is not None \
            and now - memory.start_time >= spec.active_deadline:
        found = DEADLINE_EXCEEDED
    else:
        found = None
    if found is not None:
        memory.set_condition(FAILURE_TARGET, "True", *found, now)
        return found
    active = sum(1 for p in pods if p.active)
    done = memory.succeeded >= spec.completions if spec.completions is not None \
        else memory.succeeded > 0 and active == 0
    if done:
        memory.set_condition(SUCCESS_CRITERIA_MET, "True", *COMPLETIONS_REACHED, now)
        return COMPLETIONS_REACHED
    return None


def _finish(memory: JobMemory, now: float) -> None:
    """No pod is left: the interim condition becomes the terminal one."""
    success = memory.condition(SUCCESS_CRITERIA_MET)
    if success is not None:
        memory.set_condition(COMPLETE, "True", str(success.get("reason")),
                             str(success.get("message")), now)
        memory.completion_time = now
    else:
        failure = memory.condition(FAILURE_TARGET) or {}
        memory.set_condition(FAILED, "True", str(failure.get("reason")),
                             str(failure.get("message")), now)
    memory.finished_at = now


def _expire(spec: JobSpec, step: JobStep, now: float) -> None:
    """ttlSecondsAfterFinished: the Job goes that long after it finished."""
    if spec.ttl_after_finished is None or step.memory.finished_at is None:
        return
    due = step.memory.finished_at + spec.ttl_after_finished
    if now >= due:
        step.delete_job = True
    else:
        step.wake_at = _earliest(step.wake_at, due)


def _suspend(step: JobStep, active: list[JobPod], now: float) -> None:
    memory = step.memory
    step.delete = [p.name for p in active]
    if memory.set_condition(SUSPENDED, "True", "JobSuspended", "Job suspended", now):
        step.events.append(JobEvent("Normal", "Suspended", "Job suspended"))
    memory.start_time = None  # a resumed Job starts (and its deadline counts) again


def _scale(spec: JobSpec, memory: JobMemory, active: list[JobPod], step: JobStep,
           now: float) -> None:
    """Create or delete pods towards the wanted number of active pods."""
    if spec.completions is None:
        # Work queue: once one succeeded no new pod starts; the others finish their work.
        wanted = len(active) if memory.succeeded > 0 else spec.parallelism
    else:
        wanted = max(0, min(spec.parallelism, spec.completions - memory.succeeded))
    if len(active) > wanted:
        step.delete = [p.name for p in _doomed_first(active)[:len(active) - wanted]]
        return
    if len(active) == wanted:
        return
    ready_at = (memory.last_failure or 0.0) + pod_failure_backoff(memory.failures_after_success)
    if now < ready_at:
        step.wake_at = _earliest(step.wake_at, ready_at)
        return
    step.create = wanted - len(active)
    if spec.indexed and spec.completions is not None:
        step.indexes = next_indexes(spec.completions, parse_indexes(memory.completed_indexes),
                                    {p.index for p in active if p.index is not None},
                                    step.create)
        step.create = len(step.indexes)


def _earliest(current: float | None, candidate: float) -> float:
    return candidate if current is None else min(current, candidate)


def job_status(memory: JobMemory, pods: Sequence[JobPod], terminating: int) -> Obj:
    """The Job's status as the controller writes it (what kubectl get/describe/wait read)."""
    active = [p for p in pods if p.active]
    status: Obj = {}
    if memory.conditions:
        status["conditions"] = copy.deepcopy(memory.conditions)
    if memory.start_time is not None:
        status["startTime"] = iso_time(memory.start_time)
    if memory.completion_time is not None:
        status["completionTime"] = iso_time(memory.completion_time)
    if active:
        status["active"] = len(active)
    if memory.succeeded:
        status["succeeded"] = memory.succeeded
    if memory.failed:
        status["failed"] = memory.failed
    if memory.completed_indexes:
        status["completedIndexes"] = memory.completed_indexes
    status["terminating"] = terminating
    status["uncountedTerminatedPods"] = {}
    status["ready"] = sum(1 for p in active if p.ready)
    return status


def finished_condition(conditions: list[Obj]) -> str | None:
    """"Complete" or "Failed" when `conditions` (a Job's) say it finished (None while it runs)."""
    for condition in conditions:
        if condition.get("type") in (COMPLETE, FAILED) and condition.get("status") == "True":
            return str(condition["type"])
    return None


def job_finished(job: Obj) -> str | None:
    """"Complete" or "Failed" when the Job's status says it finished (None while it runs)."""
    return finished_condition((job.get("status") or {}).get("conditions") or [])


__all__ = ["COMPLETE", "CONTROLLER_UID", "FAILED", "JOB_NAME", "JobEvent", "JobMemory",
           "JobPod", "JobSpec", "JobStep", "finished_condition", "job_finished", "job_status", "plan_job",
           "pod_failure_backoff", "with_generated_selector"]
