"""What the StatefulSet controller does next, as pure rules (Kubernetes v1.32,
pkg/controller/statefulset/stateful_set_control.go and stateful_set_utils.go).

Pods are `<set>-<ordinal>` for ordinals start..start+replicas-1 (`spec.ordinals.start`, 0 by
default); the others are condemned. Each sync walks them as the controller
does: under `OrderedReady` (monotonic) it creates the lowest missing pod and stops until that
one is Running, Ready and available (minReadySeconds), and removes pods above `replicas` one at
a time from the highest, only once every lower pod is healthy; under `Parallel` it does all of
that at once. A failed or finished pod is deleted and comes back under the same name. A rolling
update (`RollingUpdate`) then deletes the highest pod not at the update revision, one at a time,
waiting for each to be Ready again, down to `partition`; `OnDelete` replaces nothing (a pod the
user deletes comes back at the update revision). maxUnavailable needs the
MaxUnavailableStatefulSet feature gate, off by default in v1.32: it is not acted on (one pod at a
time), as on a default cluster.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from localsvc.model.deployments import template_hash
from localsvc.model.objects import owner_reference

Obj = dict[str, Any]

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"  # on pods: the ControllerRevision's name
HASH_LABEL = "controller.kubernetes.io/hash"  # on ControllerRevisions: the hash alone
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


def pod_name(set_name: str, ordinal: int) -> str:
    return f"{set_name}-{ordinal}"


def ordinal_of(set_name: str, name: str) -> int | None:
    """The ordinal of pod `name` when it is one of `set_name`'s (getParentNameAndOrdinal)."""
    match = _ORDINAL.match(name)
    if match is None or match.group(1) != set_name:
        return None
    return int(match.group(2))


def claim_name(template: str, set_name: str, ordinal: int) -> str:
    """The PersistentVolumeClaim of volumeClaimTemplate `template` for one ordinal."""
    return f"{template}-{set_name}-{ordinal}"


@dataclass(frozen=True)
class SetSpec:
    """What a step needs of a StatefulSet's spec."""

    replicas: int
    parallel: bool = False  # podManagementPolicy Parallel
    on_delete: bool = False  # updateStrategy OnDelete
    partition: int = 0  # counted from `start`, as the controller counts it
    start: int = 0  # spec.ordinals.start

    @property
    def ordinals(self) -> range:
        return range(self.start, self.start + self.replicas)

    @classmethod
    def of(cls, spec: Obj) -> SetSpec:
        strategy = spec.get("updateStrategy") or {}
        rolling = strategy.get("rollingUpdate") or {}
        replicas = spec.get("replicas")
        return cls(replicas=1 if replicas is None else int(replicas),
                   parallel=spec.get("podManagementPolicy") == "Parallel",
                   on_delete=strategy.get("type") == "OnDelete",
                   partition=int(rolling.get("partition") or 0),
                   start=int((spec.get("ordinals") or {}).get("start") or 0))


@dataclass(frozen=True)
class SetPod:
    """One pod of the set as the step sees it."""

    revision: str  # its controller-revision-hash label
    ready: bool = False  # Running and Ready
    available: bool = False  # ready for minReadySeconds
    terminating: bool = False  # deleted, its containers not gone yet
    finished: bool = False  # phase Failed or Succeeded


@dataclass(frozen=True)
class Step:
    create: tuple[tuple[int, str], ...] = ()  # (ordinal, revision name) to create, in order
    delete: tuple[int, ...] = ()  # ordinals whose pod to delete, in order


def _healthy(pod: SetPod) -> bool:
    return pod.ready and not pod.terminating


def creation_revision(spec: SetSpec, ordinal: int, current: str, update: str) -> str:
    """The revision a new pod of `ordinal` gets: below the partition of a rolling update the
    current one, else the update revision (newVersionedStatefulSetPod)."""
    if not spec.on_delete and ordinal < spec.start + spec.partition:
        return current
    return update


def plan_step(spec: SetSpec, pods: Mapping[int, SetPod], current: str, update: str) -> Step:
    """The next step of the controller over the set's pods by ordinal."""
    monotonic = not spec.parallel
    create: list[tuple[int, str]] = []
    delete: list[int] = []
    for ordinal in spec.ordinals:
        pod = pods.get(ordinal)
        if pod is None:
            create.append((ordinal, creation_revision(spec, ordinal, current, update)))
            blocked = True
        elif pod.terminating:
            blocked = True  # its successor waits until it is gone
        elif pod.finished:
            delete.append(ordinal)  # re-created under the same name once it is gone
            blocked = True
        else:
            blocked = not (pod.ready and pod.available)
        if blocked and monotonic:  # everything but a healthy, available pod blocks the next
            return Step(tuple(create), tuple(delete))
    condemned = sorted((o for o in pods if o not in spec.ordinals), reverse=True)
    unhealthy = [o for o in spec.ordinals if o in pods and not _healthy(pods[o])]
    unhealthy += [o for o in condemned if not _healthy(pods[o])]
    first_unhealthy = unhealthy[0] if unhealthy else None
    for ordinal in condemned:
        pod = pods[ordinal]
        if pod.terminating:
            if monotonic:
                return Step(tuple(create), tuple(delete))
            continue
        if monotonic and not pod.available and ordinal != first_unhealthy:
            return Step(tuple(create), tuple(delete))
        delete.append(ordinal)
        if monotonic:
            return Step(tuple(create), tuple(delete))
    if spec.on_delete:
        return Step(tuple(create), tuple(delete))
    created = {o for o, _ in create}
    for ordinal in range(spec.ordinals.stop - 1, spec.start + spec.partition - 1, -1):
        pod = pods.get(ordinal)
        if pod is None or ordinal in created or ordinal in delete:
            break  # a pod on its way up: wait for it
        if pod.revision != update and not pod.terminating:
            delete.append(ordinal)
            break
        if not _healthy(pod):
            break
    return Step(tuple(create), tuple(delete))


