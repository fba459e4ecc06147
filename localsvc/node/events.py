"""The node's event recorder: Events into the object store, where the API serves and watches them.

Recording is synchronous, on the event loop, and cheap: a budget check, one correlation lookup,
one store put, and the expiry of at most what is due (at most SWEEP_MAX_DELETIONS at a time). It never awaits and never raises,
so the pod worker, the probers and the controllers it is called from are never slowed or broken
by it (client-go's recorder likewise drops what it cannot send).

Events are not persisted with the node's state: the state is written on changes, and an Event per
container start must not make every write bigger and slower. A node restart (rare: `localsvc up`
after an upgrade, a crash) loses the last hour's Events; the objects they describe are kept.
The pure rules (correlation, expiry, bound, the shape) are in localsvc/model/events.py.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from localsvc.model import events as ev
from localsvc.model.events import Correlator, ObjectRef, Occurrence, reference_to
from localsvc.node.objectstore import ObjectStore
from localsvc.node.store import key_of

log = logging.getLogger("localsvc.events")


def event_key(namespace: str, name: str) -> str:
    return key_of("Event", namespace, name)


class EventRecorder:
    def __init__(self, objects: ObjectStore, host: str, ttl: float = ev.DEFAULT_TTL_SECONDS,
                 limit: int = ev.DEFAULT_LIMIT, clock: Callable[[], float] = time.time):
        self.objects = objects
        self.host = host  # the node name: the kubelet's source.host
        self.correlator = Correlator(ttl, limit)
        self.clock = clock

    def record(self, ref: ObjectRef, type_: str, reason: str, message: str,
               component: str = ev.KUBELET) -> None:
        """Record one occurrence (the kubelet's with this node as host)."""
        try:
            now = self.clock()
            host = self.host if component == ev.KUBELET else ""
            occurrence = Occurrence(self._completed(ref), type_, reason, message, component, host)
            # Forgotten first: an expired Event seen again is then a new one, and the old one
            # is deleted, not left behind under a name nothing remembers.
            self._forget(now)
            event = self.correlator.observe(occurrence, now)
            if event is None:  # over its source's budget: not stored (client-go drops it too)
                return
            meta = event["metadata"]
            self.objects.put(event_key(meta["namespace"], meta["name"]), event)
            self._forget(now)  # a new Event may be one over the limit
        except Exception:  # an Event is never worth breaking what it describes
            log.exception("recording event %s %s failed", reason, ref)

    def normal(self, ref: ObjectRef, reason: str, message: str,
               component: str = ev.KUBELET) -> None:
        self.record(ref, ev.NORMAL, reason, message, component)

    def warning(self, ref: ObjectRef, reason: str, message: str,
                component: str = ev.KUBELET) -> None:
        self.record(ref, ev.WARNING, reason, message, component)

    def store_written(self, event: dict[str, Any]) -> dict[str, Any]:
        """Store an Event a client wrote through the API (core/v1 shape, checked), kept and
        expired like the node's own; the Event as stored."""
        now = self.clock()
        meta = event["metadata"]
        self._forget(now)
        self.correlator.keep_written(meta["namespace"], meta["name"], now)
        key = event_key(meta["namespace"], meta["name"])
        self.objects.put(key, event)
        self._forget(now)  # one over the limit: the least recently seen goes
        return self.objects.get(key) or event

    def delete_written(self, namespace: str, name: str) -> None:
        """Delete an Event through the API."""
        self.correlator.forget(namespace, name)
        self.objects.delete(event_key(namespace, name))

    def sweep(self) -> None:
        """Delete the Events that expired (the controller calls this each sync)."""
        try:
            self._forget(self.clock())
        except Exception:
            log.exception("expiring events failed")

    def _forget(self, now: float) -> None:
        for namespace, name in self.correlator.expired(now):
            self.objects.delete(event_key(namespace, name))

    def _completed(self, ref: ObjectRef) -> ObjectRef:
        """`ref` with the uid and resourceVersion the store has for its object, as the
        reference a component takes from the object it holds."""
        stored = self.objects.get(key_of(ref.kind, ref.namespace, ref.name))
        if stored is None:
            return ref
        found = reference_to(stored)
        if ref.uid and found.uid != ref.uid:
            return ref  # a newer object under the same name: not the one this is about
        return dataclasses.replace(found, field_path=ref.field_path)


__all__ = ["EventRecorder", "event_key"]
