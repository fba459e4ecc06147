"""What wakes `up --wait` (host/waiting.py) between its rounds: a watch of the pods and one of the
Endpoints, every namespace, each in a thread of its own, so that a round runs as soon as a pod
turns Ready or its Service's endpoints change, not at the next poll.

The watches start from the version of a list made as the wait starts; a change they miss (made
before that list) or do not see (the dataplane applying the endpoints, which is no object) is
found by the next round anyway: `wait(timeout)` returns after `timeout` without a change too. A
dropped watch (a node restart) is not resumed: the wait falls back to its polling.
"""

from __future__ import annotations

import threading
from typing import IO, Any

from localsvc.errors import LocalsvcError
from localsvc.host.client import NodeClient
from localsvc.host.eventfollow import shut_down
from localsvc.host.kubepaths import collection_path, with_query

WATCHED = ("Pod", "Endpoints")
WATCH_SECONDS = 300  # a watch's timeoutSeconds: longer than most waits; then polling


class ChangeWaker:
    """Set by any event of the watched kinds; `close()` ends the watches at once."""

    def __init__(self, node: NodeClient):
        self.node = node
        self.changed = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._responses: list[IO[bytes]] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> ChangeWaker:
        for kind in WATCHED:
            thread = threading.Thread(target=self._follow, args=(kind,), daemon=True,
                                      name=f"wait-watch-{kind}")
            thread.start()
            self._threads.append(thread)
        return self

    def wait(self, timeout: float) -> bool:
        """Until something changed since the last wait (True), or `timeout` (False)."""
        woken = self.changed.wait(timeout)
        self.changed.clear()
        return woken

    def close(self) -> None:
        self._stopped.set()
        with self._lock:
            responses = list(self._responses)
        for response in responses:
            shut_down(response)
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> ChangeWaker:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _follow(self, kind: str) -> None:
        try:
            listing = self.node.get(collection_path(kind, None))
            version = str((listing.get("metadata") or {}).get("resourceVersion", ""))
            response = self.node.open_stream(with_query(
                collection_path(kind, None), watch="1", resourceVersion=version,
                timeoutSeconds=str(WATCH_SECONDS)))
        except (LocalsvcError, OSError, ValueError):
            return  # the wait polls
        with self._lock:
            self._responses.append(response)
        try:
            if self._stopped.is_set():  # closed before the watch was held
                return
            for line in response:
                if self._stopped.is_set():
                    return
                if line.strip():
                    self.changed.set()
        except (OSError, ValueError):
            return
        finally:
            response.close()
