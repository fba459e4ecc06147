"""Log lines of containers: a splitter that never holds more than one capped line, and the
foreground `up`'s follower of every pod's containers, prefixed like compose.

A poller finds containers as they (re)start and gives each one a thread that follows its log;
Warning Events are printed among the lines (host/eventfollow.py), unprefixed and marked
`warning` so they stand apart. Colour only on a terminal and without NO_COLOR.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

from localsvc.errors import LocalsvcError
from localsvc.host.eventfollow import EventFollower

if TYPE_CHECKING:  # the CLI imports LineSplitter; Docker's client is not needed for it
    from localsvc.host.api import Environment

_COLOURS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96]
# A container printing without newlines must not make us hold its whole output: longer lines
# are cut into pieces of this size, each but the last marked as continued.
MAX_LINE = 1024 * 1024
CONTINUED = b" [line continues]"
# The Events' follower ends within a moment once its watch is shut down; a bound all the same.
EVENTS_JOIN_SECONDS = 5.0


class LineSplitter:
    """Bytes of a log stream in, complete lines out (without their newline)."""

    def __init__(self, max_line: int = MAX_LINE):
        self.max_line = max_line
        self.pending = bytearray()
        self.scanned = 0  # pending[:scanned] holds no newline: not searched again

    def feed(self, chunk: bytes) -> list[bytes]:
        lines: list[bytes] = []
        self.pending += chunk
        while True:
            end = self.pending.find(b"\n", self.scanned, self.max_line + 1)
            if end >= 0:
                lines.append(bytes(self.pending[:end]))
                del self.pending[:end + 1]
                self.scanned = 0
            elif len(self.pending) > self.max_line:
                lines.append(bytes(self.pending[:self.max_line]) + CONTINUED)
                del self.pending[:self.max_line]
                self.scanned = 0
            else:
                self.scanned = len(self.pending)
                return lines

    def finish(self) -> list[bytes]:
        """The last line when the stream ended without a newline."""
        rest, self.pending, self.scanned = bytes(self.pending), bytearray(), 0
        return [rest] if rest else []


def use_colour(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ


class LogStreamer:
    def __init__(self, env: Environment, out: TextIO = sys.stdout):
        self.env = env
        self.out = out
        self.colour = use_colour(out)
        self.followed: set[str] = set()
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self._events: EventFollower | None = None
        self._events_thread: threading.Thread | None = None

    def prefix(self, label: str) -> str:
        if not self.colour:
            return f"{label} | "
        code = _COLOURS[sum(label.encode()) % len(_COLOURS)]
        return f"\033[{code}m{label}\033[0m │ "

    def run(self) -> None:
        """Poll until stopped; start a follower per new container, and the Events' follower,
        which ends with the poll (its watch closed, its thread joined)."""
        self._events = EventFollower(self.env.node, self._print_event, self.stopped)
        self._events_thread = threading.Thread(target=self._events.run, name="events",
                                               daemon=True)
        self._events_thread.start()
        try:
            while not self.stopped.is_set():
                try:
                    pods = self.env.get("pods", namespace=None)
                except LocalsvcError:
                    pods = []
                for pod in pods:
                    self._follow_pod(pod)
                self.stopped.wait(1.0)
        finally:
            self.stop()

    def stop(self, timeout: float = EVENTS_JOIN_SECONDS) -> None:
        """Stop streaming: the Events' follower ends its watch at once and is waited for."""
        self.stopped.set()
        if self._events is not None:
            self._events.close()
        thread = self._events_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _follow_pod(self, pod: dict[str, Any]) -> None:
        name = pod["metadata"]["name"]
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        for status in statuses:
            cid = str(status.get("containerID") or "").removeprefix("docker://")
            if not cid or cid in self.followed:
                continue
            self.followed.add(cid)
            label = name if len(statuses) == 1 else f"{name}/{status['name']}"
            if status.get("restartCount"):
                self._print(label, f"(restarted, restart count {status['restartCount']})")
            threading.Thread(target=self._follow, args=(cid, label), daemon=True).start()

    def _follow(self, cid: str, label: str) -> None:
        try:
            container = self.env.docker.containers.get(cid)
            splitter = LineSplitter()
            for chunk in container.logs(stream=True, follow=True):
                for line in splitter.feed(chunk):
                    self._print(label, line.decode(errors="replace"))
            for line in splitter.finish():
                self._print(label, line.decode(errors="replace"))
            container.reload()
            code = container.attrs["State"].get("ExitCode")
            self._print(label, f"(exited with code {code})")
        except Exception:  # the container was removed: nothing more to show
            return

    def _print_event(self, line: str) -> None:
        if self.stopped.is_set():
            return
        if self.colour:  # Warnings in bold yellow, as kubectl's warnings stand out
            line = f"\033[1;33m{line}\033[0m"
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()

    def _print(self, label: str, line: str) -> None:
        if self.stopped.is_set():
            return
        with self.lock:
            self.out.write(self.prefix(label) + line + "\n")
            self.out.flush()
