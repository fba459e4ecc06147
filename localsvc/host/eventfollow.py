"""The foreground `up`'s follower of Warning Events, printed among the log lines.

It watches the environment's Kubernetes API (the Events of every namespace, fieldSelector
type=Warning) from the version of a first list; of that list only the Warnings of the last
RECENT_SECONDS are printed (what the session's apply just caused, before the follower started),
not an old history. A watch ends by its timeoutSeconds or a dropped connection (a node restart): it is
resumed from the last version seen, and when the server no longer has that version (410) it
lists again (NodeClient asks Docker where a node it cannot reach listens now; a restarted node
answers an old version with 410). Each new
Warning, and each repeat of one (its count moved), is one line:
`warning  pod/NAME  BackOff: Back-off restarting failed container ...`.

`close()` ends the follower at once: the watch's connection is shut down, which wakes a read
blocked on it (closing the file from another thread would not), and the reading thread closes it.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import IO, Any

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


def shut_down(response: IO[bytes]) -> None:
    """Shut the connection of `response` down, from any thread: a read blocked on it returns.
    shutdown acts on the connection, so a duplicate of its descriptor is enough (and closing
    that duplicate leaves the response's own descriptor to its reader)."""
    try:
        with socket.socket(fileno=os.dup(response.fileno())) as connection:
            connection.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError):  # already closed: nothing is blocked on it
        pass


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
        self._lock = threading.Lock()
        self._response: IO[bytes] | None = None  # the watch being read

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                if not self.version:
                    self._list()
                self._watch()
            except (LocalsvcError, OSError, ValueError):
                # The watch dropped (the node restarts): resumed from the same version shortly.
                self.stopped.wait(RETRY_SECONDS)

    def close(self) -> None:
        """Stop following now: a watch blocked in its read ends (run() then returns)."""
        self.stopped.set()
        with self._lock:
            response = self._response
        if response is not None:
            shut_down(response)

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
        # Held here, not read through NodeClient.watch, so that close() can end it.
        response = self.node().open_stream(watch_path(self.version))
        with self._lock:
            self._response = response
        try:
            if not self.stopped.is_set():  # a close() before the watch was held ends it here
                self._read(response)
        finally:
            with self._lock:
                self._response = None
            response.close()

    def _read(self, response: IO[bytes]) -> None:
        for text in response:
            if self.stopped.is_set():
                return
            if not text.strip():
                continue
            change = json.loads(text)
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


__all__ = ["EventFollower", "shut_down", "warning_line", "watch_path"]
