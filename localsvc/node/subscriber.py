"""A subscriber of the node's object store, informer style: it lists once, then takes the events
after the resourceVersion it last saw; when that version is too old (TooOld: it fell out of the
store's event window, or the store was compacted after a node restart), it lists again.

The DNS index, the dataplane sync and the svclb reconcile each hold one, for the kinds they
serve, and act only on what changed: `changes()` answers which keys of those kinds changed since
the last call, or that everything must count as changed (a fresh list). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from localsvc.node.objectstore import ObjectStore, TooOld, Watcher


@dataclass(frozen=True)
class Changes:
    """What changed of a subscriber's kinds since it last asked."""

    relisted: bool  # a (re)list: everything counts as changed
    keys: frozenset[str] = frozenset()  # "Kind/namespace/name" of the changed objects

    def __bool__(self) -> bool:
        return self.relisted or bool(self.keys)

    def touches(self, kinds: Iterable[str]) -> bool:
        """Whether a change concerns one of `kinds` (a re-list concerns all)."""
        wanted = set(kinds)
        return self.relisted or any(key.split("/", 1)[0] in wanted for key in self.keys)


class StoreSubscriber:
    def __init__(self, store: ObjectStore, kinds: Iterable[str]) -> None:
        self.store = store
        self.kinds = frozenset(kinds)
        self._watcher: Watcher | None = None
        self.relists = 0  # how often it listed (the first list included): status, tests

    @property
    def resource_version(self) -> int | None:
        """The version it has seen everything up to (None before its first list)."""
        return self._watcher.resource_version if self._watcher is not None else None

    def changes(self) -> Changes:
        """The changes of its kinds since the last call; a re-list the first time and after
        falling behind the store's window (TooOld)."""
        if self._watcher is not None:
            try:
                events = self._watcher.poll()
            except TooOld:
                pass
            else:
                return Changes(False, frozenset(
                    e.key for e in events if e.key.split("/", 1)[0] in self.kinds))
        self._watcher = self.store.watcher()  # the list is the store as it is now
        self.relists += 1
        return Changes(True)


__all__ = ["Changes", "StoreSubscriber"]
