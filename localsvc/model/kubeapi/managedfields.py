"""managedFields: the entries that say which manager owns which fields of an object.

Each entry is one manager (name, operation Apply or Update, apiVersion, subresource) with its
time and its fields (fieldsV1). An applier is one manager whatever version it applied with; an
updater is one per version. The server keeps at most 10 updaters: older ones merge into an
"ancient-changes" entry per version. Pure.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any

from localsvc.model.kubeapi.fieldset import FieldSet, from_fields_v1

APPLY, UPDATE = "Apply", "Update"
MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"

Identity = tuple[str, str, str, str]  # manager, operation, apiVersion ("" for Apply), subresource


@dataclass(frozen=True)
class Manager:
    """One managedFields entry: who, how, and the fields it owns."""

    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: FieldSet

    @property
    def identity(self) -> Identity:
        # An applier is one manager whatever version it applied with; an updater is one per version.
        version = "" if self.operation == APPLY else self.api_version
        return (self.manager, self.operation, version, self.subresource)

    def describe(self) -> str:
        """As the server names a manager in a conflict: `"kubectl" with subresource "scale"
        using apps/v1`."""
        text = f'"{self.manager}"'
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == UPDATE:
            text += f" using {self.api_version}"
        return text



def decode_managers(obj: dict[str, Any] | None) -> dict[Identity, Manager]:
    """The managers of an object's managedFields; none when they are missing or malformed (the
    server then starts afresh rather than refuse the write)."""
    entries = ((obj or {}).get("metadata") or {}).get("managedFields") or []
    managers: dict[Identity, Manager] = {}
    try:
        for entry in entries:
            fields = from_fields_v1(entry.get("fieldsV1") or {})
            manager = Manager(str(entry.get("manager", "")), str(entry.get("operation", "")),
                              str(entry.get("apiVersion", "")), str(entry.get("subresource", "")),
                              entry.get("time"), fields)
            previous = managers.get(manager.identity)
            if previous is not None:
                manager = replace(manager, fields=previous.fields.union(fields))
            managers[manager.identity] = manager
    except (ValueError, AttributeError, TypeError):
        return {}
    return managers


def encode_managers(managers: dict[Identity, Manager]) -> list[dict[str, Any]]:
    """managedFields entries in the server's order (operation, time, manager, version,
    subresource); managers that own nothing are left out."""
    kept = [m for m in managers.values() if not m.fields.is_empty()]
    kept.sort(key=lambda m: (m.operation, m.time or "", m.manager, m.api_version, m.subresource))
    entries = []
    for m in kept:
        entry: dict[str, Any] = {"manager": m.manager, "operation": m.operation,
                                 "apiVersion": m.api_version}
        if m.time:
            entry["time"] = m.time
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = m.fields.to_fields_v1()
        if m.subresource:
            entry["subresource"] = m.subresource
        entries.append(entry)
    return entries


def without_managed_fields(obj: dict[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(obj) if obj else {}
    metadata = out.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
    return out


def with_managers(obj: dict[str, Any],
                   managers: dict[Identity, Manager]) -> dict[str, Any]:
    entries = encode_managers(cap_updaters(managers))
    metadata = obj.setdefault("metadata", {})
    if entries:
        metadata["managedFields"] = entries
    return obj



def cap_updaters(managers: dict[Identity, Manager]) -> dict[Identity, Manager]:
    """At most MAX_UPDATE_MANAGERS updaters: the oldest merge into "ancient-changes" of their
    version (taking the newer time), as the server caps them."""
    updaters = [m for m in managers.values() if m.operation != APPLY]
    excess = len(updaters) - MAX_UPDATE_MANAGERS
    if excess <= 0:
        return managers
    updaters.sort(key=lambda m: (m.time or "", m.identity))
    out = dict(managers)
    first_of_version: dict[str, Manager] = {}
    for old in updaters:
        if excess <= 0:
            break
        first = first_of_version.get(old.api_version)
        bucket_id: Identity = (ANCIENT_CHANGES, UPDATE, old.api_version, "")
        if first is None:
            first_of_version[old.api_version] = old
            continue
        if old.identity == bucket_id:  # an older updater came first: the bucket stays whole
            continue
        bucket = out.pop(first.identity, None) if bucket_id not in out else out[bucket_id]
        fields = old.fields.union(bucket.fields if bucket else first.fields)
        out[bucket_id] = Manager(ANCIENT_CHANGES, UPDATE, old.api_version, "", old.time, fields)
        out.pop(old.identity, None)
        excess -= 1
    return out


__all__ = [
    "ANCIENT_CHANGES", "APPLY", "Identity", "MAX_UPDATE_MANAGERS", "Manager", "UPDATE",
    "cap_updaters", "decode_managers", "encode_managers", "with_managers",
    "without_managed_fields",
]
