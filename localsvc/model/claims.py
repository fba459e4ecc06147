"""PersistentVolumeClaims, the PersistentVolumes bound to them and the node's default
StorageClass: what the node's volume controller decides and publishes. Pure.

The environment has one node and one kind of storage, a Docker named volume per claim
(runtime/claims.py), so the node plays the PV controller and a dynamic provisioner at once:
every claim of a known class is provisioned and bound at once (volumeBindingMode Immediate:
with one node there is no topology for WaitForFirstConsumer to wait for), to a PersistentVolume
named `pvc-<claim uid>` as dynamic provisioning names it. The binding is a function of the claim
and of its volume's existence, so a restarted node derives the same objects again and never a
second volume. Claims whose binding cannot be made stay Pending, with the reason the PV
controller gives in an Event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

KIND = "PersistentVolumeClaim"
DEFAULT_CLASS = "standard"
PROVISIONER = "localsvc.io/docker-volume"
CONTROLLER = "persistentvolume-controller"  # the component of its Events
CLAIM_PROTECTION = "kubernetes.io/pvc-protection"  # while a pod uses the claim, it stays
PV_PROTECTION = "kubernetes.io/pv-protection"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
STORAGE_PROVISIONER = ("volume.beta.kubernetes.io/storage-provisioner",
                       "volume.kubernetes.io/storage-provisioner")
DOCKER_VOLUME = "localsvc.io/docker-volume"  # on the PV: the Docker volume holding the data
SHORT_MODES = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
               "ReadWriteOncePod": "RWOP"}


def storage_class(created: str) -> Obj:
    """The node's StorageClass, the environment's default, as `kubectl get sc` shows it."""
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": DEFAULT_CLASS, "creationTimestamp": created,
                     "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
        # A Docker volume has no size to grow: a larger request is granted at once.
        "allowVolumeExpansion": True,
    }


def pv_name(claim_uid: str) -> str:
    """The PersistentVolume of a claim, named as dynamic provisioning names it."""
    return f"pvc-{claim_uid}"


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def requested_storage(claim: Mapping[str, Any]) -> str:
    requests = (_spec(claim).get("resources") or {}).get("requests") or {}
    return str(requests.get("storage", "")) if isinstance(requests, Mapping) else ""


def claim_class(claim: Mapping[str, Any]) -> str | None:
    """spec.storageClassName; None when unset (the admission's default was not applied)."""
    value = _spec(claim).get("storageClassName")
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Pending:
    """Why a claim is not bound, as the PV controller says it in an Event."""

    reason: str
    message: str
    warning: bool = False


def binding_problem(claim: Mapping[str, Any], classes: frozenset[str]) -> Pending | None:
    """Why `claim` cannot be provisioned and bound (None: it can, now). `classes`: the names of
    the StorageClasses there are."""
    spec = _spec(claim)
    name = claim_class(claim)
    if name == "":
        return Pending("FailedBinding", "no persistent volumes available for this claim and no "
                       "storage class is set")
    if name is not None and name not in classes:
        return Pending("ProvisioningFailed", f'storageclass.storage.k8s.io "{name}" not found',
                       warning=True)
    if spec.get("selector") is not None:
        return Pending("ProvisioningFailed", "claim Selector is not supported", warning=True)
    if spec.get("dataSource") is not None or spec.get("dataSourceRef") is not None:
        return Pending("ProvisioningFailed", "localsvc cannot fill a new volume from a data "
                       "source (spec.dataSource, spec.dataSourceRef); remove it", warning=True)
    volume = spec.get("volumeName")
    uid = str(_meta(claim).get("uid", ""))
    if volume and volume != pv_name(uid):
        return Pending("FailedBinding", f'volume "{volume}" not found: localsvc provisions a '
                       "volume for every claim; remove spec.volumeName")
    return None


@dataclass(frozen=True)
class Bound:
    """A claim's volume: the Docker volume that holds its data and where the engine keeps it."""

    volume: str  # the Docker volume's name
    mountpoint: str  # its Mountpoint on the engine's host ("" when unknown)
    since: str  # when it was bound: the PV's creationTimestamp


def claim_view(claim: Obj, bound: Bound | None) -> Obj:
    """The claim as the API serves it: the stored one plus what the PV controller writes to it
    (spec.volumeName, the bind annotations, status)."""
    out = {**claim, "apiVersion": "v1", "metadata": dict(_meta(claim))}
    spec = dict(_spec(claim))
    if bound is None:
        out["status"] = {"phase": "Pending"}
        out["spec"] = spec
        return out
    meta = out["metadata"]
    annotations = dict(meta.get("annotations") or {})
    annotations.update({BIND_COMPLETED: "yes", BOUND_BY_CONTROLLER: "yes"})
    annotations.update({key: PROVISIONER for key in STORAGE_PROVISIONER})
    meta["annotations"] = annotations
    spec["volumeName"] = pv_name(str(meta.get("uid", "")))
    out["spec"] = spec
    out["status"] = {"phase": "Bound", "accessModes": list(spec.get("accessModes") or []),
                     "capacity": {"storage": requested_storage(claim)}}
    return out


def persistent_volume(claim: Obj, bound: Bound) -> Obj:
    """The PersistentVolume bound to `claim`: its capacity is the request, the data is in the
    Docker volume (a hostPath of its Mountpoint, as seen by the engine's host)."""
    meta = _meta(claim)
    spec = _spec(claim)
    uid = str(meta.get("uid", ""))
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": pv_name(uid), "creationTimestamp": bound.since,
                     "annotations": {PROVISIONED_BY: PROVISIONER, DOCKER_VOLUME: bound.volume},
                     "finalizers": [PV_PROTECTION]},
        "spec": {
            "accessModes": list(spec.get("accessModes") or []),
            "capacity": {"storage": requested_storage(claim)},
            "claimRef": {"apiVersion": "v1", "kind": KIND, "namespace": meta.get("namespace"),
                         "name": meta.get("name"), "uid": uid},
            "hostPath": {"path": bound.mountpoint, "type": ""},
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": claim_class(claim) or DEFAULT_CLASS,
            "volumeMode": spec.get("volumeMode") or "Filesystem",
        },
        "status": {"phase": "Bound", "lastPhaseTransitionTime": bound.since},
    }


