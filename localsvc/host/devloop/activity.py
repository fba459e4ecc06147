"""The foreground dev loop's steps as core/v1 Events (the dashboard's activity panel, and
`kubectl get events --field-selector source=localsvc-devloop`).

Each step the loop reports (a file changed, files synced, an image rebuilt or failing to build,
manifests applied or refused) becomes one Event written through the Kubernetes API, as
client-go's recorder writes them: source.component and reportingComponent `localsvc-devloop`,
a reason per step, type Warning for failures, the step's duration in the message, and as
involvedObject the Deployment or pod it touched, else the Namespace `default`.

`activity_event` builds the body (pure, with the clock passed in). `ActivityRecorder` writes
them from a thread of its own, so a slow or failing write never holds or breaks the dev loop:
the first failure is said once, the loop goes on, later failures are dropped quietly.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

COMPONENT = "localsvc-devloop"
FILE_CHANGED, SYNCED, REBUILT = "FileChanged", "Synced", "Rebuilt"
BUILD_FAILED, APPLIED, APPLY_FAILED = "BuildFailed", "Applied", "ApplyFailed"
WARNINGS = frozenset({BUILD_FAILED, APPLY_FAILED})
_FILES_NAMED = 5  # files a message names before "and N more"
_MESSAGE_MAX = 1024  # characters of a message (a build's error can be long)
_PENDING_MAX = 100  # Events waiting for their write; more are dropped (the loop never waits)
# Kinds a step touches and their API groups (involvedObject.apiVersion); others are core v1.
_API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
                 "ReplicaSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1",
                 "Ingress": "networking.k8s.io/v1"}

log = logging.getLogger("localsvc.devloop")
Say = Callable[[str], None]


@dataclass(frozen=True)
class Involved:
    """The object a step touched (involvedObject)."""

    kind: str
    name: str
    namespace: str = ""  # "" for cluster-scoped objects (a Namespace)

    @classmethod
    def of(cls, result: Mapping[str, Any]) -> Involved:
        """From an apply's or a restart's result ({"kind", "name", "namespace", ...})."""
        return cls(str(result["kind"]), str(result["name"]), str(result.get("namespace") or ""))


DEFAULT_NAMESPACE = Involved("Namespace", "default")


def seconds(duration: float) -> str:
    return f"{duration:.1f} s"


def files_named(paths: Iterable[Path], base: Path | None = None) -> str:
    """"a.yaml, src/b.py and 3 more": paths relative to `base` where they are below it."""
    names = []
    for path in sorted(set(paths)):
        try:
            names.append(str(path.relative_to(base)) if base is not None else str(path))
        except ValueError:
            names.append(str(path))
    shown = ", ".join(names[:_FILES_NAMED])
    more = len(names) - _FILES_NAMED
    return shown + (f" and {more} more" if more > 0 else "")


def touched(results: Sequence[Mapping[str, Any]]) -> Involved:
    """What a step's results name first: a Deployment it changed, else the first object left
    in place (a deleted one may have taken its namespace along), else the Namespace default."""
    kept = [r for r in results if r.get("action") not in ("deleted", "unchanged")]
    for r in kept:
        if r.get("kind") == "Deployment":
            return Involved.of(r)
    return Involved.of(kept[0]) if kept else DEFAULT_NAMESPACE


def pod_of(pods: Sequence[dict[str, Any]], container_ids: Sequence[str]) -> Involved:
    """The pod of the first container a sync copied into (the Namespace default without one)."""
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            if str(status.get("containerID") or "").removeprefix("docker://") in container_ids[:1]:
                meta = pod["metadata"]
                return Involved("Pod", meta["name"], meta.get("namespace") or "default")
    return DEFAULT_NAMESPACE


def _timestamp(now: float) -> str:
    return datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def activity_event(reason: str, message: str, involved: Involved, now: float,
                   host: str) -> dict[str, Any]:
    """The core/v1 Event of one step at unix time `now`, written from `host` (pure). Named
    as client-go names Events: the involved object's name and the time in hex nanoseconds."""
    namespace = involved.namespace or "default"
    reference = {"apiVersion": _API_VERSIONS.get(involved.kind, "v1"), "kind": involved.kind,
                 "name": involved.name}
    if involved.namespace:
        reference["namespace"] = involved.namespace
    if len(message) > _MESSAGE_MAX:
        message = message[:_MESSAGE_MAX - 3] + "..."
    stamp = _timestamp(now)
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{involved.name}.{int(now * 1e9):x}", "namespace": namespace},
        "involvedObject": reference,
        "reason": reason, "message": message,
        "type": "Warning" if reason in WARNINGS else "Normal",
        "source": {"component": COMPONENT, "host": host},
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
        "reportingComponent": COMPONENT, "reportingInstance": host,
    }


Post = Callable[[str, dict[str, Any]], Any]  # (path, body): NodeClient.post


class ActivityRecorder:
    """Writes the dev loop's Events in the background; `record` never blocks and never
    raises."""

    def __init__(self, post: Post, say: Say, clock: Callable[[], float] = time.time,
                 host: str | None = None) -> None:
        self._post = post
        self._say = say
        self._clock = clock
        self.host = host or socket.gethostname()
        self._pending: queue.Queue[dict[str, Any] | None] = queue.Queue(_PENDING_MAX)
        self._failed = False  # said once
        self._writer: threading.Thread | None = None

    def record(self, reason: str, message: str, involved: Involved = DEFAULT_NAMESPACE) -> None:
        try:
            event = activity_event(reason, message, involved, self._clock(), self.host)
            if self._writer is None:
                self._writer = threading.Thread(target=self._write_all, name="devloop-events",
                                                daemon=True)
                self._writer.start()
            self._pending.put_nowait(event)
        except Exception as err:  # a full queue, a thread that cannot start: the loop goes on
            self._failure(err)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is pending (for at most `timeout` seconds), then stop the writer."""
        if self._writer is None:
            return
        try:
            self._pending.put(None, timeout=timeout)
        except queue.Full:
            return
        self._writer.join(timeout)

    def _write_all(self) -> None:
        while (event := self._pending.get()) is not None:
            namespace = event["metadata"]["namespace"]
            try:
                self._post(f"/api/v1/namespaces/{namespace}/events", event)
            except Exception as err:  # the node restarting, a namespace gone: go on
                self._failure(err)

    def _failure(self, err: Exception) -> None:
        log.debug("dev loop event not recorded: %r", err)
        if not self._failed:
            self._failed = True
            self._say(f"note: the dev loop's activity could not be recorded as Events ({err}); "
                      "the loop goes on without them")


__all__ = ["COMPONENT", "ActivityRecorder", "Involved", "activity_event", "files_named",
           "pod_of", "touched"]
