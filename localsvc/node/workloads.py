"""How a workload controller plugs into the Controller's sync.

Each kind that owns pods the node makes (Deployment, and the kinds in reconcile.WORKLOAD_KINDS)
has one step: `sync(obj, desired)` reconciles one object of the kind (adds the keys of the pods
it keeps to `desired`; True when it changed the State), run when the store's events name the
object, on a full reconcile, or when its wake time in `pending` has come (a clock moves it with
no event: minReadySeconds, a deadline, a back-off, a TTL, a schedule). Each sync of an object
sets its next wake time (or none). `forget()` drops the tables of objects no longer stored
(True when it changed the State). Each controller mixin appends its step in its init.

Wake times are wall-clock epoch seconds (time.time()), the clock the models compute with.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass
class WorkloadStep:
    kind: str
    sync: Callable[[Obj, set[str]], bool]
    forget: Callable[[], bool]
    # object key -> when the loop syncs it next with no event (epoch seconds); kept in place
    # (the mixin and the step share this dict)
    pending: dict[str, float] = field(default_factory=dict)

    def due(self, key: str) -> bool:
        wake = self.pending.get(key)
        return wake is not None and wake <= time.time()


def set_wake(pending: dict[str, float], key: str, wake_at: float | None) -> None:
    """The next time `key` is synced with no event; None: only events move it."""
    if wake_at is None:
        pending.pop(key, None)
    else:
        pending[key] = wake_at


def available_wake(ready_since: Iterable[float], min_ready: int, now: float) -> float | None:
    """When the next ready pod becomes available (ready for `min_ready` seconds, from the
    times it was first seen ready): the only change of a rollout a clock makes; pods becoming
    ready, going or coming are Pod events. None when no pod is waiting for that."""
    return min((since + min_ready for since in ready_since if since + min_ready > now),
               default=None)


def drop_finished(terminating: dict[str, Any]) -> set[str]:
    """Drops the stopping pod workers whose containers are gone (pod uid -> PodWorker) and
    returns their pods' owners, which a sync must wake now: the pod's deletion, published by
    that sync, is a Pod event that no longer names its owner (a set's scale-down waits for it)."""
    finished = [uid for uid, worker in terminating.items() if worker.done.is_set()]
    return {owner for uid in finished if (owner := terminating.pop(uid).record.owner)}


class ReadySince(dict[str, dict[str, float]]):
    """When each ready pod of a workload was first seen ready: workload key -> pod uid -> epoch
    seconds (minReadySeconds counts from it). Each count keeps the workload's pods ready now,
    with the time they were first seen (now for one newly ready); a workload no longer stored
    is dropped as any table of its mixin."""

    def count(self, owner: str, ready_uids: Iterable[str], now: float) -> dict[str, float]:
        before = self.get(owner, {})
        since = {uid: before.get(uid, now) for uid in ready_uids}
        self[owner] = since
        return since


def keep_stored(pending: dict[str, float], stored: Container[str]) -> None:
    """Drop the wake times of objects no longer stored (in place)."""
    for key in [k for k in pending if k not in stored]:
        del pending[key]


def forget_gone(step: WorkloadStep, statuses: dict[str, Any], stored: Container[str]) -> bool:
    """`step`'s forget (its mixin's own tables), then what every step keeps alike: the wake
    times and the statuses of its kind's objects no longer stored. Whether the State changed."""
    changed = step.forget()
    keep_stored(step.pending, stored)
    prefix = f"{step.kind}/"
    for key in [k for k in statuses if k.startswith(prefix) and k not in stored]:
        del statuses[key]
    return changed


def earliest_wake(steps: Iterable[WorkloadStep]) -> float | None:
    """When the loop must sync next at the latest for some step's clock; None: no clock."""
    return min((wake for step in steps for wake in step.pending.values()), default=None)


def wait_seconds(steps: Iterable[WorkloadStep], period: float) -> float:
    """How long the sync loop may wait for a change: `period`, or less when a workload's clock
    (a wake time in a step's `pending`) comes sooner."""
    wake = earliest_wake(steps)
    return period if wake is None else min(period, max(0.0, wake - time.time()))


__all__ = ["ReadySince", "WorkloadStep", "available_wake", "drop_finished", "earliest_wake",
           "forget_gone", "keep_stored", "set_wake", "wait_seconds"]
