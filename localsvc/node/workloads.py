"""How a workload controller plugs into the Controller's sync.

Each kind that owns pods the node makes (Deployment, and the kinds in reconcile.WORKLOAD_KINDS)
has one step: `sync(obj, desired)` reconciles one object of the kind (adds the keys of the pods
it keeps to `desired`; True when it changed the State), run when the store's events name the
object, on a full reconcile, or while the object is in `pending` (a clock may move it with no
event: minReadySeconds, a deadline, a schedule). `forget()` drops the tables of objects no longer
stored (True when it changed the State). Each controller mixin appends its step in its init.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


@dataclass
class WorkloadStep:
    kind: str
    sync: Callable[[Obj, set[str]], bool]
    forget: Callable[[], bool]
    pending: set[str] = field(default_factory=set)  # object keys to sync on every loop


__all__ = ["WorkloadStep"]
