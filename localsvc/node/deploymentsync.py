"""The deployment controller's sync of one Deployment, a mixin of the Controller.

Each sync of a Deployment: the ReplicaSet of its current template (a revision, kept in the
persisted State so `kubectl rollout history/undo` find them), a rollout step over its pods
(model/deployments.py), the pods' owner uids, pruning of old ReplicaSets beyond
revisionHistoryLimit, and the status and conditions `kubectl rollout status` reads
(model/views.py rollout_status). The pure rules are in model/replicasets.py; this holds the
tables and the order of the steps.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from localsvc.model import deployments as dep
from localsvc.model import events as ev
from localsvc.model import replicasets as rs
from localsvc.model.clock import rfc3339_seconds
from localsvc.model.objects import now_iso
from localsvc.model.views import rollout_status
from localsvc.node.events import EventRecorder
from localsvc.node.podrecords import deployment_pod, owner_uid, with_owner_uid
from localsvc.node.store import DeploymentHistory
from localsvc.node.views import ObjectViews, object_key
from localsvc.node.workloads import ReadySince, WorkloadStep, available_wake, set_wake

Obj = dict[str, Any]


def _rollout_pending(status: Obj, spec: Obj) -> bool:
    """Whether the rollout is not complete and has not timed out: a later sync may move it
    with no event (minReadySeconds passing, the progress deadline)."""
    replicas = int(spec.get("replicas", 1))
    if any(c.get("reason") == "ProgressDeadlineExceeded" for c in status.get("conditions") or []):
        return False
    return not (status["updatedReplicas"] == status["replicas"] == replicas
                and status["availableReplicas"] == replicas)



def rollout_wake(status: Obj, spec: Obj, ready_since: Iterable[float], now: float) -> float | None:
    """When a clock moves a pending rollout next with no event: the first ready pod passing
    minReadySeconds, or the progress deadline (Progressing's lastUpdateTime + the deadline);
    None when the rollout is not pending (pod events move it, readiness and restarts)."""
    if not _rollout_pending(status, spec):
        return None
    available = available_wake(ready_since, int(spec.get("minReadySeconds") or 0), now)
    wakes = [] if available is None else [available]
    deadline = spec.get("progressDeadlineSeconds")
    progressing = next((c for c in status.get("conditions") or []
                        if c.get("type") == "Progressing"), None)
    if deadline is not None and int(deadline) != 2**31 - 1 and progressing is not None:
        updated = rfc3339_seconds(str(progressing.get("lastUpdateTime") or ""))
        # A condition time is whole seconds: wake just after the deadline has passed.
        wakes.append(now if updated is None else max(now, updated + int(deadline) + 1))
    return min(wakes, default=None)


class DeploymentSync(ObjectViews):
    """Attributes other than its own tables are the Controller's."""

    recorder: EventRecorder
    workload_steps: list[WorkloadStep]

    def _retire(self, pod_key: str, grace: int | None = None) -> None:
        raise NotImplementedError  # the Controller's

    def init_deployment_tables(self) -> None:
        # Deployment key -> pod-template-hash -> its pods (what the ReplicaSets publish);
        # Deployments whose rollout a clock moves (synced when it comes); Deployment key ->
        # pod uid -> when a sync first saw the pod ready.
        self.replicaset_counts: dict[str, dict[str, rs.PodCounts]] = {}
        self.rollouts_pending: dict[str, float] = {}  # key -> next sync with no event
        self._ready_since = ReadySince()
        # Deployment key -> pod-template-hash -> the replicas its ReplicaSet was last scaled to
        # (what ScalingReplicaSet events compare with; a node restart starts from the pods).
        self._scaled_to: dict[str, dict[str, int]] = {}
        self.workload_steps.append(WorkloadStep("Deployment", self._sync_deployment,
                                                self._forget_deleted_deployments,
                                                self.rollouts_pending))

    def _sync_deployment(self, obj: Obj, desired: set[str]) -> bool:
        """One sync of the deployment controller: the ReplicaSet of the current template
        (a revision), a rollout step over the pods, the pods' owner uids, pruning of old
        ReplicaSets, and the status `kubectl rollout status` reads."""
        dkey = object_key(obj)
        meta, spec = obj["metadata"], obj["spec"]
        template = spec["template"]
        current = self._template_hash(dkey, template)
        owned = [r for r in self.state.pods.values() if r.owner == dkey]
        before = self.state.deployments.get(dkey) or DeploymentHistory()
        running = {r.template_hash: (owner_uid(r), {"metadata": {"labels": dict(
            r.obj["metadata"].get("labels") or {})}, "spec": r.obj.get("spec") or {}})
            for r in owned}
        revisions, outcome = rs.track_revisions(
            before.revisions, current, template, rs.copied_annotations(obj), running,
            lambda: str(uuid.uuid4()), now_iso())
        uids = {r.hash: r.uid for r in revisions}
        step = dep.plan_rollout(
            spec,
            current,
            [dep.OwnedPod(r.name, r.template_hash, self._ready(r), r.created) for r in owned],
        )
        hashes = {r.name: r.template_hash for r in owned}
        for name in step.delete:
            self._retire(f"{meta['namespace']}/{name}")
            self._replicaset_event(obj, hashes[name], "SuccessfulDelete", f"Deleted pod: {name}")
        for _ in range(step.create):
            record = deployment_pod(obj, dkey, current, self.state.pods, uids[current])
            self.state.pods[f"{record.namespace}/{record.name}"] = record
            self._replicaset_event(obj, current, "SuccessfulCreate",
                                   f"Created pod: {record.name}")
        self._scaling_events(obj, dkey, owned, step, current)
        changed = bool(step.delete or step.create)
        counts = self._replicaset_counts(dkey, int(spec.get("minReadySeconds") or 0), desired)
        for record in self.state.pods.values():
            uid = uids.get(record.template_hash, "")
            if record.owner == dkey and uid and owner_uid(record) != uid:
                record.obj = with_owner_uid(record, uid)  # replaced: workers share the record
                changed = True
        revisions = rs.prune(revisions, current, set(counts), rs.history_limit(spec))
        others = [c for h, c in counts.items() if h != current]
        new, old = counts.get(current, rs.PodCounts()), rs.PodCounts(
            sum(c.replicas for c in others), sum(c.ready for c in others),
            sum(c.available for c in others))
        status = rollout_status(obj, rs.replicaset_name(meta["name"], current), new, old,
                                before.status, outcome == "created", time.time())
        self.replicaset_counts[dkey] = counts
        # minReadySeconds and the deadline need a clock (not a sync on every loop)
        set_wake(self.rollouts_pending, dkey, rollout_wake(
            status, spec, self._ready_since.get(dkey, {}).values(), time.time()))
        history = DeploymentHistory(revisions, status)
        if history != before:
            self.state.deployments[dkey] = history
            changed = True
        return changed

    def _replicaset_event(self, deployment: Obj, template_hash: str, reason: str,
                          message: str) -> None:
        meta = deployment["metadata"]
        name = rs.replicaset_name(meta["name"], template_hash)
        self.recorder.normal(ev.ObjectRef("ReplicaSet", meta["namespace"], name,
                                          api_version="apps/v1"),
                             reason, message, ev.REPLICASET_CONTROLLER)

    def _scaling_events(self, deployment: Obj, dkey: str, owned: list[Any],
                        step: dep.RolloutStep, current: str) -> None:
        """ScalingReplicaSet for each ReplicaSet this step scaled (its pods before -> after)."""
        before: dict[str, int] = {}
        for record in owned:
            before[record.template_hash] = before.get(record.template_hash, 0) + 1
        after = dict(before)
        for record in owned:
            if record.name in step.delete:
                after[record.template_hash] -= 1
        after[current] = after.get(current, 0) + step.create
        last = self._scaled_to.setdefault(dkey, before)
        meta = deployment["metadata"]
        ref = ev.ObjectRef("Deployment", meta["namespace"], meta["name"],
                           api_version="apps/v1")
        for template_hash in sorted(last.keys() | after.keys()):
            was, now = last.get(template_hash, 0), after.get(template_hash, 0)
            if was != now:
                reason, message = ev.scaled("up" if now > was else "down",
                                            rs.replicaset_name(meta["name"], template_hash),
                                            was, now)
                self.recorder.normal(ref, reason, message, ev.DEPLOYMENT_CONTROLLER)
        self._scaled_to[dkey] = {h: n for h, n in after.items() if n}

    def _replicaset_counts(self, dkey: str, min_ready: int,
                           desired: set[str]) -> dict[str, rs.PodCounts]:
        """Pod-template-hash -> the Deployment's pods of it (all desired); a pod is available
        once ready for `min_ready` seconds (from when a sync first saw it ready)."""
        owned = [(k, r) for k, r in self.state.pods.items() if r.owner == dkey]
        desired.update(k for k, _ in owned)
        pods = [(r.template_hash, r.uid, self._ready(r)) for _, r in owned]
        now = time.time()
        since = self._ready_since.count(dkey, (uid for _, uid, ready in pods if ready), now)
        counts, _ = rs.count_pods(pods, since, min_ready, now)
        return counts

    def _forget_deleted_deployments(self) -> bool:
        """Drop the revisions of Deployments no longer stored (their ReplicaSets go with them)."""
        gone = [k for k in self.state.deployments if k not in self.state.objects]
        for key in gone:
            del self.state.deployments[key]
        for table in (self.replicaset_counts, self._ready_since, self._scaled_to):
            for key in [k for k in table if k not in self.state.objects]:
                del table[key]
        return bool(gone)


__all__ = ["DeploymentSync"]
