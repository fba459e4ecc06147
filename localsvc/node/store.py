"""The node's persistent state: applied objects and the pods it made, in one JSON file.

Kept in the environment's state volume so that a restarted node finds what was applied and which
pods it owns (and adopts their running containers). Written atomically (write + fsync + rename +
fsync of the directory) so that a crash mid-write leaves the previous state; a file that cannot
be read is quarantined beside it, never loaded half and never lost. No Docker here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localsvc.model.incluster import NAME as KUBERNETES_NAME, NAMESPACE as KUBERNETES_NAMESPACE
from localsvc.model.incluster import SERVICE_KEY as KUBERNETES_KEY
from localsvc.model.load import ObjectKey
from localsvc.model.replicasets import Revision
from localsvc.node.objecttable import ObjectTable

Obj = dict[str, Any]
log = logging.getLogger("localsvc.store")


def key_of(kind: str, namespace: str, name: str) -> str:
    """The table key of an object: ObjectKey's one stored form."""
    return ObjectKey(kind, namespace, name).id


@dataclass
class PodRecord:
    """A pod the node runs: its object (spec + metadata as Kubernetes would hold it)."""

    obj: Obj
    owner: str | None = None  # key of the owning Deployment, None for a bare Pod
    template_hash: str = ""
    created: float = 0.0

    @property
    def uid(self) -> str:
        return str(self.obj["metadata"]["uid"])

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"].get("namespace", "default"))

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    def to_json(self) -> Obj:
        return {
            "obj": self.obj,
            "owner": self.owner,
            "template_hash": self.template_hash,
            "created": self.created,
        }

    @classmethod
    def from_json(cls, data: Obj) -> PodRecord:
        return cls(
            obj=data["obj"],
            owner=data.get("owner"),
            template_hash=data.get("template_hash", ""),
            created=float(data.get("created", 0.0)),
        )


@dataclass
class DeploymentHistory:
    """What the deployment controller remembers of one Deployment: its kept ReplicaSets
    (revisions, with their stable uids) and the status it last published (whose conditions
    carry the times the next status keeps)."""

    revisions: list[Revision] = field(default_factory=list)
    status: Obj | None = None

    def to_json(self) -> Obj:
        return {"revisions": [r.to_json() for r in self.revisions], "status": self.status}

    @classmethod
    def from_json(cls, data: Obj) -> DeploymentHistory:
        status = data.get("status")
        if status is not None and not isinstance(status, dict):
            raise TypeError("status must be an object")
        return cls(revisions=[Revision.from_json(r) for r in data.get("revisions") or []],
                   status=status)


@dataclass
class State:
    # key -> applied object; always an ObjectTable (indexed by kind), whatever is assigned
    objects: dict[str, Obj] = field(default_factory=ObjectTable)
    sources: dict[str, Obj] = field(default_factory=dict)  # key -> {"file":..., "line":...}
    pods: dict[str, PodRecord] = field(default_factory=dict)  # "ns/name" -> record
    allocations: dict[str, Obj] = field(default_factory=dict)  # reserved for IP/port allocation
    # The object store's resourceVersion counter (node/objectstore.py), saved so that it never
    # goes backwards across node restarts: a watcher's version stays meaningful.
    resource_version: int = 0
    # Deployment key -> its revisions and last status (absent in state files of before).
    deployments: dict[str, DeploymentHistory] = field(default_factory=dict)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "objects" and not isinstance(value, ObjectTable):
            value = ObjectTable(value)
        super().__setattr__(name, value)

    def objects_by_kind(self, kind: str) -> Mapping[str, Obj]:
        """key -> object of one kind (a view of the index: no scan of the other kinds)."""
        objects = self.objects
        assert isinstance(objects, ObjectTable)  # (__setattr__)
        return objects.of_kind(kind)

    def objects_of(self, kind: str) -> list[Obj]:
        return list(self.objects_by_kind(kind).values())

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.objects.get(key_of(kind, namespace, name))


class StateFileError(ValueError):
    """The state file is not a state this node can read."""


def parse_state(text: str) -> State:
    """The State in a state file's text; StateFileError when it is not one (truncated, hand-edited,
    written by something else). Individual objects are not checked here: the consumers skip and
    report the ones they cannot serve."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise StateFileError(f"not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise StateFileError(f"expected a JSON object, found {type(data).__name__}")
    tables = {}
    for name in ("objects", "sources", "pods", "allocations", "deployments"):
        table = data.get(name, {})
        if not isinstance(table, dict):
            raise StateFileError(f'"{name}" must be an object, found {type(table).__name__}')
        tables[name] = table
    version = data.get("resourceVersion", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise StateFileError(f'"resourceVersion" must be a whole number >= 0, found {version!r}')
    objects = tables["objects"]
    for key, obj in objects.items():
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) \
                or obj.get("kind") != key.split("/", 1)[0]:
            raise StateFileError(f'objects["{key}"] is not a stored object of that key')
    pods = {}
    for key, entry in tables["pods"].items():
        try:
            record = PodRecord.from_json(entry)
            readable = f"{record.namespace}/{record.name}" == key and bool(record.uid)
        except (KeyError, TypeError, ValueError, AttributeError):
            readable = False
        if not readable:
            raise StateFileError(f'pods["{key}"] is not the record of that pod')
        pods[key] = record
    deployments = {}
    for key, entry in tables["deployments"].items():
        try:
            deployments[key] = DeploymentHistory.from_json(entry)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise StateFileError(f'deployments["{key}"] is not the history of a Deployment '
                                 f"({err!r})") from err
    return State(objects=objects, sources=tables["sources"], pods=pods,
                 allocations=tables["allocations"], resource_version=version,
                 deployments=deployments)


def _without_kubernetes_service(state: State) -> State:
    """`state` without a Service default/kubernetes applied before that Service was the
    node's own (model/incluster.py; an apply refuses it now): dropped once here, with its
    source and allocations, so nothing else needs to tell it from the node's."""
    if KUBERNETES_KEY not in state.objects:
        return state
    del state.objects[KUBERNETES_KEY]
    state.sources.pop(KUBERNETES_KEY, None)
    for table in ("clusterIPs", "nodePorts"):  # (node/services.py, model/nodeports.py)
        allocated = state.allocations.get(table)
        if isinstance(allocated, dict):
            allocated.pop(f"{KUBERNETES_NAMESPACE}/{KUBERNETES_NAME}", None)
    log.warning("the applied Service %s of the saved state was dropped: that Service is the "
                "environment's own now (it leads to the Kubernetes API); apply yours under "
                "another name", KUBERNETES_KEY)
    return state