@dataclass(frozen=True)
class SetCounts:
    replicas: int = 0
    ready: int = 0
    available: int = 0
    current: int = 0
    updated: int = 0


def count_pods(pods: list[SetPod], current: str, update: str) -> SetCounts:
    """computeReplicaStatus: every pod counts in replicas; a terminating one in no revision."""
    alive = [p for p in pods if not p.terminating]
    return SetCounts(replicas=len(pods), ready=sum(1 for p in pods if p.ready),
                     available=sum(1 for p in pods if p.ready and p.available),
                     current=sum(1 for p in alive if p.revision == current),
                     updated=sum(1 for p in alive if p.revision == update))


def set_status(counts: SetCounts, current: str, update: str, rolling: bool, generation: int,
               collision_count: int) -> Obj:
    """The StatefulSet's status; a rolling update whose pods are all updated and ready makes
    the update revision the current one (completeRollingUpdate)."""
    current_replicas = counts.current
    if rolling and counts.updated == counts.replicas and counts.ready == counts.replicas:
        current, current_replicas = update, counts.updated
    status: Obj = {"observedGeneration": generation, "replicas": counts.replicas,
                   "readyReplicas": counts.ready, "currentReplicas": current_replicas,
                   "updatedReplicas": counts.updated, "currentRevision": current,
                   "updateRevision": update, "collisionCount": collision_count,
                   "availableReplicas": counts.available}
    # Zero counts are omitted, as the API server's JSON does (omitempty).
    return {k: v for k, v in status.items() if v not in (0, "") or k in (
        "replicas", "availableReplicas", "observedGeneration", "collisionCount")}


# ---- revisions (ControllerRevisions) -----------------------------------------------------------

def revision_data(template: Obj) -> Obj:
    """What a ControllerRevision of a StatefulSet holds: the patch that restores its template
    (getPatch: the template with "$patch": "replace"), read by `kubectl rollout history/undo`."""
    return {"spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}}


def template_of(revision: Obj) -> Obj:
    """The pod template a ControllerRevision restores."""
    template = dict(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def revision_hash(template: Obj, collision_count: int = 0) -> str:
    return template_hash({"template": template, "collisionCount": collision_count})


def revision_name(set_name: str, hash_: str) -> str:
    return f"{set_name}-{hash_}"


def set_owner_reference(statefulset: Obj, controller: bool = True) -> Obj:
    return owner_reference({**statefulset, "apiVersion": "apps/v1", "kind": "StatefulSet"},
                           controller)


def revision_object(statefulset: Obj, template: Obj, hash_: str, number: int) -> Obj:
    """A new ControllerRevision of `statefulset` for `template` (NewControllerRevision)."""
    meta = statefulset["metadata"]
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": revision_name(meta["name"], hash_),
                         "namespace": meta.get("namespace", "default"),
                         "labels": {**labels, HASH_LABEL: hash_},
                         "ownerReferences": [set_owner_reference(statefulset)]},
            "data": revision_data(template), "revision": number}


def next_revision(revisions: list[Obj], template: Obj) -> tuple[Obj | None, int]:
    """For the set's ControllerRevisions and its template: the one equal to the template (None
    when a new one is needed) and the number it should have (highest + 1, unless it is the
    highest already: an undo moves an older one to the top)."""
    highest = max((int(r.get("revision") or 0) for r in revisions), default=0)
    wanted = revision_data(template)
    for revision in sorted(revisions, key=lambda r: -int(r.get("revision") or 0)):
        if revision.get("data") == wanted:
            number = int(revision.get("revision") or 0)
            return revision, number if number == highest else highest + 1
    return None, highest + 1


def revisions_to_prune(revisions: list[Obj], live: set[str], limit: int) -> list[str]:
    """Names of the oldest revisions beyond `limit` that no pod and neither the current nor
    the update revision uses (truncateHistory)."""
    idle = sorted((r for r in revisions if r["metadata"]["name"] not in live),
                  key=lambda r: int(r.get("revision") or 0))
    return [r["metadata"]["name"] for r in idle[: max(0, len(idle) - limit)]]


__all__ = ["HASH_LABEL", "POD_INDEX_LABEL", "POD_NAME_LABEL", "REVISION_LABEL", "SetCounts",
           "SetPod", "SetSpec", "Step", "claim_name", "count_pods", "creation_revision",
           "next_revision", "ordinal_of", "plan_step", "pod_name", "revision_data",
           "revision_hash", "revision_name", "revision_object", "revisions_to_prune",
           "set_owner_reference", "set_status", "template_of"]
