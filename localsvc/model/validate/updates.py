"""What an update may not change, as the API server's update validation words it: a Job's
template, selector, completions and completionMode, a DaemonSet's selector, a StatefulSet's spec
but for its mutable fields (model/validate/statefulsets.py), a PersistentVolumeClaim's spec but for
a growing request (model/validate/claims.py). Pure."""

from __future__ import annotations

from typing import Any

from localsvc.errors import Problem
from localsvc.model.load import Manifest
from localsvc.model.validate.check import Check
from localsvc.model.validate.claims import check_claim_update
from localsvc.model.validate.statefulsets import statefulset_update_problems

Obj = dict[str, Any]
# kind -> (field under spec, how to change it anyway)
IMMUTABLE: dict[str, tuple[tuple[str, str], ...]] = {
    "Job": tuple((field, "a Job's pods are made from it: delete the Job and apply it again "
                         "(kubectl replace --force), or give the new one another name")
                 for field in ("template", "selector", "completions", "completionMode")),
    "DaemonSet": (("selector", "delete the DaemonSet and apply it again"),),
}


def update_problems(manifest: Manifest, previous: Obj | None, stored: Obj | None) -> list[Problem]:
    """The immutable fields that `stored` (what the update would store, server fields
    included) changes against `previous`."""
    if manifest.kind == "StatefulSet":
        return statefulset_update_problems(manifest, previous, stored)
    if manifest.kind == "PersistentVolumeClaim" and previous is not None and stored is not None:
        return _claim_update_problems(manifest, previous, stored)
    rules = IMMUTABLE.get(manifest.kind, ())
    if previous is None or stored is None or not rules:
        return []
    before, after = previous.get("spec") or {}, stored.get("spec") or {}
    return [Problem(manifest.file, manifest.line_of(f"spec.{field}"), manifest.kind,
                    manifest.name, f"spec.{field}", f"field is immutable: {fix}")
            for field, fix in rules if before.get(field) != after.get(field)]


def _claim_update_problems(manifest: Manifest, previous: Obj, stored: Obj) -> list[Problem]:
    check = Check(manifest)
    try:
        check_claim_update(check, previous, stored)
    except (AttributeError, TypeError, ValueError):
        return []  # a malformed claim: validation reports it
    return check.problems


__all__ = ["IMMUTABLE", "update_problems"]
