"""One API watch: the store's events of one resource, filtered, from a resourceVersion.

As the API server's watch cache serves it: without a resourceVersion (or "0") the watch starts
with a synthetic ADDED event per matching object, then follows; from a resourceVersion it
replays the kept events after it (410 Expired when they are no longer kept: the client lists
again). A MODIFIED object that stops matching the selectors is sent as DELETED, one that starts
matching as ADDED, as a filtered watch does. Events arrive through a store listener into a
bounded queue: a client that cannot keep up is cut off (it resumes or lists again) instead of
holding the node's memory. BOOKMARK events carry the store's version when asked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from localsvc.node.objectstore import ObjectStore, WatchEvent

Obj = dict[str, Any]
QUEUE_LIMIT = 10_000  # events a slow client may fall behind before its watch is ended
BOOKMARK_SECONDS = 10.0


@dataclass(frozen=True)
class WatchFilter:
    """Which of the store's objects a watch sees."""

    kind: str
    namespace: str | None  # None: every namespace (or a cluster-scoped kind)
    matches: Callable[[Obj], bool]  # the label and field selectors
    api_version: str  # of the BOOKMARK objects

    def in_scope(self, key: str) -> bool:
        kind, _, rest = key.partition("/")
        if kind != self.kind:
            return False
        return self.namespace is None or rest.partition("/")[0] == self.namespace

    def current(self, store: ObjectStore) -> dict[str, Obj]:
        """The store's objects this filter sees now, by key (what a list answers)."""
        prefix = f"{self.kind}/"
        return {key: obj for key in store.keys() if key.startswith(prefix)
                and self.in_scope(key) and (obj := store.get(key)) is not None
                and self.matches(obj)}


class FellBehind(Exception):
    """The client did not read its events fast enough."""


class ApiWatch:
    """Register before reading the store (no event can fall between the list and the watch),
    iterate `events()`, and `close()` at the end (the listener goes)."""

    def __init__(self, store: ObjectStore, scope: WatchFilter, since: int | None,
                 bookmarks: bool = False, bookmark_seconds: float = BOOKMARK_SECONDS):
        self.store = store
        self.scope = scope
        self.bookmarks = bookmarks
        self.bookmark_seconds = bookmark_seconds
        self._queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()
        self._behind = False
        # The backlog first (TooOld raises here, before anything was sent), then the listener.
        current = scope.current(store)
        # Keys the client was last told match: what matches now is what it is taken to know of
        # (its list, or what it was sent before it resumed); a replay moves it on from there.
        self._visible: set[str] = set(current)
        self._backlog: list[tuple[str, Obj]] = []
        if since is None:
            self._backlog = [("ADDED", obj) for obj in current.values()]
        else:
            for event in store.events_since(since):  # the store's events of every kind
                if scope.in_scope(event.key):
                    self._backlog += self._translate(event, replaying=True)
        store.add_listener(self._heard)

    def close(self) -> None:
        self.store.remove_listener(self._heard)

    def _heard(self, event: WatchEvent) -> None:
        if not self.scope.in_scope(event.key) or self._behind:
            return
        if self._queue.qsize() >= QUEUE_LIMIT:
            self._behind = True
            self._queue.put_nowait(None)
            return
        self._queue.put_nowait(event)

    def _translate(self, event: WatchEvent, replaying: bool = False) -> list[tuple[str, Obj]]:
        key, obj = event.key, event.object
        was = key in self._visible
        if event.type == "DELETED":
            self._visible.discard(key)
            return [("DELETED", obj)] if was or self.scope.matches(obj) else []
        if self.scope.matches(obj):
            self._visible.add(key)
            if replaying:  # the client may or may not have seen it: ADDED only when it is new
                return [(event.type, obj)]
            return [("MODIFIED" if was else "ADDED", obj)]
        if was:
            self._visible.discard(key)
            return [("DELETED", obj)]
        return []

    async def events(self) -> AsyncIterator[tuple[str, Obj]]:
        """(type, object) pairs until the client goes or falls behind (FellBehind)."""
        for item in self._backlog:
            yield item
        self._backlog = []
        while True:
            try:
                event = await asyncio.wait_for(self._queue.get(), timeout=self.bookmark_seconds) \
                    if self.bookmarks else await self._queue.get()
            except TimeoutError:
                yield "BOOKMARK", {"kind": self.scope.kind, "apiVersion": self.scope.api_version,
                                   "metadata": {"resourceVersion": str(
                                       self.store.resource_version)}}
                continue
            if event is None:
                raise FellBehind()
            for item in self._translate(event):
                yield item


__all__ = ["ApiWatch", "BOOKMARK_SECONDS", "FellBehind", "QUEUE_LIMIT", "WatchFilter"]
