"""The DaemonSet controller's sync of one DaemonSet on the environment's one node, a mixin of the
Controller: whether the node fits the template (model/daemonsets.py, against the labels of
model/nodeobject.py), one pod `<name>-<5 random>` labelled with its template's hash and
generation, rolled on a template change by its updateStrategy, and the status `kubectl get ds`
and `kubectl rollout status ds` read."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from localsvc.model import daemonsets as ds
from localsvc.model import events as ev
from localsvc.model.nodeobject import NODE_NAME, node_object
from localsvc.node.batchpods import owned_pod
from localsvc.node.events import EventRecorder
from localsvc.node.podworker import PodWorker
from localsvc.node.store import State
from localsvc.node.views import object_key
from localsvc.node.workloads import ReadySince, WorkloadStep, available_wake, set_wake

Obj = dict[str, Any]
DAEMONSET_CONTROLLER = "daemonset-controller"


def node_labels() -> dict[str, str]:
    """The labels of the environment's Node object (model/nodeobject.py)."""
    return dict(node_object("", "")["metadata"]["labels"])


class DaemonSetSync:
    """Attributes other than its own tables are the Controller's."""

    state: State
    workers: dict[str, PodWorker]
    recorder: EventRecorder
    workload_steps: list[WorkloadStep]
    workload_statuses: dict[str, Obj]

    def _retire(self, pod_key: str, grace: int | None = None) -> None:
        raise NotImplementedError  # the Controller's

    _template_hash: Callable[[str, Obj], str]  # ObjectViews' (a stub here would shadow it)

    def init_daemonset_tables(self) -> None:
        # DaemonSet key -> next sync with no event: every loop while rolling or waiting for
        # minReadySeconds
        self.daemonsets_pending: dict[str, float] = {}
        self._daemon_ready_since = ReadySince()
        self._node_labels = node_labels()
        self.workload_steps.append(WorkloadStep("DaemonSet", self._sync_daemonset,
                                                self._forget_daemonsets,
                                                self.daemonsets_pending))

    def _daemon_pods(self, key: str, min_ready: int, now: float) -> list[ds.DaemonPod]:
        owned = [(r, self.workers.get(r.uid)) for r in self.state.pods.values() if r.owner == key]
        since = self._daemon_ready_since.count(
            key, [r.uid for r, worker in owned if worker and worker.state.ready], now)
        return [ds.DaemonPod(r.name, r.template_hash, r.uid in since,
                             r.uid in since and now - since[r.uid] >= min_ready, r.created)
                for r, _ in owned]

    def _sync_daemonset(self, obj: Obj, desired: set[str]) -> bool:
        key = object_key(obj)
        meta, spec = obj["metadata"], obj["spec"]
        namespace = meta.get("namespace", "default")
        template = spec.get("template") or {}
        current = self._template_hash(key, template)  # with a rebuilt image's restart token
        fits = ds.schedulable(template.get("spec") or {}, self._node_labels, NODE_NAME)
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = time.time()
        pods = self._daemon_pods(key, min_ready, now)
        step = ds.plan_daemon(spec, current, pods, fits)
        ref = ev.reference_to(obj)
        for name in step.delete:
            self._retire(f"{namespace}/{name}")
            self.recorder.normal(ref, "SuccessfulDelete", f"Deleted pod: {name}",
                                 DAEMONSET_CONTROLLER)
        if step.create:
            generation = str(meta.get("generation") or 1)
            record = owned_pod(obj, key, template, self.state.pods, {
                ds.REVISION_LABEL: current, ds.GENERATION_LABEL: generation}, current)
            self.state.pods[f"{record.namespace}/{record.name}"] = record
            self.recorder.normal(ref, "SuccessfulCreate", f"Created pod: {record.name}",
                                 DAEMONSET_CONTROLLER)
        desired.update(f"{r.namespace}/{r.name}" for r in self.state.pods.values()
                       if r.owner == key)
        after = self._daemon_pods(key, min_ready, now)
        status = ds.daemon_status(int(meta.get("generation") or 1), fits, current, after)
        self.workload_statuses[key] = status
        settled = not step.create and not step.delete and (
            status["numberAvailable"] == status["desiredNumberScheduled"]
            == status["updatedNumberScheduled"])
        if settled or (spec.get("updateStrategy") or {}).get("type") == "OnDelete":
            self.daemonsets_pending.pop(key, None)
        else:
            set_wake(self.daemonsets_pending, key, available_wake(  # minReadySeconds
                self._daemon_ready_since.get(key, {}).values(), min_ready, now))
        return bool(step.create or step.delete)

    def _forget_daemonsets(self) -> bool:
        for key in [k for k in self._daemon_ready_since if k not in self.state.objects]:
            del self._daemon_ready_since[key]
        return False


__all__ = ["DAEMONSET_CONTROLLER", "DaemonSetSync", "node_labels"]
