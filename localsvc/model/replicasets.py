"""A Deployment's ReplicaSets and revisions, as pure rules (Kubernetes' deployment controller,
pkg/controller/deployment/util and sync.go).

Each pod template a Deployment has run is one revision: a ReplicaSet named
`<deployment>-<pod-template-hash>`. A new template gets the highest revision + 1; going back to
a template already kept (`kubectl rollout undo`) reuses its ReplicaSet and moves it to the
highest revision + 1, remembering the numbers it had (annotation revision-history). Old
ReplicaSets that run no pod are pruned beyond `spec.revisionHistoryLimit` (default 10).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from localsvc.model.objects import owner_reference

Obj = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
HASH_LABEL = "pod-template-hash"
DEFAULT_HISTORY_LIMIT = 10
# Deployment annotations a ReplicaSet does not copy (deployment util annotationsToSkip).
_NOT_COPIED = frozenset({"kubectl.kubernetes.io/last-applied-configuration", REVISION,
                         REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
                         "deprecated.deployment.rollback.to"})


@dataclass(frozen=True)
class Revision:
    """One kept ReplicaSet of a Deployment: its template (with the hash label), revision
    number, stable uid, and the annotations it copied from the Deployment."""

    hash: str
    revision: int
    template: Obj
    uid: str
    created: str
    history: tuple[int, ...] = ()  # revisions this template had before (oldest first)
    annotations: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> Obj:
        return {"hash": self.hash, "revision": self.revision, "template": self.template,
                "uid": self.uid, "created": self.created, "history": list(self.history),
                "annotations": self.annotations}

    @classmethod
    def from_json(cls, data: Obj) -> Revision:
        return cls(hash=str(data["hash"]), revision=int(data["revision"]),
                   template=dict(data["template"]), uid=str(data["uid"]),
                   created=str(data.get("created", "")),
                   history=tuple(int(n) for n in data.get("history") or ()),
                   annotations={str(k): str(v) for k, v in
                                (data.get("annotations") or {}).items()})


def hashed_template(template: Obj, hash_: str) -> Obj:
    """The pod template as the ReplicaSet and its pods carry it: labelled pod-template-hash."""
    out = copy.deepcopy(template)
    meta = out.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), HASH_LABEL: hash_}
    return out


def copied_annotations(deployment: Obj) -> dict[str, str]:
    """The Deployment's annotations its new ReplicaSet carries (e.g. kubernetes.io/change-cause)."""
    annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    return {k: str(v) for k, v in annotations.items() if k not in _NOT_COPIED}


def record_revision(revisions: Sequence[Revision], hash_: str, template: Obj,
                    annotations: dict[str, str], new_uid: Callable[[], str],
                    created: str) -> tuple[list[Revision], str]:
    """The revisions once the Deployment runs template `hash_`, and what happened: "created"
    (a new ReplicaSet, highest + 1), "reused" (an older one moved to highest + 1, as an undo),
    or "found" (already the newest; its copied annotations follow the Deployment's)."""
    out = list(revisions)
    highest = max((r.revision for r in out), default=0)
    for index, rev in enumerate(out):
        if rev.hash != hash_:
            continue
        if rev.revision == highest:
            out[index] = replace(rev, annotations=dict(annotations))
            return out, "found"
        out[index] = replace(rev, revision=highest + 1, history=(*rev.history, rev.revision),
                             annotations=dict(annotations))
        return out, "reused"
    out.append(Revision(hash=hash_, revision=highest + 1, template=hashed_template(template, hash_),
                        uid=new_uid(), created=created, annotations=dict(annotations)))
    return out, "created"


def track_revisions(revisions: Sequence[Revision], hash_: str, template: Obj,
                    annotations: dict[str, str], running: Mapping[str, tuple[str, Obj]],
                    new_uid: Callable[[], str], created: str) -> tuple[list[Revision], str]:
    """record_revision for template `hash_`, after recovering the ReplicaSets whose pods run
    (`running`: hash -> (uid their ownerReference names, "" if none; a pod's template)) but
    that no revision remembers (a state of before revisions were kept): numbered first, with
    the uids their pods already carry."""
    out = list(revisions)
    kept = {r.hash for r in out}
    for old_hash, (uid, pod_template) in sorted(running.items()):
        if old_hash in kept or old_hash == hash_:
            continue
        out, _ = record_revision(out, old_hash, pod_template, {}, lambda: uid or new_uid(),
                                 created)
    current_uid = running.get(hash_, ("", {}))[0]
    return record_revision(out, hash_, template, annotations,
                           lambda: current_uid or new_uid(), created)


def history_limit(spec: Obj) -> int:
    limit = spec.get("revisionHistoryLimit")
    return DEFAULT_HISTORY_LIMIT if limit is None else max(0, int(limit))


