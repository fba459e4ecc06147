"""The Tables of PersistentVolumeClaims, PersistentVolumes and StorageClasses: the columns
pkg/printers/internalversion gives them in 1.32 (`kubectl get pvc`, `get pv`, `get sc`). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localsvc.model.claims import DEFAULT_CLASS_ANNOTATION, access_modes_text
from localsvc.model.kubeapi.tablecells import AGE, NAME, Column, age, dig, name_of

Row = tuple[list[Any], list[dict[str, str]]]
UNSET = "<unset>"

CLAIM_COLUMNS = (
    NAME, Column("Status", doc="PersistentVolumeClaimStatus.phase"),
    Column("Volume", doc="PersistentVolumeClaimSpec.volumeName"),
    Column("Capacity", doc="PersistentVolumeClaimStatus.capacity"),
    Column("Access Modes", doc="PersistentVolumeClaimStatus.accessModes"),
    Column("StorageClass", text="StorageClass of the pvc"),
    Column("VolumeAttributesClass", text="VolumeAttributesClass of the pvc"), AGE,
    Column("VolumeMode", priority=1, doc="PersistentVolumeClaimSpec.volumeMode"))
VOLUME_COLUMNS = (
    NAME, Column("Capacity", doc="PersistentVolumeSpec.capacity"),
    Column("Access Modes", doc="PersistentVolumeSpec.accessModes"),
    Column("Reclaim Policy", doc="PersistentVolumeSpec.persistentVolumeReclaimPolicy"),
    Column("Status", doc="PersistentVolumeStatus.phase"),
    Column("Claim", doc="PersistentVolumeSpec.claimRef"),
    Column("StorageClass", text="StorageClass of the pv"),
    Column("VolumeAttributesClass", text="VolumeAttributesClass of the pv"),
    Column("Reason", doc="PersistentVolumeStatus.reason"), AGE,
    Column("VolumeMode", priority=1, doc="PersistentVolumeSpec.volumeMode"))
CLASS_COLUMNS = (
    NAME, Column("Provisioner", doc="StorageClass.provisioner"),
    Column("ReclaimPolicy", doc="StorageClass.reclaimPolicy"),
    Column("VolumeBindingMode", doc="StorageClass.volumeBindingMode"),
    Column("AllowVolumeExpansion", doc="StorageClass.allowVolumeExpansion"), AGE)


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _phase(obj: Mapping[str, Any]) -> str:
    if dig(obj, "metadata", "deletionTimestamp"):
        return "Terminating"
    return str(dig(obj, "status", "phase") or "")


def _text(value: Any, unset: str = UNSET) -> str:
    return str(value) if value is not None else unset


def claim_row(claim: Mapping[str, Any], now: float) -> Row:
    spec, status = _map(claim.get("spec")), _map(claim.get("status"))
    volume = str(spec.get("volumeName") or "")
    capacity = modes = ""
    if volume:  # what the claim got, once bound, as the printer shows it
        capacity = str(dig(status, "capacity", "storage") or "0")
        modes = access_modes_text(status.get("accessModes"))
    return [name_of(claim), _phase(claim), volume, capacity, modes,
            str(spec.get("storageClassName") or ""),
            _text(spec.get("volumeAttributesClassName")), age(claim, now),
            _text(spec.get("volumeMode"))], []


def volume_row(volume: Mapping[str, Any], now: float) -> Row:
    spec, status = _map(volume.get("spec")), _map(volume.get("status"))
    ref = _map(spec.get("claimRef"))
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else ""
    return [name_of(volume), str(dig(spec, "capacity", "storage") or "0"),
            access_modes_text(spec.get("accessModes")),
            str(spec.get("persistentVolumeReclaimPolicy") or ""), _phase(volume), claim,
            str(spec.get("storageClassName") or ""),
            _text(spec.get("volumeAttributesClassName")), str(status.get("reason") or ""),
            age(volume, now), _text(spec.get("volumeMode"))], []


def class_row(storage_class: Mapping[str, Any], now: float) -> Row:
    annotations = _map(dig(storage_class, "metadata", "annotations"))
    name = name_of(storage_class)
    if annotations.get(DEFAULT_CLASS_ANNOTATION) == "true":
        name += " (default)"
    expansion = storage_class.get("allowVolumeExpansion") is True
    return [name, str(storage_class.get("provisioner") or ""),
            str(storage_class.get("reclaimPolicy") or "Delete"),
            str(storage_class.get("volumeBindingMode") or "Immediate"),
            "true" if expansion else "false", age(storage_class, now)], []


__all__ = ["CLAIM_COLUMNS", "CLASS_COLUMNS", "VOLUME_COLUMNS", "claim_row", "class_row",
           "volume_row"]
