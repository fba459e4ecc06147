"""The node's persistent state: applied objects and the pods it made, in one JSON file.

Kept in the environment's state volume so that a restarted node finds what was applied and which
pods it owns (and adopts their running containers). Written atomically (write + rename) so that a
crash mid-write leaves the previous state. No Docker here.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Obj = dict[str, Any]


def key_of(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}//{name}"


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
class State:
    objects: dict[str, Obj] = field(default_factory=dict)  # key -> applied object
    sources: dict[str, Obj] = field(default_factory=dict)  # key -> {"file":..., "line":...}
    pods: dict[str, PodRecord] = field(default_factory=dict)  # "ns/name" -> record
    allocations: dict[str, Obj] = field(default_factory=dict)  # reserved for IP/port allocation

    def objects_of(self, kind: str) -> list[Obj]:
        return [o for k, o in self.objects.items() if k.startswith(kind + "/")]

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.objects.get(key_of(kind, namespace, name))


class Store:
    def __init__(self, directory: Path):
        self.path = directory / "state.json"
        directory.mkdir(parents=True, exist_ok=True)

    def load(self) -> State:
        if not self.path.exists():
            return State()
        data = json.loads(self.path.read_text())
        return State(
            objects=data.get("objects", {}),
            sources=data.get("sources", {}),
            pods={k: PodRecord.from_json(v) for k, v in data.get("pods", {}).items()},
            allocations=data.get("allocations", {}),
        )

    def save(self, state: State) -> None:
        data = {
            "version": 1,
            "objects": state.objects,
            "sources": state.sources,
            "pods": {k: v.to_json() for k, v in state.pods.items()},
            "allocations": state.allocations,
        }
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".state-")
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
