"""Server-side apply and field ownership (managedFields), as the API server does them.

`server_side_apply` merges an applied configuration into the live object by the schema
(map-lists by their keys, sets by value, atomic lists and maps replaced), removes the fields its
manager applied before and applies no more (unless another manager owns them), and refuses, with
ApplyConflict, to change a field another manager owns unless forced. `track_update` records what
a create, update or patch changed as owned by its manager and takes those fields from the others,
so a later apply conflicts with them. As the server, kubectl's server-side apply may take over
what its client-side apply set (the last-applied annotation). Facts:
sigs.k8s.io/structured-merge-diff (merge, Updater) and k8s.io/apiserver's fieldmanager. Pure.
"""

from __future__ import annotations

import copy
import importlib
import json
from dataclasses import replace
from typing import Any, cast

from localsvc.model.kubeapi.applycheck import InvalidApply, check_applied
from localsvc.model.kubeapi.fieldset import (
    EMPTY, FieldSet, Path, SchemaLookup, Slot, field_slot, field_token, fields_of,
    from_paths, is_granular, item_slot, item_token, path_string, root_slot,
)
from localsvc.model.kubeapi.managedfields import (
    APPLY, UPDATE, Identity, Manager, decode_managers, with_managers, without_managed_fields,
)

BEFORE_FIRST_APPLY = "before-first-apply"  # owns an untracked object's fields at its first apply

# Fields nobody owns (the server strips them from every manager's set).
STRIPPED = from_paths([(field_token(name),) for name in ("apiVersion", "kind", "metadata")] + [
    ("f:metadata", field_token(name)) for name in (
        "name", "namespace", "creationTimestamp", "selfLink", "uid", "clusterName",
        "generation", "managedFields", "resourceVersion")])
IDENTITY = ("name", "namespace", "uid", "resourceVersion")


def _settable(config: dict[str, Any], subresource: str) -> dict[str, Any]:
    """What an apply may set: the main resource all but status; the status subresource only
    status (the server resets the rest, as its strategies' reset fields say)."""
    if not subresource:
        config.pop("status", None)
        return config
    if subresource != "status":
        return config
    metadata = config.get("metadata") or {}
    kept = {k: v for k, v in config.items() if k in ("apiVersion", "kind", "status")}
    kept["metadata"] = {k: v for k, v in metadata.items() if k in IDENTITY}
    return kept


def _default_schema() -> SchemaLookup:
    return cast(SchemaLookup, importlib.import_module("localsvc.model.kubeapi.patchmeta"))


# -- conflicts ----------------------------------------------------------------------------------

class ApplyConflict(Exception):
    """An apply would change fields other managers own: 409 Conflict."""

    def __init__(self, conflicts: list[tuple[str, str]]) -> None:
        self.conflicts = conflicts  # (manager as described, field path)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if len(self.conflicts) == 1:
            manager, path = self.conflicts[0]
            return f"Apply failed with 1 conflict: conflict with {manager}: {path}"
        lines: list[str] = []
        for manager in sorted({manager for manager, _ in self.conflicts}):
            lines.append(f"conflicts with {manager}:")
            lines += [f"- {path}" for who, path in self.conflicts if who == manager]
        return f"Apply failed with {len(self.conflicts)} conflicts: " + "\n".join(lines)

    def status(self) -> dict[str, Any]:
        """The metav1.Status the server answers."""
        causes = [{"type": "FieldManagerConflict", "message": f"conflict with {manager}",
                   "field": path} for manager, path in self.conflicts]
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": "Conflict", "details": {"causes": causes},
                "code": 409}


# -- merge, compare, prune ----------------------------------------------------------------------

_DICT_KINDS = ("struct", "map", "deduced")


