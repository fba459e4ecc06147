"""The Job controller's sync of one Job, a mixin of the Controller.

Each sync: read the Job's pods through their workers, let model/jobs.py decide (pods to create
or delete, conditions, the TTL), do it, and keep the Job's memory (counted pods, conditions,
times) in the persisted State (`allocations["jobs"]`: it survives node restarts, as a Job's
status does in a cluster) and its status for publishing. Finished pods stay (Completed, Error)
until the Job goes; deleting the Job retires them (their owner is no longer stored).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from localsvc.model import events as ev
from localsvc.model import jobs
from localsvc.node.batchpods import deleted_job_pod, job_pod, owned_pod
from localsvc.node.events import EventRecorder
from localsvc.node.podworker import PodWorker
from localsvc.node.store import PodRecord, State
from localsvc.node.views import object_key
from localsvc.node.workloads import WorkloadStep, set_wake

Obj = dict[str, Any]
JOB_CONTROLLER = "job-controller"
MEMORY_TABLE = "jobs"  # state.allocations[MEMORY_TABLE]: Job key -> JobMemory.to_json()


class JobSync:
    """Attributes other than its own tables are the Controller's."""

    state: State
    workers: dict[str, PodWorker]
    terminating: dict[str, PodWorker]
    recorder: EventRecorder
    workload_steps: list[WorkloadStep]
    workload_statuses: dict[str, Obj]

    def _retire(self, pod_key: str, grace: int | None = None) -> None:
        raise NotImplementedError  # the Controller's

    remove_made_object: Callable[[str], None]  # MadeObjects' (a stub here would shadow it)

    def init_job_tables(self) -> None:
        # Job key -> when a clock moves it next (back-off, deadline, TTL; epoch seconds)
        self.jobs_pending: dict[str, float] = {}
        self.workload_steps.append(WorkloadStep("Job", self._sync_job, self._forget_jobs,
                                                self.jobs_pending))

    def _job_memories(self) -> dict[str, Any]:
        return self.state.allocations.setdefault(MEMORY_TABLE, {})

    def _sync_job(self, obj: Obj, desired: set[str]) -> bool:
        key = object_key(obj)
        meta, spec = obj["metadata"], obj["spec"]
        namespace = meta.get("namespace", "default")
        saved = self._job_memories().get(key)
        memory = jobs.JobMemory.from_json(saved)
        if memory.uid != meta.get("uid"):  # a new Job under the name: nothing of the old
            memory = jobs.JobMemory(uid=str(meta.get("uid") or ""))
        owned = [r for r in self.state.pods.values() if r.owner == key]
        pods = [job_pod(r, self.workers.get(r.uid)) for r in owned]
        going = [w for w in self.terminating.values() if w.record.owner == key]
        terminating = sum(1 for w in going if not w.done.is_set())
        now = time.time()
        if not spec.get("suspend") and not memory.condition(jobs.SUCCESS_CRITERIA_MET):
            # A deleted pod that had not succeeded counts as failed, as the pods the
            # controller tracks with its finalizer do (a suspended Job's do not).
            pods += [deleted_job_pod(w, now) for w in going]
        step = jobs.plan_job(jobs.JobSpec.of(spec), memory, pods, terminating, now)
        ref = ev.reference_to(obj)
        created: list[PodRecord] = []
        for name in step.delete:
            self._retire(f"{namespace}/{name}")
            self.recorder.normal(ref, "SuccessfulDelete", f"Deleted pod: {name}", JOB_CONTROLLER)
        template = spec.get("template") or {}
        for number in range(step.create):
            index = step.indexes[number] if number < len(step.indexes) else None
            record = owned_pod(obj, key, template, self.state.pods, index=index)
            self.state.pods[f"{record.namespace}/{record.name}"] = record
            created.append(record)
            self.recorder.normal(ref, "SuccessfulCreate", f"Created pod: {record.name}",
                                 JOB_CONTROLLER)
        for event in step.events:
            self.recorder.record(ref, event.type, event.reason, event.message, JOB_CONTROLLER)
        # Its pods now, without another scan of every pod: those kept, and those created.
        deleted = set(step.delete)
        now_owned = [r for r in owned if r.name not in deleted] + created
        desired.update(f"{r.namespace}/{r.name}" for r in now_owned)
        changed = bool(step.delete or step.create)
        set_wake(self.jobs_pending, key, step.wake_at)  # not every loop until then
        fresh = step.memory.to_json()
        if fresh != saved:
            self._job_memories()[key] = fresh
            changed = True
        self.workload_statuses[key] = jobs.job_status(
            step.memory, [job_pod(r, self.workers.get(r.uid)) for r in now_owned],
            sum(1 for w in self.terminating.values()
                if w.record.owner == key and not w.done.is_set()))
        if step.delete_job:  # ttlSecondsAfterFinished: the Job and (so) its pods go
            self.remove_made_object(key)
            self.jobs_pending.pop(key, None)
            changed = True
        return changed

    def _forget_jobs(self) -> bool:
        """Drop the memory of Jobs no longer stored."""
        table = self._job_memories()
        gone = [k for k in table if k not in self.state.objects]
        for key in gone:
            del table[key]
        return bool(gone)


__all__ = ["JOB_CONTROLLER", "JobSync"]
