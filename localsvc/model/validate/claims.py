"""PersistentVolumeClaims: ValidatePersistentVolumeClaimSpec on create, and
ValidatePersistentVolumeClaimUpdate against the stored claim, in the API server's words.

Only filesystem volumes exist here (a Docker named volume), so `volumeMode: Block` is refused
with the reason; everything else the API server accepts is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from localsvc.model import names
from localsvc.model.claims import DEFAULT_CLASS, SHORT_MODES, binding_problem
from localsvc.model.load import child_path
from localsvc.model.validate.check import Check, show

ACCESS_MODES = tuple(sorted(SHORT_MODES))  # as the API server lists them
IMMUTABLE = ("spec is immutable after creation except resources.requests and "
             "volumeAttributesClassName for bound claims")
STORAGE_PATH = "spec.resources.requests.storage"


def check_claim(check: Check) -> None:
    spec = check.mapping(check.m.obj.get("spec"), "spec", required=True)
    if spec is not None:
        check_claim_spec(check, spec, "spec")


def check_claim_spec(check: Check, spec: dict[str, Any], path: str) -> None:
    """A claim's spec at `path`: a claim's own, or a StatefulSet's volumeClaimTemplate's (the
    node binds the claims made from it as it binds applied ones)."""
    def at(field: str) -> str:
        return child_path(path, field)

    modes = check.items(spec.get("accessModes"), at("accessModes"))
    if not modes and spec.get("accessModes") in (None, []):
        check.add(at("accessModes"), "required: at least 1 access mode is required")
    for index, mode in enumerate(modes or []):
        check.one_of(mode, child_path(at("accessModes"), index), ACCESS_MODES, required=True)
    if "ReadWriteOncePod" in (modes or []) and len(modes or []) > 1:
        check.add(at("accessModes"), "may not use ReadWriteOncePod with other access modes")
    _check_storage(check, spec, path)
    class_name = check.string(spec.get("storageClassName"), at("storageClassName"))
    if class_name:
        check.name(class_name, at("storageClassName"), names.dns1123_subdomain_error)
    mode = check.one_of(spec.get("volumeMode"), at("volumeMode"), ("Block", "Filesystem"))
    if mode == "Block":
        check.add(at("volumeMode"), "localsvc provides filesystem volumes only (a Docker "
                  "volume mounted in the pod); use volumeMode: Filesystem, or leave it out")
    check.string(spec.get("volumeName"), at("volumeName"))
    check.string(spec.get("volumeAttributesClassName"), at("volumeAttributesClassName"))
    selector = check.mapping(spec.get("selector"), at("selector"))
    if selector is not None:
        check.labels(selector.get("matchLabels"), child_path(at("selector"), "matchLabels"))


def _check_storage(check: Check, spec: dict[str, Any], path: str) -> None:
    resources = check.mapping(spec.get("resources"), child_path(path, "resources")) or {}
    requests_path = child_path(child_path(path, "resources"), "requests")
    requests = check.mapping(resources.get("requests"), requests_path) or {}
    value = requests.get("storage")
    if value is None:
        check.add(f"{path}.resources[storage]", "required: a claim asks for an amount of "
                  "storage, e.g. resources: {requests: {storage: 1Gi}}", line_path=path)
        return
    number = _quantity(value)
    storage_path = child_path(requests_path, "storage")
    if number is None:
        check.add(storage_path, f"{names.QUANTITY_MSG} (got {show(value)})")
    elif number <= 0:
        check.add(storage_path, f"must be greater than zero (got {show(value)})")


def _quantity(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return names.parse_quantity(str(value))


def _storage(claim: Mapping[str, Any]) -> Any:
    requests = ((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}
    return _quantity(requests.get("storage")) if isinstance(requests, Mapping) else None


def _comparable_spec(claim: Mapping[str, Any], volume_name: Any) -> dict[str, Any]:
    spec = dict(claim.get("spec") or {})
    spec["volumeName"] = volume_name
    resources = dict(spec.get("resources") or {})
    requests = dict(resources.get("requests") or {})
    requests.pop("storage", None)
    resources["requests"] = requests
    spec["resources"] = resources
    return spec


def check_claim_update(check: Check, previous: Mapping[str, Any],
                       wanted: Mapping[str, Any]) -> None:
    """`wanted` (the manifest with the server's defaults) over the stored `previous`. A
    spec.volumeName may be set once; one left out keeps the bound volume (localsvc's apply
    replaces the object, where kubectl's three-way merge keeps the server's field)."""
    old_volume = (previous.get("spec") or {}).get("volumeName") or ""
    new_volume = (wanted.get("spec") or {}).get("volumeName") or ""
    old_spec = _comparable_spec(previous, old_volume or new_volume)
    new_spec = _comparable_spec(wanted, new_volume or old_volume)
    changed = sorted(k for k in old_spec.keys() | new_spec.keys()
                     if old_spec.get(k) != new_spec.get(k))
    old_size, new_size = _storage(previous), _storage(wanted)
    bound = binding_problem(previous, frozenset({DEFAULT_CLASS})) is None
    if old_size != new_size and not bound:
        changed.append("resources.requests.storage")
    if changed:
        fields = ", ".join(f"spec.{k}" for k in changed)
        check.add("spec", f"Forbidden: {IMMUTABLE} (changed: {fields}); delete the claim and "
                  "create it again to change them (its data is deleted with it)")
    elif old_size is not None and new_size is not None and new_size < old_size:
        check.add(STORAGE_PATH, "Forbidden: field can not be less than previous value "
                  f"({(previous['spec']['resources']['requests']['storage'])})")


__all__ = ["check_claim", "check_claim_spec", "check_claim_update"]