def claims_used_by(pod: Mapping[str, Any]) -> set[str]:
    """The names of the claims a pod's volumes use (in the pod's namespace)."""
    volumes = _spec(pod).get("volumes")
    used = set()
    for volume in volumes if isinstance(volumes, list) else []:
        source = volume.get("persistentVolumeClaim") if isinstance(volume, Mapping) else None
        if isinstance(source, Mapping) and isinstance(source.get("claimName"), str):
            used.add(source["claimName"])
    return used


def terminating_claim(served: Obj, now: str) -> Obj:
    """A deleted claim a pod still uses, as served until no pod does: marked deleted, kept by
    the pvc-protection finalizer."""
    meta = dict(_meta(served))
    meta.setdefault("deletionTimestamp", now)
    meta.setdefault("deletionGracePeriodSeconds", 0)
    finalizers = list(meta.get("finalizers") or [])
    if CLAIM_PROTECTION not in finalizers:
        finalizers.append(CLAIM_PROTECTION)
    meta["finalizers"] = finalizers
    return {**served, "metadata": meta}


def access_modes_text(modes: Any) -> str:
    """helper.GetAccessModesAsString: the short names, in its fixed order, comma-separated."""
    given = set(modes) if isinstance(modes, list) else set()
    return ",".join(short for mode, short in SHORT_MODES.items() if mode in given)


__all__ = ["Bound", "CLAIM_PROTECTION", "DEFAULT_CLASS", "PROVISIONER", "Pending",
           "binding_problem", "claim_view", "claims_used_by", "persistent_volume", "pv_name",
           "storage_class", "terminating_claim"]
