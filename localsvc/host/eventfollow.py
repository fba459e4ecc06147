"""The foreground `up`'s follower of Warning Events, printed among the log lines.

It watches the environment's Kubernetes API (the Events of every namespace, fieldSelector
type=Warning) from the version of a first list; of that list only the Warnings of the last
RECENT_SECONDS are printed (what the session's apply just caused, before the follower started),
not an old history. A watch ends by its timeoutSeconds or a dropped connection (a node restart): it is
resumed from the last version seen, and when the server no longer has that version (410) it
lists again. Each new Warning, and each repeat of one (its count moved), is one line:
`warning  pod/NAME  BackOff: Back-off restarting failed container ...`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from localsvc.errors import LocalsvcError
from localsvc.host.client import NodeClient
from localsvc.host.kubepaths import collection_path, with_query
from localsvc.model.clock import rfc3339_seconds

Obj = dict[str, Any]
WATCH_SECONDS = 30  # a watch's timeoutSeconds; it is then resumed
RETRY_SECONDS = 1.0  # after a failed list or watch
SELECTOR = "type=Warning"
RECENT_SECONDS = 60.0  # Warnings of the first list this recent are printed too


def warning_line(event: Obj) -> str:
    """The line the foreground `up` prints for a Warning Event. Pure."""
    involved = event.get("involvedObject") or {}
    target = f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"
    namespace = involved.get("namespace") or (event.get("metadata") or {}).get("namespace")
    if namespace and namespace != "default":
        target += f" -n {namespace}"
    message = " ".join(str(event.get("message", "")).split())  # one line, whatever it held
    return f"warning  {target}  {event.get('reason', '')}: {message}"


def watch_path(resource_version: str) -> str:
    return with_query(collection_path("Event", None), fieldSelector=SELECTOR, watch="1",
                      resourceVersion=resource_version, timeoutSeconds=str(WATCH_SECONDS),
                      allowWatchBookmarks="true")


class EventFollower:
    """Runs until `stopped` is set; `show(line)` prints one Warning."""

    def __init__(self, node: Callable[[], NodeClient], show: Callable[[str], None],
                 stopped: threading.Event, clock: Callable[[], float] = time.time):
        self.node = node
        self.clock = clock
        self.show = show
        self.stopped = stopped
        self.version = ""  # the last resourceVersion seen; "" until the first list
        self._counts: dict[str, int] = {}  # Event uid -> the count last printed

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                if not self.version:
                    self._list()
                self._watch()
            except (LocalsvcError, OSError, ValueError):
                # The node went or restarts: try again (from the same version) shortly.
                self.stopped.wait(RETRY_SECONDS)

    def _list(self) -> None:
        listing = self.node().get(with_query(collection_path("Event", None),
                                             fieldSelector=SELECTOR))
        now = self.clock()
        for event in listing.get("items") or []:  # known from now on; printed when recent
            last = rfc3339_seconds(str(event.get("lastTimestamp") or ""))
            if self._seen(event) and last is not None and now - last <= RECENT_SECONDS:
                self.show(warning_line(event))
        self.version = str((listing.get("metadata") or {}).get("resourceVersion", ""))

    def _watch(self) -> None:
        for change in self.node().watch(watch_path(self.version)):
            if self.stopped.is_set():
                return
            kind, obj = change.get("type"), change.get("object") or {}
            if kind == "ERROR":  # 410 Gone: the version is too old; list again
                self.version = ""
                return
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if version:
                self.version = str(version)
            if kind in ("ADDED", "MODIFIED") and self._seen(obj):
                self.show(warning_line(obj))

    def _seen(self, event: Obj) -> bool:
        """Whether `event` is new or a repeat not printed yet (its count moved)."""
        uid = str((event.get("metadata") or {}).get("uid", ""))
        count = int(event.get("count") or 1)
        if self._counts.get(uid, 0) >= count:
            return False
        self._counts[uid] = count
        if len(self._counts) > 10_000:  # a long session: forget the oldest
            del self._counts[next(iter(self._counts))]
        return True


__all__ = ["EventFollower", "warning_line", "watch_path"]