def quarantine_name(path: Path, now: float) -> Path:
    """Where a corrupt state file is kept: `state.json.corrupt-<UTC time>` beside it."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return path.with_name(f"{path.name}.corrupt-{stamp}")


def _fsync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (the rename itself is only in the page cache)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store:
    def __init__(self, directory: Path):
        self.path = directory / "state.json"
        directory.mkdir(parents=True, exist_ok=True)
        # Set when load() found a corrupt state file: what happened and where the copy is.
        self.load_error = ""
        # key -> (stored object, `"key": <its JSON>`). Stored objects are replaced, never changed in
        # place, so the same object means the same text: a save serialises only new objects
        # (an apply of thousands serialises them off the event loop, see `remember`).
        self._texts: dict[str, tuple[Obj, str]] = {}
        self._texts_lock = threading.Lock()  # remember() on the loop, saves in the writer
        # One writer thread: writes happen in the order states were submitted.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="state-writer")
        self.submitted = 0  # states submitted for writing so far

    def remember(self, key: str, obj: Obj, text: str) -> None:
        """`text` is json.dumps(obj), computed elsewhere (off the event loop)."""
        with self._texts_lock:
            self._texts[key] = (obj, f"{json.dumps(key)}: {text}")

    def _objects_json(self, objects: dict[str, Obj]) -> str:
        with self._texts_lock:
            known = dict(self._texts)
        texts: dict[str, tuple[Obj, str]] = {}
        for key, obj in objects.items():
            cached = known.get(key)
            if cached is None or cached[0] is not obj:
                cached = (obj, f"{json.dumps(key)}: {json.dumps(obj)}")
            texts[key] = cached
        with self._texts_lock:
            self._texts.update(texts)
            for gone in self._texts.keys() - objects.keys():
                del self._texts[gone]
        return "{" + ", ".join(part for _, part in texts.values()) + "}"

    def load(self) -> State:
        """The saved State. A state file that cannot be read is moved aside (never deleted) and
        the node starts empty, with `load_error` saying where the copy is: a node that
        crash-loops on its own state file cannot even be asked what went wrong."""
        if not self.path.exists():
            return State()
        try:
            return _without_kubernetes_service(parse_state(self.path.read_text(errors="replace")))
        except StateFileError as err:
            kept = quarantine_name(self.path, time.time())
            os.replace(self.path, kept)
            _fsync_directory(self.path.parent)
            self.load_error = (f"the state file {self.path} could not be read ({err}); it was "
                               f"moved to {kept} and the node started with no objects: apply "
                               "your manifests again, or inspect that copy")
            log.error("%s", self.load_error)
            return State()

    def save(self, state: State) -> None:
        """Write `state` now (waits for the writes queued before it)."""
        self.submit(state).result()

    def submit(self, state: State) -> Future[None]:
        """Write `state` in the writer thread, after every state submitted before it: the last
        submitted is the last written, and the event loop waits for neither the encoding nor
        the disk. The tables are copied now (their objects are replaced, never changed in
        place); the small pods and allocations tables are encoded now."""
        objects, sources = dict(state.objects), dict(state.sources)
        deployments = state.deployments
        rest = json.dumps({
            "pods": {k: v.to_json() for k, v in state.pods.items()},
            "allocations": state.allocations,
            "deployments": {k: v.to_json() for k, v in deployments.items()},
            "resourceVersion": state.resource_version,
        })
        self.submitted += 1
        return self._writer.submit(self._encode_and_write, objects, sources, rest)

    def _encode_and_write(self, objects: dict[str, Obj], sources: dict[str, Obj],
                          rest: str) -> None:
        self._write(f'{{"version": 1, "objects": {self._objects_json(objects)}, '
                    f'"sources": {json.dumps(sources)}, {rest[1:]}')

    async def save_async(self, state: State) -> int:
        """submit(state) and wait until it is on disk, without blocking the event loop; the
        sequence number of this write (compare with `submitted` to see if others followed)."""
        future = self.submit(state)
        sequence = self.submitted
        await asyncio.wrap_future(future)
        return sequence

    def _write(self, text: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_directory(self.path.parent)
