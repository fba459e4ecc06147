"""Kubernetes objects as the API server would hold them: metadata stamping, comparison for
apply, and the kind names users type. Pure."""

from __future__ import annotations

import base64
import copy
import time
import uuid
from collections.abc import Mapping
from typing import Any

from localsvc.model.jobselector import with_generated_selector
from localsvc.model.kubeapi.resources import by_kind_name, resource_named

from localsvc.model.clock import now_iso as now_iso  # re-exported: callers import it from here
from localsvc.model.load import NAMESPACED as NAMESPACED  # re-exported: kinds that live in a namespace

Obj = dict[str, Any]

BUILTIN_NAMESPACES: frozenset[str] = frozenset({"default", "kube-system", "kube-public"})
# The kinds whose API strategy sets metadata.generation in Kubernetes 1.32 (a Pod, a Service or a
# Node has none: clients such as `kubectl rollout status` read it only where it exists).
GENERATION_KINDS: frozenset[str] = frozenset({
    "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "Ingress",
    "IngressClass", "PodDisruptionBudget", "HorizontalPodAutoscaler"})


def has_generation(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") in GENERATION_KINDS


# The metadata the server sets, never the client (model/kubeapi/writing.py drops it from writes).
SERVER_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "selfLink",
                   "deletionTimestamp", "deletionGracePeriodSeconds")
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def kind_of(text: str) -> str | None:
    """The kind a resource name means, as kubectl reads it (plural, singular, short name or kind,
    of the resources the API serves): `svc` -> `Service`; None for an unknown one."""
    resource = resource_named(text)
    return resource.kind if resource is not None else None


def api_version_of(kind: str) -> str:
    resource = by_kind_name(kind)
    return resource.api_version if resource is not None else "v1"


def comparable(obj: Obj) -> Obj:
    """The part of an object a user controls: no status, no server-set metadata."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.setdefault("metadata", {})
    for key in (*SERVER_METADATA, "managedFields"):
        meta.pop(key, None)
    annotations = meta.get("annotations") or {}
    annotations.pop(_LAST_APPLIED, None)
    if not annotations:
        meta.pop("annotations", None)
    if out.get("kind") in NAMESPACED:
        meta.setdefault("namespace", "default")
    return out


def owner_reference(owner: Mapping[str, Any], controller: bool = True) -> Obj:
    """An ownerReferences entry pointing at `owner` (a Service, Job, CronJob, DaemonSet,
    StatefulSet, Deployment, ReplicaSet): the controller one by default; without `controller`
    the field is left out, as the StatefulSet controller's claim references have it."""
    meta = owner.get("metadata") or {}
    ref = {"apiVersion": owner.get("apiVersion") or "v1", "kind": owner["kind"],
           "name": meta["name"], "uid": meta.get("uid", ""), "blockOwnerDeletion": True}
    return {**ref, "controller": True} if controller else ref


def last_applied(obj: Obj) -> Any:
    """kubectl apply's record of the configuration it last applied (None without one)."""
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(_LAST_APPLIED)


def unchanged(previous: Obj, obj: Obj) -> bool:
    """Whether storing `obj` over `previous` changes nothing a client reads back: the user's
    fields and kubectl apply's record of them are equal (managedFields follow the writes)."""
    if obj.get("kind") == "Job":  # the selector the server generated is no change
        obj = with_generated_selector(obj, previous)
    return comparable(previous) == comparable(obj) and last_applied(previous) == last_applied(obj)


def stamp(obj: Obj, previous: Obj | None) -> Obj:
    """The object to store: the user's fields plus uid/creation time/generation like a server.
    kubectl apply's last-applied annotation and the managedFields of the Kubernetes API's writes
    are kept: clients read them back (a three-way merge, server-side apply's owners)."""
    out = comparable(obj)
    meta = out["metadata"]
    applied = last_applied(obj)
    if applied is not None:
        meta.setdefault("annotations", {})[_LAST_APPLIED] = applied
    managed = (obj.get("metadata") or {}).get("managedFields")
    if managed:
        meta["managedFields"] = copy.deepcopy(managed)
    if previous is None:
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_iso()
        if has_generation(out):
            meta["generation"] = 1
    else:
        old = previous["metadata"]
        meta["uid"] = old["uid"]
        meta["creationTimestamp"] = old["creationTimestamp"]
    if out.get("kind") == "Job":  # the job strategy's generated selector and template labels
        out = with_generated_selector(out, previous)
        meta = out["metadata"]
    if previous is not None:
        old = previous["metadata"]
        spec_changed = comparable(previous).get("spec") != out.get("spec")
        if has_generation(out):
            meta["generation"] = int(old.get("generation", 1)) + (1 if spec_changed else 0)
    meta["resourceVersion"] = str(time.time_ns() // 1000)
    return out


def secret_for_output(obj: Obj) -> Obj:
    """Secrets read back as a cluster returns them: stringData folded into base64 `data`."""
    out = copy.deepcopy(obj)
    data = dict(out.get("data") or {})
    for key, value in (out.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    out["data"] = data
    out.setdefault("type", "Opaque")
    return out
