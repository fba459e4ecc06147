"""The StatefulSet controller's sync of one StatefulSet, a mixin of the Controller.

Each sync: the ControllerRevision of the current template (stored as an object the controller
made, so `kubectl rollout history sts` lists it and a restarted node finds it), one step of
model/statefulsets.py over the pods by ordinal (creating each pod's PersistentVolumeClaims
before the pod), the claims' ownerReferences per persistentVolumeClaimRetentionPolicy, and the
status `kubectl rollout status` reads (kept in the State's allocations, so the current revision
survives a node restart). Claims and revisions whose owners are gone are removed by the
garbage collector (node/madeobjects.py collect_orphans).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from localsvc.model import events as ev
from localsvc.model import statefulsets as sts
from localsvc.model.labelselector import from_kubernetes
from localsvc.model.replicasets import history_limit
from localsvc.node.events import EventRecorder
from localsvc.node.madeobjects import made_by_controller
from localsvc.node.podrecords import new_pod
from localsvc.node.podworker import PodWorker
from localsvc.node.store import PodRecord, key_of
from localsvc.node.views import ObjectViews, object_key
from localsvc.node.workloads import ReadySince, WorkloadStep, available_wake, set_wake

Obj = dict[str, Any]
CONTROLLER = "statefulset-controller"
# State.allocations[REVISION_TABLE]: key -> {"currentRevision": name}, what a restarted node
# needs to go on with a rolling update (the status itself is recomputed by each sync).
REVISION_TABLE = "statefulsets"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


class StatefulSetSync(ObjectViews):
    """Attributes other than its own tables are the Controller's."""

    recorder: EventRecorder
    generation: int
    workload_steps: list[WorkloadStep]
    store_made_object: Callable[[Obj, str], str]  # MadeObjects' (a stub here would shadow it)
    remove_made_object: Callable[[str], None]  # MadeObjects'
    workload_statuses: dict[str, Obj]

    def _retire(self, pod_key: str, grace: int | None = None) -> None:
        raise NotImplementedError  # the Controller's

    def init_statefulset_tables(self) -> None:
        # StatefulSet key -> pod uid -> when a sync first saw it ready (minReadySeconds);
        # StatefulSets a clock may move (resynced every loop).
        self._set_ready_since = ReadySince()
        self.statefulsets_pending: dict[str, float] = {}  # key -> next sync with no event
        self.workload_steps.append(WorkloadStep("StatefulSet", self._sync_statefulset,
                                                self._forget_statefulsets,
                                                self.statefulsets_pending))

    @property
    def statefulset_revisions(self) -> dict[str, Obj]:
        return self.state.allocations.setdefault(REVISION_TABLE, {})

    def _sync_statefulset(self, obj: Obj, desired: set[str]) -> bool:
        key = object_key(obj)
        meta, spec = obj["metadata"], obj["spec"]
        namespace, name = meta.get("namespace", "default"), meta["name"]
        changed = self._adopt_orphans(obj, key)
        revised, revisions = self._set_revisions(obj)
        changed |= revised
        update = revisions[-1]
        previous = self.statefulset_revisions.get(key) or {}
        names = {r["metadata"]["name"]: r for r in revisions}
        current = names.get(previous.get("currentRevision", "")) or update
        current_name, update_name = current["metadata"]["name"], update["metadata"]["name"]
        pods = self._set_pods(key, name, int(spec.get("minReadySeconds") or 0))
        by_ordinal: dict[int, sts.SetPod] = {}
        for ordinal, pod, terminating in pods:
            if not terminating or ordinal not in by_ordinal:  # the live pod of a name wins
                by_ordinal[ordinal] = pod
        set_spec = sts.SetSpec.of(spec)
        step = sts.plan_step(set_spec, by_ordinal, current_name, update_name)
        for ordinal in step.delete:
            pod_name = sts.pod_name(name, ordinal)
            self._retire(f"{namespace}/{pod_name}")
            self._set_event(obj, "SuccessfulDelete",
                            f"delete Pod {pod_name} in StatefulSet {name} successful")
        for ordinal, revision in step.create:
            changed |= self._create_set_pod(obj, key, ordinal, names[revision])
        changed |= bool(step.delete or step.create)
        changed |= self._claim_owners(obj, set_spec.ordinals)
        owned = [k for k, r in self.state.pods.items() if r.owner == key]
        desired.update(owned)
        if step.delete or step.create:  # the pods as they are now
            pods = self._set_pods(key, name, int(spec.get("minReadySeconds") or 0))
        counted = [p for _, p, _ in pods]
        counts = sts.count_pods(counted, current_name, update_name)
        rolling = not set_spec.on_delete
        status = sts.set_status(counts, current_name, update_name, rolling,
                                int(meta.get("generation") or 1), 0)
        self.workload_statuses[key] = status
        kept = {"currentRevision": status["currentRevision"]}
        if previous != kept:  # saved only when the revision moves, not on readiness flips
            self.statefulset_revisions[key] = kept
            changed = True
        live = {status["currentRevision"], status["updateRevision"]} | {
            p.revision for p in counted}
        for doomed in sts.revisions_to_prune(revisions, live, history_limit(spec)):
            self.remove_made_object(key_of("ControllerRevision", namespace, doomed))
            changed = True
        settled = counts.ready == counts.available == counts.replicas == set_spec.replicas \
            and not step.create and not step.delete
        if settled:
            self.statefulsets_pending.pop(key, None)
        else:
            min_ready = int(spec.get("minReadySeconds") or 0)  # the one clock-driven change
            set_wake(self.statefulsets_pending, key, available_wake(
                self._set_ready_since.get(key, {}).values(), min_ready, time.time()))
        return changed

    def _adopt_orphans(self, obj: Obj, key: str) -> bool:
        """Take the set's pods that no controller owns (left by `delete --cascade=orphan`,
        e.g. to change a field an update may not), as the controller's ClaimPods does: bare
        pods of the namespace named `<set>-<ordinal>` whose labels the selector matches."""
        meta = obj["metadata"]
        namespace, name = meta.get("namespace", "default"), meta["name"]
        selector = from_kubernetes(obj["spec"].get("selector"))
        adopted = False
        for record in self.state.pods.values():
            pod_meta = record.obj["metadata"]
            if record.owner is not None or record.namespace != namespace or sts.ordinal_of(
                    name, record.name) is None or not selector.matches(pod_meta.get("labels")):
                continue
            if any(r.get("controller") for r in pod_meta.get("ownerReferences") or []):
                continue
            # Replaced, never changed in place (workers hold the object).
            record.obj = {**record.obj, "metadata": {
                **pod_meta, "ownerReferences": [sts.set_owner_reference(obj)]}}
            record.owner = key
            record.template_hash = str((pod_meta.get("labels") or {}).get(
                sts.REVISION_LABEL, ""))
            self.remove_made_object(key_of("Pod", namespace, record.name))  # no longer a bare Pod
            adopted = True
        return adopted

    # ---- revisions ------------------------------------------------------------------------------

    def _set_revisions(self, obj: Obj) -> tuple[bool, list[Obj]]:
        """Whether a revision was stored, and the set's ControllerRevisions, oldest first, the
        last one being the update revision (its current template)."""
        uid = obj["metadata"].get("uid")
        template = obj["spec"]["template"]
        token = (self.state.allocations.get("restarts") or {}).get(object_key(obj))
        if token:  # a rebuilt image: a new revision, as `kubectl rollout restart` makes one
            meta = template.get("metadata") or {}
            template = {**template, "metadata": {**meta, "annotations": {
                **(meta.get("annotations") or {}), RESTARTED_AT: token}}}
        owned = [o for o in self.state.objects_of("ControllerRevision")
                 if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])]
        found, number = sts.next_revision(owned, template)
        changed = False
        if found is None or int(found.get("revision") or 0) != number:
            if found is None:
                found = sts.revision_object(obj, template, sts.revision_hash(template), number)
            else:
                found = {**copy.deepcopy(found), "revision": number}
            self.store_made_object(found, CONTROLLER)
            changed = True
            owned = [o for o in owned if o["metadata"]["name"] != found["metadata"]["name"]]
            owned.append(found)
        return changed, sorted(owned, key=lambda r: int(r.get("revision") or 0))

    # ---- pods -----------------------------------------------------------------------------------

    def _set_pods(self, key: str, name: str,
                  min_ready: int) -> list[tuple[int, sts.SetPod, bool]]:
        """(ordinal, pod, terminating) of every pod of the set, live and terminating."""
        now = time.time()
        out = []
        records: list[tuple[PodRecord, PodWorker | None, bool]] = [
            (r, self.workers.get(r.uid), False) for r in self.state.pods.values()
            if r.owner == key]
        records += [(w.record, w, True) for w in self.terminating.values()
                    if w.record.owner == key and not w.done.is_set()]
        pods = [(ordinal, record, worker, terminating,
                 bool(worker and worker.state.ready) and not terminating)
                for record, worker, terminating in records
                if (ordinal := sts.ordinal_of(name, record.name)) is not None]
        since = self._set_ready_since.count(key, [r.uid for _, r, _, _, ready in pods if ready],
                                            now)
        for ordinal, record, worker, terminating, ready in pods:
            phase = worker.state.phase if worker is not None else "Pending"
            out.append((ordinal, sts.SetPod(
                revision=record.template_hash, ready=ready,
                available=ready and since[record.uid] + min_ready <= now,
                terminating=terminating, finished=phase in ("Succeeded", "Failed")),
                terminating))
        return out

    def _create_set_pod(self, obj: Obj, key: str, ordinal: int, revision: Obj) -> bool:
        """The pod of `ordinal` at `revision`, after its claims (newStatefulSetPod)."""
        meta, spec = obj["metadata"], obj["spec"]
        namespace, name = meta.get("namespace", "default"), meta["name"]
        pod_name = sts.pod_name(name, ordinal)
        template = sts.template_of(revision)
        pod_spec = copy.deepcopy(template.get("spec") or {})
        claims = {}
        for claim_template in spec.get("volumeClaimTemplates") or []:
            template_name = claim_template["metadata"]["name"]
            claims[template_name] = sts.claim_name(template_name, name, ordinal)
            self._ensure_claim(obj, claim_template, claims[template_name], pod_name)
        volumes = [v for v in pod_spec.get("volumes") or [] if v.get("name") not in claims]
        volumes += [{"name": t, "persistentVolumeClaim": {"claimName": c}}
                    for t, c in claims.items()]
        if volumes:
            pod_spec["volumes"] = volumes
        pod_spec["hostname"] = pod_name
        if spec.get("serviceName"):
            pod_spec["subdomain"] = spec["serviceName"]
        revision_name = revision["metadata"]["name"]
        self.state.pods[f"{namespace}/{pod_name}"] = new_pod(
            namespace, pod_name, f"{name}-", template,
            {sts.REVISION_LABEL: revision_name, sts.POD_NAME_LABEL: pod_name,
             sts.POD_INDEX_LABEL: str(ordinal)},
            sts.set_owner_reference(obj), key, revision_name, pod_spec)
        self._set_event(obj, "SuccessfulCreate",
                        f"create Pod {pod_name} in StatefulSet {name} successful")
        return True

    # ---- claims ---------------------------------------------------------------------------------

    def _ensure_claim(self, obj: Obj, claim_template: Obj, claim: str, pod_name: str) -> None:
        """The claim `claim` from its template, unless it exists (a replaced pod gets it back)."""
        meta = obj["metadata"]
        namespace = meta.get("namespace", "default")
        if key_of("PersistentVolumeClaim", namespace, claim) in self.state.objects:
            return
        tmeta = claim_template.get("metadata") or {}
        selector = (obj["spec"].get("selector") or {}).get("matchLabels") or {}
        made: Obj = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {
            "name": claim, "namespace": namespace,
            "labels": {**(tmeta.get("labels") or {}), **selector}},
            "spec": copy.deepcopy(claim_template.get("spec") or {})}
        if tmeta.get("annotations"):
            made["metadata"]["annotations"] = dict(tmeta["annotations"])
        refs = self._claim_refs(obj, pod_name, None)
        if refs:
            made["metadata"]["ownerReferences"] = refs
        self.store_made_object(made, CONTROLLER)
        self._set_event(obj, "SuccessfulCreate", f"create Claim {claim} Pod {pod_name} in "
                        f"StatefulSet {meta['name']} success")

    def _claim_refs(self, obj: Obj, pod_name: str, condemned_pod_uid: str | None) -> list[Obj]:
        """The ownerReferences a claim carries under the retention policy
        (updateClaimOwnerRefForSetAndPod): its pod's alone while the pod is condemned by a
        scale-down and whenScaled is Delete, else the set's when whenDeleted is Delete."""
        policy = obj["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
        if condemned_pod_uid and policy.get("whenScaled") == "Delete":
            return [{"apiVersion": "v1", "kind": "Pod", "name": pod_name,
                     "uid": condemned_pod_uid, "blockOwnerDeletion": True}]
        if policy.get("whenDeleted") == "Delete":
            return [sts.set_owner_reference(obj, controller=False)]
        return []

    def _claim_owners(self, obj: Obj, ordinals: range) -> bool:
        """Keep the ownerReferences of each pod's claims as the retention policy says (the
        policy may change; a pod is condemned by a scale-down). Claims of ordinals without a
        pod are left as they are: a condemned pod's, owned by it, go with it."""
        meta = obj["metadata"]
        namespace, name = meta.get("namespace", "default"), meta["name"]
        pod_uids = {r.name: r.uid for r in self.state.pods.values() if r.namespace == namespace}
        pod_uids.update({w.record.name: w.record.uid for w in self.terminating.values()
                         if w.record.namespace == namespace and not w.done.is_set()
                         and w.record.name not in pod_uids})
        changed = False
        for claim_template in obj["spec"].get("volumeClaimTemplates") or []:
            prefix = f"{claim_template['metadata']['name']}-"
            for claim in self.state.objects_of("PersistentVolumeClaim"):
                cmeta = claim["metadata"]
                if cmeta.get("namespace") != namespace or not cmeta["name"].startswith(prefix):
                    continue
                ordinal = sts.ordinal_of(name, cmeta["name"][len(prefix):])
                if ordinal is None or not made_by_controller(self.state.sources.get(
                        object_key(claim))):
                    continue
                pod_name = sts.pod_name(name, ordinal)
                if pod_name not in pod_uids:
                    continue
                condemned = pod_uids[pod_name] if ordinal not in ordinals else None
                refs = self._claim_refs(obj, pod_name, condemned)
                if (cmeta.get("ownerReferences") or []) != refs:
                    updated = copy.deepcopy(claim)
                    updated["metadata"]["ownerReferences"] = refs
                    if not refs:
                        del updated["metadata"]["ownerReferences"]
                    self.store_made_object(updated, CONTROLLER)
                    changed = True
        return changed

    # ---- what goes with the set -----------------------------------------------------------------

    def _forget_statefulsets(self) -> bool:
        """Drop the tables of StatefulSets no longer stored (their claims and revisions are
        the garbage collector's: MadeObjects.collect_orphans)."""
        for table in (self._set_ready_since, self.statefulset_revisions):
            for key in [k for k in table if k not in self.state.objects]:
                del table[key]
        return False

    def _set_event(self, obj: Obj, reason: str, message: str) -> None:
        self.recorder.normal(ev.reference_to(obj), reason, message, CONTROLLER)


__all__ = ["CONTROLLER", "StatefulSetSync"]
