"""The selector and labels the API server's job strategy generates for a Job (manualSelector
not true): its pods are selected by the Job's uid. Pure."""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]

# Labels the job strategy puts on the template (and its selector) and the controller's pods.
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"


def generated_labels(name: str, uid: str) -> dict[str, str]:
    """The labels the job strategy adds to a Job's template (manualSelector false)."""
    return {CONTROLLER_UID: uid, JOB_NAME: name, LEGACY_CONTROLLER_UID: uid, LEGACY_JOB_NAME: name}


def with_generated_selector(job: Obj, previous: Obj | None) -> Obj:
    """`job` (stored form, metadata.uid set) with the selector and template labels the API
    server generates when manualSelector is not true. An update keeps those of `previous`:
    a manifest applied again without them changes nothing (they are the server's)."""
    spec = job.get("spec")
    meta = job.get("metadata")
    if not isinstance(spec, dict) or not isinstance(meta, dict) or spec.get("manualSelector"):
        return job
    template = spec.get("template")
    if not isinstance(template, dict):
        return job
    out = copy.deepcopy(job)
    spec, template = out["spec"], out["spec"]["template"]
    old_spec = (previous or {}).get("spec") or {}
    if previous is not None and isinstance(old_spec.get("selector"), dict):
        old_labels = ((old_spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        generated = {k: v for k, v in old_labels.items()
                     if k in (CONTROLLER_UID, JOB_NAME, LEGACY_CONTROLLER_UID, LEGACY_JOB_NAME)}
        selector = old_spec["selector"]
    else:
        uid = str(meta.get("uid") or "")
        generated = generated_labels(str(meta.get("name", "")), uid)
        selector = {"matchLabels": {CONTROLLER_UID: uid}}
    spec.setdefault("selector", copy.deepcopy(selector))
    tmeta = template.setdefault("metadata", {})
    tmeta["labels"] = {**(tmeta.get("labels") or {}), **generated}
    if not out["metadata"].get("labels"):
        # SetDefaults_Job, which the API server also runs on every read of the stored Job:
        # a Job without labels takes its template's, generated ones included.
        out["metadata"]["labels"] = dict(tmeta["labels"])
    return out


__all__ = ["CONTROLLER_UID", "JOB_NAME", "LEGACY_CONTROLLER_UID", "LEGACY_JOB_NAME",
           "generated_labels", "with_generated_selector"]
