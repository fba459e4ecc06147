"""The node's object store: every object the environment knows, each change an event to watch.

Shaped after the Kubernetes API conventions (and etcd underneath): one resourceVersion counter
for the whole store, a decimal string on each object, bumped by every change; `generation` (on the
kinds that have one, model/objects.py GENERATION_KINDS) bumped only when `spec` changes; `uid` and `creationTimestamp` set once, when the object is first
stored. Every change is a WatchEvent (ADDED / MODIFIED / DELETED, with the object at its new
resourceVersion). A bounded window of recent events lets a watcher resume from the
resourceVersion it last saw; a version older than the window is TooOld (the API answers
410 Gone, and the watcher lists again). Pure: no I/O, no Docker, no event loop; the counter is
persisted by the caller (see node/store.py State.resource_version) so that it never goes
backwards across node restarts.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from localsvc.model.clock import now_iso
from localsvc.model.objects import has_generation
from localsvc.model.objects import owner_reference as owner_reference  # re-exported

Obj = dict[str, Any]
EventType = Literal["ADDED", "MODIFIED", "DELETED"]
DEFAULT_WINDOW = 1000  # events kept for resuming watchers (kube-apiserver's watch cache: 100s)

# Metadata the store manages: not part of what "changed" means.
_MANAGED = ("resourceVersion", "uid", "creationTimestamp", "generation")


@dataclass(frozen=True)
class WatchEvent:
    type: EventType
    key: str  # "Kind/namespace/name" (node/store.py key_of)
    object: Obj  # the object at `resource_version` (for DELETED: its last state, new version)
    resource_version: int


class TooOld(Exception):
    """The resourceVersion asked for is older than the kept window (HTTP 410 Gone)."""

    def __init__(self, asked: int, oldest: int):
        super().__init__(f"resourceVersion {asked} is too old: the oldest this store can resume "
                         f"from is {oldest}; list again and watch from the list's version")
        self.asked = asked
        self.oldest = oldest



def _content(obj: Mapping[str, Any]) -> Obj:
    """`obj` without the metadata the store manages: what a change is compared on."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _MANAGED}
    return {**obj, "metadata": meta}


