"""Object metadata (name, namespace, labels, annotations) and duplicate objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localsvc.model import names
from localsvc.model.load import Manifest, child_path
from localsvc.model.validate.check import Check

# The API server's limit on the annotations of one object (keys and values together).
MAX_ANNOTATIONS_BYTES = 256 * 1024


def check_metadata(
    check: Check, value: Any, path: str, name_rule: Callable[[str], str | None] | None
) -> dict[str, str]:
    """Object metadata (name_rule None: a pod template's, where the name is not required)."""
    meta = check.mapping(value, path, required=name_rule is not None) or {}
    if name_rule is not None:
        check.name(meta.get("name"), child_path(path, "name"), name_rule)
        check.name(
            meta.get("namespace"),
            child_path(path, "namespace"),
            names.dns1123_label_error,
            required=False,
        )
    labels = check.labels(meta.get("labels"), child_path(path, "labels"))
    annotations_path = child_path(path, "annotations")
    size = 0
    for key, item in (check.mapping(meta.get("annotations"), annotations_path) or {}).items():
        item_path = child_path(annotations_path, key)
        if error := names.qualified_name_error(key):
            check.add(item_path, f"annotation key {error}")
        if check.string(item, item_path) is not None:
            size += len(key.encode()) + len(item.encode())
    if size > MAX_ANNOTATIONS_BYTES:
        check.add(
            annotations_path,
            f"too long: must have at most {MAX_ANNOTATIONS_BYTES} bytes (got {size})",
        )
    return labels


def check_duplicate(check: Check, first_seen: dict[Any, Manifest]) -> None:
    m = check.m
    if not m.name or not isinstance(m.metadata.get("name"), str):
        return
    first = first_seen.setdefault(m.key, m)
    if first is not m:
        check.add(
            "metadata.name", f"duplicate {m.key}: already defined at {first.file}:{first.line}"
        )
