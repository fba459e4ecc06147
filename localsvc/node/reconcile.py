"""Which of the controller's objects a sync reconciles: those the store's events name.

The controller follows the object store like an informer: an event of a workload (a Deployment,
or any kind in WORKLOAD_KINDS) reconciles that workload's pods; a Pod event reconciles its owner
workload (its readiness moves a rollout) or, for a bare Pod, that pod. A restart token
(`localsvc` rebuilt an image: same template, new pods) is not part of the published object, so a
changed token counts as an event of its workload. Everything is reconciled on the first list, after falling out of the store's window
(TooOld: list again), and every RESYNC_PERIOD as a safety net (informers' resync). Pure: no I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from localsvc.node.objectstore import ObjectStore
from localsvc.node.subscriber import StoreSubscriber

RESYNC_PERIOD = 30.0  # seconds between full reconciles when no event asks for one
# The kinds whose objects own pods the controller makes (each reconciled by its own step in the
# Controller); their events and their pods' events reconcile them.
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"})
KINDS = WORKLOAD_KINDS | {"Pod"}
# The workloads whose pods run for good: a rebuilt image rolls them (`localsvc` restart tokens).
ROLLING_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})


@dataclass(frozen=True)
class Reconcile:
    """What one sync reconciles."""

    full: bool  # every object (a list, or the periodic resync)
    owners: frozenset[str] = field(default_factory=frozenset)  # "Deployment/ns/name", ...
    pods: frozenset[str] = field(default_factory=frozenset)  # "ns/name" of Pod events

    def __bool__(self) -> bool:
        return self.full or bool(self.owners) or bool(self.pods)


def affected(keys: frozenset[str], pod_owners: Mapping[str, str | None],
             restarted: frozenset[str]) -> Reconcile:
    """The objects that event `keys` ("Kind/namespace/name") and changed restart tokens touch:
    a Pod's owner workload when it has one (from `pod_owners`, pod "ns/name" -> owner key)."""
    owners = set(restarted)
    pods = set()
    for key in keys:
        kind, _, rest = key.partition("/")
        if kind in WORKLOAD_KINDS:
            owners.add(key)
        elif kind == "Pod":
            owner = pod_owners.get(rest)
            if owner:
                owners.add(owner)
            pods.add(rest)
    return Reconcile(False, frozenset(owners), frozenset(pods))


class ControllerEvents:
    """The controller's subscription to the store: what each sync must reconcile."""

    def __init__(self, store: ObjectStore, period: float = RESYNC_PERIOD,
                 clock: Callable[[], float] = time.monotonic):
        self.subscriber = StoreSubscriber(store, KINDS)
        self.period = period
        self._clock = clock
        self._next_resync = 0.0
        self._restarts: Mapping[str, str] = {}
        self._keys: set[str] = set()  # collected, not yet reconciled
        self._relisted = False
        self.full_syncs = 0  # status and tests

    def collect(self) -> bool:
        """Take the store's new events (kept for the next `take`); whether there were any."""
        changes = self.subscriber.changes()
        self._relisted |= changes.relisted
        self._keys |= changes.keys
        return bool(changes)

    def take(self, pod_owners: Mapping[str, str | None],
             restarts: Mapping[str, str]) -> Reconcile:
        """What to reconcile now: everything collected since the last call."""
        self.collect()
        restarted = frozenset(k for k, token in restarts.items()
                              if self._restarts.get(k) != token)
        self._restarts = dict(restarts)
        now = self._clock()
        if self._relisted or now >= self._next_resync:
            plan = Reconcile(True)
            self.full_syncs += 1
            self._next_resync = now + self.period
        else:
            plan = affected(frozenset(self._keys), pod_owners, restarted)
        self._keys.clear()
        self._relisted = False
        return plan


__all__ = ["KINDS", "ROLLING_KINDS", "WORKLOAD_KINDS", "RESYNC_PERIOD", "ControllerEvents", "Reconcile", "affected"]
