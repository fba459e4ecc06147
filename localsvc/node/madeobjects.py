"""Objects a controller of the node stores, as the API server stores what a controller creates:
a StatefulSet's PersistentVolumeClaims, a CronJob's Jobs.

They live in the State beside the applied objects (so the API, the store's events and the next
node find them), marked in `sources` as made by a controller: `localsvc up`'s prune never
deletes them (it deletes applied objects missing from the manifests); their owner's controller,
the garbage collector's rules or the user do. A mixin of the Controller.

The garbage collector (collect_orphans, once per sync): a ControllerRevision, a
PersistentVolumeClaim or a Job whose owners (ownerReferences) are all gone is removed, whoever
made it, as a cluster's collector does: a StatefulSet's revisions and claims, a CronJob's Jobs,
and a Job `kubectl create job --from=cronjob/X` created (an API write, owned by the CronJob).
A claim a pod still uses waits for the pod (the kubernetes.io/pvc-protection finalizer).
`delete --cascade=orphan` drops the owner's references first (disowned): those are kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from localsvc.model.claims import claims_used_by
from localsvc.model.defaults import with_defaults
from localsvc.model.objects import stamp
from localsvc.node.store import PodRecord, State, Store
from localsvc.node.views import object_key

Obj = dict[str, Any]
MADE_BY = "madeBy"  # sources[key][MADE_BY]: the controller that made the object
COLLECTED_KINDS = ("ControllerRevision", "PersistentVolumeClaim", "Job")


def owner_uids(obj: Obj) -> list[str]:
    """The uids an object's ownerReferences name."""
    return [str(r.get("uid")) for r in obj["metadata"].get("ownerReferences") or []]


def disowned(objects: Mapping[str, Obj], uid: str) -> dict[str, Obj]:
    """The objects owner `uid` owns, without its ownerReference (new objects: stored ones are
    replaced, never changed in place): `delete --cascade=orphan` of the owner keeps them."""
    out: dict[str, Obj] = {}
    for key, obj in objects.items():
        refs = obj["metadata"].get("ownerReferences") or []
        if not uid or not any(r.get("uid") == uid for r in refs):
            continue
        meta = {**obj["metadata"], "ownerReferences": [r for r in refs if r.get("uid") != uid]}
        if not meta["ownerReferences"]:
            del meta["ownerReferences"]
        out[key] = {**obj, "metadata": meta}
    return out


def made_by_controller(source: Obj | None) -> bool:
    """Whether a `sources` entry is a controller's object (never pruned by an apply)."""
    return bool((source or {}).get(MADE_BY))


class MadeObjects:
    """Attributes are the Controller's."""

    state: State
    store: Store
    generation: int
    reclaim_claim: Callable[[str], None]  # node/claimsync.py's (a stub here could shadow it)
    terminating: dict[str, Any]  # uid -> the PodWorker of a pod being stopped
    _collected_at: tuple[int, ...] | None = None  # what the last collect_orphans saw

    def store_made_object(self, obj: Obj, controller: str) -> str:
        """Store `obj` (a full object: apiVersion, kind, metadata.name/namespace...) for
        `controller` (e.g. "statefulset-controller"), defaulted and stamped (uid,
        creationTimestamp, generation) as an apply stores it; its key. The caller's sync
        reports the State changed (the loop saves it and publishes the object)."""
        key = object_key(obj)
        stored = stamp(with_defaults(obj), self.state.objects.get(key))
        self.state.objects[key] = stored
        self.state.sources[key] = {MADE_BY: controller}
        self.store.remember(key, stored, json.dumps(stored))
        self.generation += 1
        return key

    def remove_made_object(self, key: str) -> None:
        """Remove an object as its controller deletes it (one it made, a finished Job its TTL
        ends, a revision, a collected claim): the one path, so the generation that keys the
        sync's caches moves, and a claim's data goes too (deleted, not pruned)."""
        if key.startswith("PersistentVolumeClaim/"):
            self.reclaim_claim(key)
        self.state.objects.pop(key, None)
        self.state.sources.pop(key, None)
        self.generation += 1

    def collect_orphans(self) -> bool:
        """Remove the made dependents whose every owner is gone (module docstring); whether
        any went. Only when the objects or the pods changed since the last time: it looks at
        every object that can be collected."""
        seen = (self.generation, len(self.state.pods), len(self.terminating),
                sum(1 for w in self.terminating.values() if w.done.is_set()))
        if seen == self._collected_at:
            return False
        self._collected_at = seen
        records: list[PodRecord] = [
            *self.state.pods.values(),
            *(w.record for w in self.terminating.values() if not w.done.is_set())]
        alive: set[str] | None = None  # (every object's uid: only once a dependent is found)
        changed = False
        for kind in COLLECTED_KINDS:
            for key, obj in list(self.state.objects_by_kind(kind).items()):
                owners = owner_uids(obj)
                if not owners:
                    continue
                if alive is None:
                    alive = {str(o["metadata"].get("uid")) for o in self.state.objects.values()}
                    alive |= {r.uid for r in records}
                if any(uid in alive for uid in owners):
                    continue
                meta = obj["metadata"]
                if kind == "PersistentVolumeClaim" and any(
                        r.namespace == meta.get("namespace", "default")
                        and meta["name"] in claims_used_by(r.obj) for r in records):
                    continue
                self.remove_made_object(key)
                changed = True
        return changed


__all__ = ["COLLECTED_KINDS", "MADE_BY", "MadeObjects", "disowned", "made_by_controller",
           "owner_uids"]
