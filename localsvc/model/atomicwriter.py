"""The kubelet's atomic writer (pkg/volume/util/atomic_writer.go) as a pure plan.

configMap, secret and projected volumes hold their files in a timestamped directory
(`..2026_12_07_12_00_00.123456789`), a symlink `..data` to it, and for each top-level name of
the payload a symlink `name -> ..data/name`. An update writes a new timestamped directory, swaps
`..data` to it with one rename (so a reader sees the old files or the new ones, never a mix),
adds the visible links of new names, removes those of names gone and the old directory. A
subPath mount bound the file inside the old directory, so it keeps its content, as in
Kubernetes. The runtime (runtime/filevolumes.py) performs a plan inside the pod's infra
container; this module decides it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

DATA_DIR = "..data"
DATA_TMP = "..data_tmp"
Payload = Mapping[str, tuple[bytes, int]]  # relative path -> (content, mode)


@dataclass(frozen=True)
class Written:
    """What a volume holds now: its timestamped directory ("" when none) and files."""

    ts_dir: str
    files: Payload = field(default_factory=dict)


@dataclass(frozen=True)
class WritePlan:
    ts_dir: str  # the new timestamped directory
    files: Payload  # to write into it
    visible: tuple[str, ...]  # top-level names linked as NAME -> ..data/NAME
    remove: tuple[str, ...]  # visible names of the old payload that are gone
    old_dir: str  # the previous timestamped directory, removed last ("" when none)


def ts_dir_name(now: float, suffix: str) -> str:
    """The kubelet's name: os.MkdirTemp(dir, "..2006_01_02_15_04_05.") (UTC), its random
    suffix given."""
    return time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime(now)) + suffix


def visible_names(payload: Payload) -> tuple[str, ...]:
    return tuple(sorted({path.split("/", 1)[0] for path in payload}))


def plan_write(current: Written | None, payload: Payload, ts_dir: str) -> WritePlan | None:
    """The update that makes the volume hold `payload`; None when it already does."""
    if current is not None and current.ts_dir and dict(current.files) == dict(payload):
        return None
    old = set(visible_names(current.files)) if current is not None else set()
    visible = visible_names(payload)
    return WritePlan(ts_dir=ts_dir, files=dict(payload), visible=visible,
                     remove=tuple(sorted(old - set(visible))),
                     old_dir=current.ts_dir if current is not None else "")


def check_paths(payload: Payload) -> str:
    """Why a payload cannot be written ("" when it can): a path that is absolute, has a `..`
    element, or starts with `..` (the writer's own names), as the kubelet's validatePath."""
    for path in payload:
        parts = path.split("/")
        if path.startswith("/") or ".." in parts or parts[0].startswith(".."):
            return f"invalid path {path!r} in the volume's items"
    return ""


__all__ = ["DATA_DIR", "DATA_TMP", "Payload", "WritePlan", "Written", "check_paths",
           "plan_write", "ts_dir_name", "visible_names"]