class ObjectStore:
    """Objects by key, one resourceVersion counter, and a window of recent events.

    Stored objects are never changed in place: a change stores a new dict, so readers may keep
    what they were given."""

    def __init__(self, resource_version: int = 0, window: int = DEFAULT_WINDOW,
                 clock: Callable[[], float] = time.time,
                 version_floor: Callable[[], int] | None = None):
        self._objects: dict[str, Obj] = {}
        self._rv = resource_version
        self._events: deque[WatchEvent] = deque(maxlen=window)
        # Events after this version are all in the window (before: evicted, or from before a
        # restart, which starts with an empty window).
        self._oldest = resource_version
        self._clock = clock
        self._listeners: list[Callable[[WatchEvent], None]] = []
        # The node passes the clock in microseconds: a version is then above every version
        # handed out before a restart even when the last ones were not yet saved.
        self._floor = version_floor

    # ---- reads --------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def oldest_version(self) -> int:
        """The oldest resourceVersion a watch (or a continued list) may resume from."""
        return self._oldest

    def get(self, key: str) -> Obj | None:
        return self._objects.get(key)

    def keys(self) -> list[str]:
        return list(self._objects)

    def list_objects(self, kind: str | None = None) -> tuple[list[Obj], int]:
        """Objects (of `kind`, or all) and the store's resourceVersion they are consistent at."""
        prefix = f"{kind}/" if kind else ""
        return [o for k, o in self._objects.items() if k.startswith(prefix)], self._rv

    def events_since(self, resource_version: int) -> list[WatchEvent]:
        """Every event after `resource_version`, in order; TooOld when some are no longer kept."""
        if resource_version < self._oldest:
            raise TooOld(resource_version, self._oldest)
        if not self._events or resource_version >= self._events[-1].resource_version:
            return []
        return [e for e in self._events if e.resource_version > resource_version]

    # ---- writes -------------------------------------------------------------------------------

    def restore(self, objects: Mapping[str, Obj]) -> None:
        """Take objects read from the state file as they are (no events: nobody watched yet).
        The counter is raised past every version found, so it never goes backwards."""
        self._objects = dict(objects)
        for obj in objects.values():
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if isinstance(version, str) and version.isdigit():
                self._rv = max(self._rv, int(version))
        self._oldest = self._rv
        self._events.clear()

    def compact(self) -> None:
        """Forget the kept events: only the current version can be resumed from. The node does
        this after a restart's first publish, whose events are no continuation of what a
        watcher saw before the restart (as a restarted API server's watch cache)."""
        self._events.clear()
        self._oldest = self._rv

    def put(self, key: str, obj: Obj) -> WatchEvent | None:
        """Store `obj` under `key`; the event, or None when nothing but managed metadata
        differs from what is stored (no new version, as an unchanged apply)."""
        previous = self._objects.get(key)
        new_uid = (obj.get("metadata") or {}).get("uid")
        if previous is not None and new_uid not in (None, previous["metadata"].get("uid")):
            # A new uid is a new object (a Pod re-created under the same name), as on a server.
            self.delete(key)
            previous = None
        if previous is not None and _content(previous) == _content(obj):
            return None
        self._next_version()
        meta = dict(obj.get("metadata") or {})
        if previous is None:
            if "uid" not in meta:  # (not setdefault: a uuid per put is measurable at 3,000)
                meta["uid"] = str(uuid.uuid4())
            if "creationTimestamp" not in meta:
                meta["creationTimestamp"] = now_iso(self._clock())
            if has_generation(obj):
                meta["generation"] = int(meta.get("generation") or 1)
        else:
            old = previous.get("metadata") or {}
            meta["uid"] = old.get("uid") or str(uuid.uuid4())
            meta["creationTimestamp"] = old.get("creationTimestamp") \
                or meta.get("creationTimestamp") or now_iso(self._clock())
            if has_generation(obj):
                before = int(old.get("generation") or 1)
                meta["generation"] = before + (1 if previous.get("spec") != obj["spec"] else 0)
        meta["resourceVersion"] = str(self._rv)
        stored = {**obj, "metadata": meta}
        self._objects[key] = stored
        return self._record(WatchEvent("ADDED" if previous is None else "MODIFIED", key, stored,
                                       self._rv))

    def delete(self, key: str) -> WatchEvent | None:
        previous = self._objects.pop(key, None)
        if previous is None:
            return None
        self._next_version()
        gone = {**previous, "metadata": {**(previous.get("metadata") or {}),
                                         "resourceVersion": str(self._rv)}}
        return self._record(WatchEvent("DELETED", key, gone, self._rv))

    def replace_kinds(self, kinds: Iterable[str], objects: Mapping[str, Obj]) -> list[WatchEvent]:
        """Make the stored objects of `kinds` exactly `objects` (key -> object): put each,
        delete the others of those kinds. Only what differs becomes an event."""
        prefixes = tuple(f"{kind}/" for kind in kinds)
        events = []
        for key in [k for k in self._objects if k.startswith(prefixes) and k not in objects]:
            event = self.delete(key)
            if event is not None:
                events.append(event)
        for key, obj in objects.items():
            event = self.put(key, obj)
            if event is not None:
                events.append(event)
        return events

    # ---- watching -----------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[WatchEvent], None]) -> None:
        """`listener(event)` after every event (to wake a subscriber; it reads with a Watcher)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[WatchEvent], None]) -> None:
        """Stop calling `listener` (an API watch that ended)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def watcher(self, resource_version: int | None = None) -> Watcher:
        """A Watcher resuming after `resource_version` (None: from now)."""
        return Watcher(self, self._rv if resource_version is None else resource_version)

    def _next_version(self) -> None:
        self._rv = max(self._rv + 1, self._floor() if self._floor is not None else 0)

    def _record(self, event: WatchEvent) -> WatchEvent:
        if len(self._events) == self._events.maxlen:
            self._oldest = self._events[0].resource_version
        self._events.append(event)
        for listener in self._listeners:
            listener(event)
        return event


class Watcher:
    """A subscriber's position in the store, like an informer's last-seen resourceVersion:
    `poll()` gives what changed since the last poll, and moves on."""

    def __init__(self, store: ObjectStore, resource_version: int):
        self.store = store
        self.resource_version = resource_version

    def poll(self) -> list[WatchEvent]:
        """Events since the last poll (TooOld when this watcher fell out of the window)."""
        events = self.store.events_since(self.resource_version)
        if events:
            self.resource_version = events[-1].resource_version
        return events


__all__ = ["DEFAULT_WINDOW", "ObjectStore", "TooOld", "WatchEvent", "Watcher", "owner_reference"]
