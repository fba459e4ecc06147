"""Objects deleted but not gone yet: a namespace emptying, a Deployment deleted in the foreground.

The API server keeps such an object, with a deletionTimestamp and a finalizer (`kubernetes` on a
namespace, `foregroundDeletion` on an owner), until what depends on it is gone, and answers the
DELETE at once; clients that wait (`kubectl delete`, `--cascade=foreground`) watch it go. The
node does the same: the object is removed from the applied objects at once (its pods retire) and
kept here, as it was last served plus its deletion marks, until no pod of it is left; the
publisher serves it meanwhile. A mixin of the Controller. Pure bookkeeping, no I/O.
"""

from __future__ import annotations

import copy
from typing import Any

from localsvc.model.objects import now_iso
from localsvc.node.podworker import PodWorker
from localsvc.node.store import State

Obj = dict[str, Any]
NAMESPACE_FINALIZER = "kubernetes"
FOREGROUND_FINALIZER = "foregroundDeletion"


def terminating(obj: Obj) -> Obj:
    """`obj` marked as deleted but kept: deletionTimestamp, and a namespace Terminating."""
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    meta["deletionTimestamp"] = now_iso()
    meta["deletionGracePeriodSeconds"] = 0
    if out.get("kind") == "Namespace":
        out.setdefault("spec", {})["finalizers"] = [NAMESPACE_FINALIZER]
        out["status"] = {"phase": "Terminating"}
    else:
        meta["finalizers"] = [*meta.get("finalizers", []), FOREGROUND_FINALIZER]
    return out


class Finalizing:
    """Attributes other than `finalizing` are the Controller's."""

    state: State
    terminating: dict[str, PodWorker]
    finalizing: dict[str, Obj]  # key -> the object served until its dependents are gone

    def keep_until_dependents_gone(self, key: str, served: Obj) -> Obj:
        """Serve `served` (the object as it was) as terminating until its pods are gone."""
        self.finalizing[key] = terminating(served)
        return self.finalizing[key]

    def terminating_namespace(self, namespace: str) -> bool:
        return f"Namespace//{namespace}" in self.finalizing

    def settle_finalizing(self) -> bool:
        """Let go of the objects none of whose pods is left; whether any went."""
        gone = [key for key in self.finalizing if not self._has_dependents(key)]
        for key in gone:
            del self.finalizing[key]
        return bool(gone)

    def _has_dependents(self, key: str) -> bool:
        kind, _, rest = key.partition("/")
        # A pod force-deleted (grace 0) is gone from the API at once, its containers going
        # in the background: it holds nothing up, as on a cluster.
        records = [*self.state.pods.values(),
                   *(w.record for w in self.terminating.values()
                     if not w.done.is_set() and not w.deleted_at_once)]
        if kind == "Namespace":
            namespace = rest.partition("/")[2]
            return any(r.namespace == namespace for r in records)
        if any(r.owner == key for r in records):
            return True
        # Stored dependents (a CronJob's Jobs) name it by uid in their ownerReferences.
        uid = (self.finalizing[key].get("metadata") or {}).get("uid")
        return bool(uid) and any(r.get("uid") == uid for o in self.state.objects.values()
                                 for r in (o.get("metadata") or {}).get("ownerReferences") or [])


__all__ = ["FOREGROUND_FINALIZER", "Finalizing", "NAMESPACE_FINALIZER", "terminating"]