def _merge(live: Any, applied: Any, slot: Slot, schema: SchemaLookup) -> Any:
    """The live value with the applied one merged in (structured-merge-diff's merge)."""
    if isinstance(live, dict) and isinstance(applied, dict) and slot.kind in _DICT_KINDS:
        out = dict(live)
        for name, value in applied.items():
            if value is None:
                out.pop(name, None)
            elif name in live or isinstance(value, dict):
                # A new object merges into an empty one, so its nulls set nothing either.
                out[name] = _merge(live.get(name, {}), value, field_slot(schema, slot, name),
                                   schema)
            else:
                out[name] = copy.deepcopy(value)
        return out
    if isinstance(live, list) and isinstance(applied, list) and slot.kind in ("maplist", "set"):
        return _merge_items(live, applied, slot, schema)
    return copy.deepcopy(applied)


def _merge_items(live: list[Any], applied: list[Any], slot: Slot,
                 schema: SchemaLookup) -> list[Any]:
    # Two cursors, as the server merges: the applied order leads; a live item the applied list
    # lacks keeps its place among them.
    live_tokens = [item_token(slot, item) for item in live]
    applied_tokens = [item_token(slot, item) for item in applied]
    live_by_token = {t: item for t, item in zip(live_tokens, live) if t is not None}
    in_applied = {t for t in applied_tokens if t is not None}
    out: list[Any] = []
    li = ai = 0
    while li < len(live) or ai < len(applied):
        if li < len(live) and (live_tokens[li] is None or live_tokens[li] not in in_applied):
            out.append(copy.deepcopy(live[li]))
            li += 1
            continue
        if ai < len(applied):
            token, item = applied_tokens[ai], applied[ai]
            if token is not None and token in live_by_token:
                item = _merge(live_by_token[token], item, item_slot(slot, schema), schema)
            out.append(copy.deepcopy(item))
            if li < len(live) and live_tokens[li] == token:
                li += 1
            ai += 1
            continue
        li += 1  # a live item already merged at the applied item's place
    return out


def _children(value: Any, slot: Slot, schema: SchemaLookup) -> dict[str, tuple[Any, Slot]]:
    """The parts of a granular value by token, with their slots."""
    if isinstance(value, dict):
        return {field_token(name): (below, field_slot(schema, slot, name))
                for name, below in value.items()}
    parts: dict[str, tuple[Any, Slot]] = {}
    for item in value:
        token = item_token(slot, item)
        if token is not None:
            parts[token] = (item, item_slot(slot, schema))
    return parts


def _whole(token: str, value: Any, slot: Slot, schema: SchemaLookup) -> FieldSet:
    """Every field of a value at `token` that appeared or disappeared as a whole, the value
    itself among them (an object that is a struct's field is a container, not a member, unless
    empty), as the server's comparison records them."""
    member = not (isinstance(value, dict) and value and slot.kind == "struct")
    below = EMPTY
    if is_granular(slot, value):
        for part, (v, s) in _children(value, slot, schema).items():
            below = below.union(_whole(part, v, s, schema))
    return FieldSet(frozenset({token}) if member else frozenset(),
                    {token: below} if not below.is_empty() else {})


def _compare(old: Any, new: Any, slot: Slot, schema: SchemaLookup) -> tuple[FieldSet, FieldSet]:
    """(changed, removed) between two values of one slot: changed holds modified and added
    fields, removed the fields that disappeared."""
    same_shape = (isinstance(old, dict) and isinstance(new, dict)) or (
        isinstance(old, list) and isinstance(new, list))
    if not (same_shape and is_granular(slot, old)):
        return EMPTY, EMPTY
    old_parts, new_parts = _children(old, slot, schema), _children(new, slot, schema)
    changed, removed = EMPTY, EMPTY
    for token, (value, below) in new_parts.items():
        if token not in old_parts:
            changed = changed.union(_whole(token, value, below, schema))
            continue
        previous = old_parts[token][0]
        if is_granular(below, previous) and is_granular(below, value) and (
                type(previous) is type(value)):
            more, less = _compare(previous, value, below, schema)
            changed = changed.union(_under(token, more))
            removed = removed.union(_under(token, less))
        elif previous != value:
            changed = changed.union(FieldSet(frozenset({token})))
    for token, (value, below) in old_parts.items():
        if token not in new_parts:
            removed = removed.union(_whole(token, value, below, schema))
    return changed, removed


