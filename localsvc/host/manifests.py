"""Manifests on the host: loaded and validated before anything changes, reported as `apply`
reports them; model/applywire.py encodes them for the node."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localsvc.errors import LocalsvcError, ManifestError
from localsvc.model.load import LoadResult, load_paths
from localsvc.model.validate import validate

Obj = dict[str, Any]


@dataclass
class ApplyReport:
    results: list[Obj] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def load_manifests(paths: Sequence[str | Path]) -> LoadResult:
    """Load and validate; raise ManifestError listing every problem."""
    if not paths:
        raise LocalsvcError("no manifests given: pass -f FILE_OR_DIRECTORY (repeatable)")
    loaded = load_paths(paths)
    problems = loaded.problems + validate(loaded.manifests)
    if problems:
        raise ManifestError(problems)
    return loaded


# Why some skipped kinds need no counterpart (their job is done another way).
SKIP_REASONS = {
    "StorageClass": "; PersistentVolumeClaims use the node's default class `standard`, a Docker "
                    "volume per claim",
    "PersistentVolume": "; the node provisions a volume for every PersistentVolumeClaim",
}


def skipped_lines(loaded: LoadResult) -> list[str]:
    return [
        f"{m.file}:{m.line}: {m.obj.get('kind')}/{(m.obj.get('metadata') or {}).get('name', '?')}: "
        f"skipped: localsvc does not run kind {m.obj.get('kind')} ({m.obj.get('apiVersion')})"
        f"{SKIP_REASONS.get(str(m.obj.get('kind')), '')}"
        for m in loaded.skipped
    ]

