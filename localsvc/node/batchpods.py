"""The pods batch and daemon controllers create: a Job's and a DaemonSet's, named
`<owner>-<5 random>` (generateName), labelled and owned as their Kubernetes controllers make
them; and what those controllers read back of a pod through its worker."""

from __future__ import annotations

from dataclasses import replace
from collections.abc import Container
from typing import Any

from localsvc.model.jobindex import INDEX_KEY, index_of, indexed_pod_spec
from localsvc.model.jobs import JobPod
from localsvc.model.objects import owner_reference
from localsvc.node.podrecords import new_pod, unique_name
from localsvc.node.podworker import PodWorker
from localsvc.node.store import PodRecord

Obj = dict[str, Any]


def owned_pod(owner: Obj, owner_key: str, template: Obj, taken: Container[str],
              extra_labels: dict[str, str] | None = None, template_hash: str = "",
              index: int | None = None) -> PodRecord:
    """A new pod of `owner` from `template`, named `<owner>-<5 random>` (not among the
    `namespace/name` keys in `taken`); with `index`, the pod of that index of an Indexed Job,
    `<owner>-<index>-<5 random>`."""
    meta = owner["metadata"]
    namespace = meta.get("namespace", "default")
    prefix = f"{meta['name']}-" if index is None else f"{meta['name']}-{index}-"
    record = new_pod(namespace, unique_name(prefix, namespace, taken), prefix, template,
                     dict(extra_labels or {}), owner_reference(owner), owner_key, template_hash)
    if index is not None:
        pod = record.obj
        pod["metadata"].setdefault("annotations", {})[INDEX_KEY] = str(index)
        pod["metadata"]["labels"][INDEX_KEY] = str(index)
        pod["spec"] = indexed_pod_spec(pod["spec"], meta["name"], index)
    return record


def job_pod(record: PodRecord, worker: PodWorker | None) -> JobPod:
    """What the Job controller reads of a pod: its phase, readiness, restarts and end."""
    if worker is None:
        return JobPod(record.name, record.uid, "Pending", created=record.created,
                      index=index_of(record.obj))
    state = worker.state
    containers = list(state.containers.values())
    restarts = sum(c.attempt for c in [*state.init.values(), *containers])
    ends = [c.finished_at for c in containers if c.finished_at]
    return JobPod(record.name, record.uid, state.phase, state.ready, restarts,
                  max(ends) if ends else None, record.created, index_of(record.obj))


def deleted_job_pod(worker: PodWorker, now: float) -> JobPod:
    """A Job's pod being deleted, as the Job controller counts it: finished, Failed unless it
    had succeeded."""
    seen = job_pod(worker.record, worker)
    phase = "Succeeded" if seen.phase == "Succeeded" else "Failed"
    return replace(seen, phase=phase, ready=False,
                   finished_at=seen.finished_at or worker.deleting_since or now)


__all__ = ["deleted_job_pod", "job_pod", "owned_pod"]