def _under(token: str, below: FieldSet) -> FieldSet:
    return EMPTY if below.is_empty() else FieldSet(frozenset(), {token: below})


def _prune(value: Any, slot: Slot, remove: FieldSet, keep: FieldSet, schema: SchemaLookup) -> Any:
    """The value without the members of `remove` that no member of `keep` is at or under."""
    if not is_granular(slot, value):
        return value
    parts = _children(value, slot, schema)
    gone: set[str] = set()
    replaced: dict[str, Any] = {}
    for token, below_remove in remove.children.items():
        if token in parts:
            before, below_slot = parts[token]
            after = _prune(before, below_slot, below_remove, keep.child(token), schema)
            emptied = bool(before) and not after and below_slot.kind != "struct"
            if emptied and token not in keep.members:
                gone.add(token)
            elif after is not before:
                replaced[token] = after
    for token in remove.members:
        if token in parts and token not in keep.members and not keep.has_under(token):
            gone.add(token)
    if not gone and not replaced:
        return value
    if isinstance(value, dict):
        return {name: replaced.get(field_token(name), below) for name, below in value.items()
                if field_token(name) not in gone}
    out = []
    for item in value:
        item_key = item_token(slot, item)
        if item_key is None or item_key not in gone:
            out.append(item if item_key is None else replaced.get(item_key, item))
    return out


# -- the operations -----------------------------------------------------------------------------

def server_side_apply(live: dict[str, Any] | None, applied: dict[str, Any], manager: str,
                      force: bool, now: str, schema: SchemaLookup | None = None,
                      subresource: str = "") -> dict[str, Any]:
    """The object after `manager` applies `applied` to `live` (None: it does not exist yet),
    with its managedFields; ApplyConflict when it would change another manager's fields and
    `force` is false; InvalidApply for a configuration the server refuses. `now` is the RFC 3339
    time of a changed manager's entry. The result equals `live` when the apply changes nothing.
    `subresource` "" applies to the main resource, whose status an apply does not set."""
    schema = schema or _default_schema()
    slot = root_slot(schema, str(applied.get("apiVersion", "")), str(applied.get("kind", "")))
    check_applied(live, applied, slot, schema)
    config = _settable(without_managed_fields(applied), subresource)
    base = without_managed_fields(live)
    managers = decode_managers(live)
    if live is not None and not managers:
        untracked = fields_of(base, slot, schema).difference(STRIPPED)
        managers[(BEFORE_FIRST_APPLY, UPDATE, str(base.get("apiVersion", "")), "")] = Manager(
            BEFORE_FIRST_APPLY, UPDATE, str(base.get("apiVersion", "")), "", None, untracked)
    applied_set = fields_of(config, slot, schema).difference(STRIPPED)
    me = Manager(manager, APPLY, str(applied.get("apiVersion", "")), subresource, None, applied_set)
    last = managers[me.identity] if me.identity in managers else None
    managers[me.identity] = replace(me, time=last.time if last else None)
    merged = _merge(base, config, slot, schema)
    if last is not None:
        keep = EMPTY
        for owner in managers.values():
            keep = keep.union(owner.fields)
        merged = _prune(merged, slot, last.fields, keep, schema)
    changed, removed = _compare(base, merged, slot, schema)
    allowed = _client_side_applied(base, slot, schema) if manager == KUBECTL else EMPTY
    _settle(managers, me.identity, changed, removed, force, allowed)
    if manager == KUBECTL:
        merged = _sync_last_applied(merged, config)
    if merged != base:
        managers[me.identity] = replace(managers[me.identity], time=now)
    return with_managers(merged, managers)