def prune(revisions: Sequence[Revision], current_hash: str, running: set[str],
          limit: int) -> list[Revision]:
    """Drop the oldest ReplicaSets that run no pod (hashes not in `running`) beyond `limit`;
    the current one always stays (cleanupDeployment)."""
    idle = sorted((r for r in revisions if r.hash != current_hash and r.hash not in running),
                  key=lambda r: r.revision)
    doomed = {r.hash for r in idle[: max(0, len(idle) - limit)]}
    return [r for r in revisions if r.hash not in doomed]


def _resolve(value: Any, replicas: int, round_up: bool) -> int:
    value = "25%" if value is None else value
    if isinstance(value, str) and value.endswith("%"):
        fraction = replicas * int(value[:-1]) / 100
        return math.ceil(fraction) if round_up else math.floor(fraction)
    return int(value)


def surge_and_unavailable(spec: Obj) -> tuple[int, int]:
    """maxSurge and maxUnavailable in pods (ResolveFenceposts): Recreate has neither; both 0
    means 1 unavailable; maxUnavailable is at most the replicas."""
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    surge = _resolve(rolling.get("maxSurge"), replicas, True)
    unavailable = _resolve(rolling.get("maxUnavailable"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


@dataclass(frozen=True)
class PodCounts:
    """The pods of one ReplicaSet (not terminating): how many, ready, available."""

    replicas: int = 0
    ready: int = 0
    available: int = 0


def count_pods(pods: Iterable[tuple[str, str, bool]], ready_since: Mapping[str, float],
               min_ready_seconds: int, now: float) -> tuple[dict[str, PodCounts], dict[str, float]]:
    """Pod-template-hash -> PodCounts of `pods` (hash, pod uid, ready), and when each ready pod
    was first seen ready (`ready_since` of the previous count; now for a pod newly ready). A
    pod is available once ready for minReadySeconds (IsPodAvailable)."""
    since: dict[str, float] = {}
    tallies: dict[str, list[int]] = {}
    for hash_, uid, ready in pods:
        tally = tallies.setdefault(hash_, [0, 0, 0])
        tally[0] += 1
        if ready:
            since[uid] = ready_since.get(uid, now)
            tally[1] += 1
            tally[2] += 1 if since[uid] + min_ready_seconds <= now else 0
    return {h: PodCounts(*t) for h, t in tallies.items()}, since


def replicaset_object(deployment: Obj, rev: Revision, counts: PodCounts,
                      generation: int) -> Obj:
    """The ReplicaSet of revision `rev` as the API serves it; `generation` is the one the store
    gives it (its status observed it: the replicas are counted in the same sync)."""
    meta, spec = deployment["metadata"], deployment.get("spec") or {}
    surge, _ = surge_and_unavailable(spec)
    replicas = int(spec.get("replicas", 1))
    annotations = {**rev.annotations, DESIRED_REPLICAS: str(replicas),
                   MAX_REPLICAS: str(replicas + surge), REVISION: str(rev.revision)}
    if rev.history:
        annotations[REVISION_HISTORY] = ",".join(str(n) for n in rev.history)
    selector = copy.deepcopy(spec.get("selector") or {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: rev.hash}
    rs_spec: Obj = {"replicas": counts.replicas, "selector": selector,
                    "template": copy.deepcopy(rev.template)}
    if spec.get("minReadySeconds"):
        rs_spec["minReadySeconds"] = int(spec["minReadySeconds"])
    status: Obj = {"replicas": counts.replicas, "fullyLabeledReplicas": counts.replicas,
                   "observedGeneration": generation}
    if counts.ready:
        status["readyReplicas"] = counts.ready
    if counts.available:
        status["availableReplicas"] = counts.available
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": replicaset_name(meta["name"], rev.hash),
            "namespace": meta.get("namespace", "default"),
            "uid": rev.uid,
            "creationTimestamp": rev.created,
            "generation": generation,
            "labels": dict((rev.template.get("metadata") or {}).get("labels") or {}),
            "annotations": annotations,
            "ownerReferences": [owner_reference(
                {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta})],
        },
        "spec": rs_spec,
        "status": status,
    }


def replicaset_name(deployment: str, hash_: str) -> str:
    return f"{deployment}-{hash_}"


def pod_owner_reference(deployment: str, hash_: str, uid: str) -> Obj:
    """The ownerReference a ReplicaSet's pod carries."""
    return owner_reference({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {
        "name": replicaset_name(deployment, hash_), "uid": uid}})


__all__ = ["CHANGE_CAUSE", "DEFAULT_HISTORY_LIMIT", "HASH_LABEL", "MAX_REPLICAS",
           "DESIRED_REPLICAS", "PodCounts", "REVISION", "REVISION_HISTORY", "Revision",
           "copied_annotations", "count_pods", "hashed_template", "history_limit", "pod_owner_reference",
           "prune", "record_revision", "replicaset_name", "replicaset_object",
           "surge_and_unavailable", "track_revisions"]
