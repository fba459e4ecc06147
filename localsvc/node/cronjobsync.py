"""The CronJob controller's sync of one CronJob, a mixin of the Controller.

When its next start time comes (its wake time), or an event of it or of one of its Jobs
names it (a Job finishing moves its status and a Forbid policy): read its Jobs (stored objects
whose controller ownerReference is the CronJob), let model/cronjobs.py decide, create the Job of
a due start time (`<cronjob>-<minutes since the epoch>`, owned by the CronJob, annotated with
its scheduled time, stored with store_made_object so `up` never prunes it) or delete Jobs
(Replace, history limits), and keep lastScheduleTime/lastSuccessfulTime and the active list in
the persisted State (`allocations["cronJobs"]`). A deleted CronJob's Jobs go with it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from localsvc.model import cronjobs as cron
from localsvc.model import events as ev
from localsvc.model.clock import iso_time, rfc3339_seconds
from localsvc.model.jobs import JobMemory
from localsvc.model.objects import owner_reference
from localsvc.node.events import EventRecorder
from localsvc.node.jobsync import MEMORY_TABLE as JOB_MEMORY
from localsvc.node.store import State, key_of
from localsvc.node.views import object_key
from localsvc.node.workloads import WorkloadStep, set_wake

Obj = dict[str, Any]
CRONJOB_CONTROLLER = "cronjob-controller"
MEMORY_TABLE = "cronJobs"  # state.allocations[MEMORY_TABLE]: CronJob key -> CronMemory json


def controller_of(obj: Obj) -> Obj | None:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), None)


class CronJobSync:
    """Attributes other than its own tables are the Controller's."""

    state: State
    recorder: EventRecorder
    workload_steps: list[WorkloadStep]
    workload_statuses: dict[str, Obj]
    generation: int

    remove_made_object: Callable[[str], None]  # MadeObjects' (a stub here would shadow it)

    store_made_object: Callable[[Obj, str], str]  # MadeObjects'

    def init_cronjob_tables(self) -> None:
        # CronJob key -> its next start time (epoch seconds); absent while suspended
        self.cronjobs_pending: dict[str, float] = {}
        self.cronjob_of_job: dict[str, str] = {}  # Job key -> its CronJob's key (from its sync)
        self.workload_steps.append(WorkloadStep("CronJob", self._sync_cronjob,
                                                self._forget_cronjobs, self.cronjobs_pending))

    def _cron_memories(self) -> dict[str, Any]:
        return self.state.allocations.setdefault(MEMORY_TABLE, {})

    def _children(self, cronjob: Obj) -> dict[str, Obj]:
        """The CronJob's Jobs by name."""
        uid = cronjob["metadata"].get("uid")
        namespace = cronjob["metadata"].get("namespace", "default")
        return {job["metadata"]["name"]: job for job in self.state.objects_by_kind("Job").values()
                if job["metadata"].get("namespace", "default") == namespace
                and (controller_of(job) or {}).get("uid") == uid}

    def _child(self, job: Obj) -> cron.ChildJob:
        key = object_key(job)
        memory = JobMemory.from_json(self.state.allocations.get(JOB_MEMORY, {}).get(key))
        created = rfc3339_seconds(job["metadata"].get("creationTimestamp") or "") or 0.0
        return cron.ChildJob(job["metadata"]["name"], memory.outcome, memory.completion_time,
                             memory.start_time, created)

    def _sync_cronjob(self, obj: Obj, desired: set[str]) -> bool:
        key = object_key(obj)
        meta, spec = obj["metadata"], obj["spec"]
        namespace = meta.get("namespace", "default")
        saved = self._cron_memories().get(key)
        memory = cron.CronMemory.from_json(saved)
        if memory.uid != meta.get("uid"):
            memory = cron.CronMemory(uid=str(meta.get("uid") or ""))
        children = self._children(obj)
        self.cronjob_of_job.update((key_of("Job", namespace, name), key) for name in children)
        created = rfc3339_seconds(meta.get("creationTimestamp") or "") or time.time()
        cron_spec = cron.CronSpec.of(spec)
        step = cron.plan_cronjob(cron_spec, meta["name"], memory,
                                 [self._child(j) for j in children.values()], created,
                                 time.time())
        ref = ev.reference_to(obj)
        for name in step.delete:
            self.remove_made_object(key_of("Job", namespace, name))
        if step.create is not None:
            job = self._job_for(obj, step.create, cron_spec.time_zone)
            self.store_made_object(job, CRONJOB_CONTROLLER)
            step.events.append(cron.CronEvent("Normal", "SuccessfulCreate",
                                              f"Created job {job['metadata']['name']}"))
        for event in step.events:
            self.recorder.record(ref, event.type, event.reason, event.message,
                                 CRONJOB_CONTROLLER)
        if step.create is not None:  # its Job now: known before the Job's first event
            self.cronjob_of_job[key_of("Job", namespace, cron.job_name(meta["name"],
                                                                        step.create))] = key
        set_wake(self.cronjobs_pending, key, step.wake_at)  # not on every loop
        self.workload_statuses[key] = self._cron_status(step.memory, namespace)
        fresh = step.memory.to_json()
        changed = bool(step.delete) or step.create is not None
        if fresh != saved:
            self._cron_memories()[key] = fresh
            changed = True
        return changed

    def _job_for(self, cronjob: Obj, scheduled: float, zone: str | None) -> Obj:
        """The Job of the start time `scheduled` (getJobFromTemplate2)."""
        meta = cronjob["metadata"]
        template = cronjob["spec"].get("jobTemplate") or {}
        tmeta = template.get("metadata") or {}
        annotations = {**(tmeta.get("annotations") or {}),
                       cron.SCHEDULED_TIMESTAMP: cron.scheduled_timestamp(scheduled, zone)}
        job_meta: Obj = {"name": cron.job_name(meta["name"], scheduled),
                         "namespace": meta.get("namespace", "default"),
                         "annotations": annotations,
                         "ownerReferences": [owner_reference(cronjob)]}
        if tmeta.get("labels"):
            job_meta["labels"] = dict(tmeta["labels"])
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": job_meta,
                "spec": copy.deepcopy(template.get("spec") or {})}

    def _cron_status(self, memory: cron.CronMemory, namespace: str) -> Obj:
        status: Obj = {}
        active = []
        for name in memory.active:
            job = self.state.objects.get(key_of("Job", namespace, name))
            if job is not None:
                active.append({"kind": "Job", "namespace": namespace, "name": name,
                               "uid": job["metadata"].get("uid"), "apiVersion": "batch/v1",
                               "resourceVersion": job["metadata"].get("resourceVersion")})
        if active:
            status["active"] = active
        if memory.last_schedule is not None:
            status["lastScheduleTime"] = iso_time(memory.last_schedule)
        if memory.last_successful is not None:
            status["lastSuccessfulTime"] = iso_time(memory.last_successful)
        return status

    def cronjobs_of(self, keys: frozenset[str]) -> set[str]:
        """The CronJobs of the Jobs among `keys` (events of a Job move its CronJob)."""
        return {self.cronjob_of_job[k] for k in keys if k in self.cronjob_of_job}

    def _forget_cronjobs(self) -> bool:
        """Drop the memory of CronJobs no longer stored (their Jobs are the garbage collector's:
        MadeObjects.collect_orphans)."""
        table = self._cron_memories()
        changed = False
        for key in [k for k in table if k not in self.state.objects]:
            del table[key]
            changed = True
        for key in [k for k, owner in self.cronjob_of_job.items()
                    if k not in self.state.objects or owner not in self.state.objects]:
            del self.cronjob_of_job[key]
        return changed


__all__ = ["CRONJOB_CONTROLLER", "CronJobSync"]