# kubectl's client-side apply keeps the configuration it applied in this annotation. kubectl's
# server-side apply (manager "kubectl", and only it) may take those fields without a conflict, and
# keeps the annotation in step, so the two can be mixed.
KUBECTL = "kubectl"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _client_side_applied(live: dict[str, Any], slot: Slot, schema: SchemaLookup) -> FieldSet:
    """The fields of the live object's last-applied configuration that still hold its values."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    try:
        last = json.loads(text) if text else None
    except ValueError:
        return EMPTY
    if not isinstance(last, dict) or last.get("apiVersion") != live.get("apiVersion"):
        return EMPTY
    differ, missing = _compare(last, live, slot, schema)
    return fields_of(last, slot, schema).difference(differ).difference(missing)


def _sync_last_applied(merged: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    annotations = (merged.get("metadata") or {}).get("annotations") or {}
    if not annotations.get(LAST_APPLIED):
        return merged
    applied = copy.deepcopy(config)
    applied_annotations = (applied.get("metadata") or {}).get("annotations")
    if isinstance(applied_annotations, dict):
        applied_annotations.pop(LAST_APPLIED, None)
    # As Go encodes it: keys sorted, compact, HTML characters escaped, a final newline.
    text = json.dumps(applied, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    out = dict(merged)
    annotations = {**annotations, LAST_APPLIED: text + "\n"}
    out["metadata"] = {**merged["metadata"], "annotations": annotations}
    return out


def _settle(managers: dict[Identity, Manager], me: Identity, changed: FieldSet,
            removed: FieldSet, force: bool, allowed: FieldSet = EMPTY) -> None:
    """Take the changed fields from the other managers and the removed ones from everyone else;
    ApplyConflict, unless forced, for changed fields others own (beyond `allowed`)."""
    refused: list[tuple[str, str]] = []
    for identity, owner in list(managers.items()):
        if identity == me:
            continue
        lost = owner.fields.intersection(changed)
        refused += [(owner.describe(), path_string(p))
                    for p in lost.difference(allowed).paths()]
        kept = owner.fields.difference(lost).difference(removed)
        managers[identity] = replace(owner, fields=kept)
    if refused and not force:
        raise ApplyConflict(sorted(refused, key=lambda c: c[0]))


def track_update(live_before: dict[str, Any] | None, live_after: dict[str, Any], manager: str,
                 now: str, operation: str = UPDATE, schema: SchemaLookup | None = None,
                 subresource: str = "") -> dict[str, Any]:
    """`live_after` (the result of a create, update or patch by `manager`; `live_before` None
    for a create) with managedFields that give `manager` what it changed, taken from the others.
    managedFields the write sets itself replace the live ones; `[{}]` clears them (not through
    a subresource, which keeps the live ones)."""
    schema = schema or _default_schema()
    api_version = str(live_after.get("apiVersion", ""))
    slot = root_slot(schema, api_version, str(live_after.get("kind", "")))
    requested = (live_after.get("metadata") or {}).get("managedFields")
    if subresource:  # a subresource write cannot set managedFields
        managers = decode_managers(live_before)
    elif requested == [{}]:
        managers = {}
    else:
        managers = decode_managers(live_after) or decode_managers(live_before)
    before, after = without_managed_fields(live_before), without_managed_fields(live_after)
    changed, removed = _compare(before, after, slot, schema)
    changed = changed.difference(STRIPPED)
    me = Manager(manager, operation, api_version, subresource, None, EMPTY)
    # Like the server's "current-operation": the writer's own earlier fields lose what changed
    # or disappeared too, then it owns what it changed.
    _settle(managers, ("", "", "", ""), changed, removed, force=True)
    if not changed.is_empty():
        previous = managers.get(me.identity)
        owned = changed.union(previous.fields if previous else EMPTY)
        managers[me.identity] = replace(me, fields=owned, time=now)
    return with_managers(after, managers)


def owned_paths(obj: dict[str, Any], manager: str, operation: str = APPLY) -> list[Path]:
    """The paths one manager owns in an object (for tests and diagnostics)."""
    for owner in decode_managers(obj).values():
        if owner.manager == manager and owner.operation == operation:
            return list(owner.fields.paths())
    return []


__all__ = [
    "ApplyConflict", "BEFORE_FIRST_APPLY", "InvalidApply", "STRIPPED", "owned_paths",
    "server_side_apply", "track_update",
]
