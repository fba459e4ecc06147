"""The scale subresource of Deployments (autoscaling/v1 Scale): what `kubectl scale` reads and
patches. The replica count it sets goes to the controller's scale, as `localsvc scale` does."""

from __future__ import annotations

import json
from typing import Any

from localsvc.model.kubeapi import status as st
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.patch import apply_patch
from localsvc.model.kubeapi.patcherror import PatchError
from localsvc.node.kubeapi.writes import patch_status
from localsvc.model.labelselector import from_kubernetes

Obj = dict[str, Any]
SCALE_TYPE = "autoscaling.v1.Scale"


def scale_of(workload: Obj, replicas: int | None = None) -> Obj:
    """The Scale of a Deployment (`replicas`: the count just set, before the status follows)."""
    meta = workload.get("metadata") or {}
    spec = workload.get("spec") or {}
    status = workload.get("status") or {}
    selector = from_kubernetes(spec.get("selector"))
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {key: meta[key] for key in ("name", "namespace", "uid", "resourceVersion",
                                                "creationTimestamp") if key in meta},
        "spec": {"replicas": replicas if replicas is not None else int(spec.get("replicas", 1))},
        "status": {"replicas": int(status.get("replicas", 0)), "selector": str(selector)},
    }


def scaled_replicas(workload: Obj, method: str, content_type: str, raw: bytes) -> int | None:
    """The replica count a PUT (a Scale) or PATCH of the scale subresource asks for."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ApiError(st.bad_request(f"the request body is not valid JSON: {err}")) from None
    current = scale_of(workload)
    if method == "PUT":
        scale = body
    else:
        media = content_type.split(";", 1)[0].strip().lower()
        try:
            scale = apply_patch(media, current, body, SCALE_TYPE)
        except PatchError as err:
            raise ApiError(patch_status(err)) from None
    replicas = (scale.get("spec") or {}).get("replicas") if isinstance(scale, dict) else None
    if replicas is None:
        return None
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        name = str((workload.get("metadata") or {}).get("name", ""))
        raise ApiError(st.invalid("Scale", "autoscaling", name, [st.FieldError(
            "FieldValueInvalid", "spec.replicas", replicas,
            detail="must be greater than or equal to 0")]))
    return replicas


__all__ = ["scale_of", "scaled_replicas"]
