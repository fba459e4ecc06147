"""Indexed Jobs (completionMode Indexed): each index 0..completions-1 succeeds once, its pod
named `<job>-<index>-<xxxxx>` with the index in an annotation, a label, its hostname and the
JOB_COMPLETION_INDEX variable; `status.completedIndexes` lists them as "0-2,5". Pure."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

Obj = dict[str, Any]
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
INDEX_ENV = "JOB_COMPLETION_INDEX"


def format_indexes(indexes: Iterable[int]) -> str:
    """Sorted indexes as the controller writes them: consecutive runs as "a-b" ("0-2,5")."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        if end - start >= 1:
            parts.append(f"{ordered[start]}-{ordered[end]}")
        else:
            parts.append(str(ordered[start]))
        start = end + 1
    return ",".join(parts)


def parse_indexes(text: str) -> set[int]:
    out: set[int] = set()
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        out.update(range(int(low), int(high or low) + 1))
    return out


def next_indexes(completions: int, done: set[int], active: set[int], count: int) -> list[int]:
    """The lowest `count` indexes neither succeeded nor running."""
    free = (i for i in range(completions) if i not in done and i not in active)
    return [i for _, i in zip(range(count), free)]


def index_of(pod: Obj) -> int | None:
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(INDEX_KEY)
    return int(text) if isinstance(text, str) and text.isdigit() else None


def indexed_pod_spec(spec: Obj, job_name: str, index: int) -> Obj:
    """The pod spec of index `index`: its hostname, and JOB_COMPLETION_INDEX in every container
    (from the pod's annotation, as the Job controller injects it)."""
    out = copy.deepcopy(spec)
    out.setdefault("hostname", f"{job_name}-{index}")
    variable = {"name": INDEX_ENV, "valueFrom": {"fieldRef": {
        "apiVersion": "v1", "fieldPath": f"metadata.annotations['{INDEX_KEY}']"}}}
    for group in ("initContainers", "containers"):
        for container in out.get(group) or []:
            env = [e for e in container.get("env") or [] if e.get("name") != INDEX_ENV]
            container["env"] = [*env, copy.deepcopy(variable)]
    return out


__all__ = ["INDEX_ENV", "INDEX_KEY", "format_indexes", "index_of", "indexed_pod_spec",
           "next_indexes", "parse_indexes"]
