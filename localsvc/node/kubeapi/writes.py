"""Create, update, patch and delete through the Kubernetes API, as changes of the controller.

Every write ends where `localsvc apply` and `localsvc delete` end: the controller's all-or-nothing
apply (validation with the same messages, ClusterIP and NodePort allocation, the state saved
before it takes effect) and its delete. So an object written with kubectl and one applied with
localsvc are the same object, and the answer is read back from the object store, with its new
resourceVersion. The API's own rules come first: the body against the URL, optimistic
concurrency (a stale resourceVersion is 409 Conflict), fieldValidation (Strict: unknown fields
are 400; Warn: dropped, with a warning; Ignore: dropped), patches and server-side apply with
managedFields, dryRun (everything checked, nothing stored).

Events are not applied objects: a client's Event (an operator's client-go recorder creates,
then patches its count) goes into the store through the node's event recorder, which keeps it
as its own (1 h TTL from its last write, the node's bound), after the API server's checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from localsvc.errors import LocalsvcError, ManifestError
from localsvc.model import events as ev
from localsvc.model.fields import without_unknown_fields
from localsvc.model.kubeapi import status as st
from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_PATCH,
    apply_patch,
)
from localsvc.model.kubeapi.patcherror import PatchError
from localsvc.model.kubeapi.patchmeta import root_type
from localsvc.model.kubeapi.resources import Resource
from localsvc.model.kubeapi.ssa import ApplyConflict, InvalidApply, server_side_apply, track_update
from localsvc.model.kubeapi.writing import (
    checked_body,
    desired_of,
    resource_version_of,
    same_content,
)
from localsvc.model.incluster import ACCOUNT_LOOKUP
from localsvc.model.load import SUPPORTED_KINDS, Manifest
from localsvc.model.objects import now_iso
from localsvc.model.validate import validate
from localsvc.node.changes import prepare
from localsvc.node.controller import Controller
from localsvc.node.reconcile import WORKLOAD_KINDS
from localsvc.node.store import key_of

Obj = dict[str, Any]
STORED_KINDS = frozenset(kind for _, kind in SUPPORTED_KINDS)
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)
VALIDATIONS = ("Strict", "Warn", "Ignore")


@dataclass(frozen=True)
class WriteOptions:
    """The query parameters every write takes."""

    dry_run: bool = False
    field_validation: str = "Strict"
    field_manager: str = ""
    force: bool = False  # server-side apply: take the fields other managers own
    user_agent: str = ""  # the manager's name when no fieldManager is given


@dataclass
class Written:
    obj: Obj
    created: bool = False
    warnings: list[str] = field(default_factory=list)


def group_resource(resource: Resource) -> st.GroupResource:
    return st.GroupResource(resource.plural, resource.group)


class KubeWrites:
    def __init__(self, controller: Controller):
        self.controller = controller

    # ---- reading what is there -----------------------------------------------------------

    def key(self, resource: Resource, namespace: str | None, name: str) -> str:
        return key_of(resource.kind, namespace or "" if resource.namespaced else "", name)

    def existing(self, resource: Resource, namespace: str | None, name: str) -> Obj:
        obj = self.controller.objects.get(self.key(resource, namespace, name))
        if obj is None:
            raise ApiError(st.not_found(group_resource(resource), name))
        return obj

    def _namespace_exists(self, resource: Resource, obj: Obj) -> None:
        """As the NamespaceLifecycle admission plugin: nothing is created in a namespace that
        does not exist (`localsvc apply` creates it and warns instead)."""
        namespace = obj["metadata"].get("namespace") if resource.namespaced else None
        if namespace and self.controller.objects.get(key_of("Namespace", "", namespace)) is None:
            raise ApiError(st.not_found(st.GroupResource("namespaces"), namespace))
        if namespace and self.controller.terminating_namespace(namespace):
            raise ApiError(st.forbidden(
                group_resource(resource), obj["metadata"].get("name", ""),
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated"))

    def _writable(self, resource: Resource, verb: str) -> None:
        if resource.kind not in STORED_KINDS:
            raise ApiError(st.method_not_supported(group_resource(resource), verb))

    # ---- the verbs ----------------------------------------------------------------------------

    async def create(self, resource: Resource, namespace: str | None, body: Any,
                     options: WriteOptions) -> Written:
        if resource.kind == "Event":
            return self._event(resource, None, checked_body(resource, namespace, None, body),
                               options)
        self._writable(resource, "create")
        obj = checked_body(resource, namespace, None, body)
        name = obj["metadata"]["name"]
        self._namespace_exists(resource, obj)
        if self.controller.objects.get(self.key(resource, namespace, name)) is not None:
            raise ApiError(st.already_exists(group_resource(resource), name))
        obj, warnings = self._validated_fields(resource, obj, options)
        obj = track_update(None, desired_of(obj), self._manager(options, "create"), now_iso())
        return Written(await self._store(resource, obj, None, options), True, warnings)

    async def update(self, resource: Resource, namespace: str | None, name: str, body: Any,
                     options: WriteOptions) -> Written:
        live = self.existing(resource, namespace, name)
        obj = checked_body(resource, namespace, name, body)
        if resource.kind == "Event":
            return self._event(resource, live, obj, options)
        self._writable(resource, "update")
        return await self._replace(resource, live, obj, options, "update")

    async def patch(self, resource: Resource, namespace: str | None, name: str,
                    content_type: str, raw: bytes, options: WriteOptions) -> Written:
        if resource.kind != "Event":
            self._writable(resource, "patch")
        media = content_type.split(";", 1)[0].strip().lower()
        if media not in PATCH_TYPES or (resource.kind == "Event" and media == APPLY_PATCH):
            raise ApiError(st.unsupported_media_type(
                media, PATCH_TYPES[:3] if resource.kind == "Event" else PATCH_TYPES))
        key = self.key(resource, namespace, name)
        live = self.controller.objects.get(key)
        if media == APPLY_PATCH:
            return await self._apply(resource, namespace, name, live, raw, options)
        if live is None:
            raise ApiError(st.not_found(group_resource(resource), name))
        shown = with_version(resource, live)
        try:
            patched = apply_patch(media, shown, _decoded(raw),
                                  root_type(resource.api_version, resource.kind))
        except PatchError as err:
            raise ApiError(patch_status(err)) from None
        if resource.kind == "Event":
            return self._event(resource, live, patched, options)
        return await self._replace(resource, live, patched, options, "patch")

    async def _apply(self, resource: Resource, namespace: str | None, name: str,
                     live: Obj | None, raw: bytes, options: WriteOptions) -> Written:
        if not options.field_manager:
            raise ApiError(st.bad_request("PATCH, application/apply-patch+yaml requires "
                                          "fieldManager to be set"))
        try:
            applied = yaml.safe_load(raw.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise ApiError(st.bad_request(f"error decoding YAML: {err}")) from None
        applied = checked_body(resource, namespace, name, applied)
        applied, warnings = self._validated_fields(resource, applied, options)
        try:
            merged = server_side_apply(live, applied, options.field_manager, options.force,
                                       now_iso())
        except ApplyConflict as err:
            raise ApiError(err.status()) from None
        except InvalidApply as err:
            raise ApiError(err.status()) from None
        if live is None:
            self._namespace_exists(resource, merged)
            return Written(await self._store(resource, desired_of(merged), None, options), True,
                           warnings)
        if merged == live:
            return Written(live, False, warnings)
        return Written(await self._store(resource, desired_of(merged), live, options), False,
                       warnings)

    async def _replace(self, resource: Resource, live: Obj, obj: Obj, options: WriteOptions,
                       verb: str) -> Written:
        """Store `obj` over `live` (an update, or a patch's result): 409 when it names another
        resourceVersion than the live one, fieldValidation, then the apply."""
        given = resource_version_of(obj)
        if given and given != resource_version_of(live):
            raise ApiError(st.conflict(group_resource(resource), obj["metadata"]["name"]))
        obj, warnings = self._validated_fields(resource, obj, options)
        if same_content(live, obj):
            return Written(live, False, warnings)  # no change: no new resourceVersion
        after = desired_of(obj)
        if "status" in live:  # a write of the main resource leaves the status as it is
            after["status"] = live["status"]
        obj = track_update(live, after, self._manager(options, verb), now_iso())
        return Written(await self._store(resource, desired_of(obj), live, options), False,
                       warnings)

    def _event(self, resource: Resource, live: Obj | None, obj: Obj,
               options: WriteOptions) -> Written:
        """Create (`live` None) or replace an Event, through the node's recorder."""
        events_v1 = resource.group == ev.EVENTS_V1_GROUP
        event = ev.from_events_v1(obj) if events_v1 else obj
        name = event["metadata"]["name"]
        if not event["metadata"].get("namespace"):
            raise ApiError(st.bad_request("an Event is written in a namespace: "
                                          "POST it to /api/v1/namespaces/NAMESPACE/events"))
        given = resource_version_of(event)
        if live is not None and given and given != resource_version_of(live):
            raise ApiError(st.conflict(group_resource(resource), name))
        problems = ev.event_problems(event, events_v1)
        if problems:
            raise ApiError(st.invalid(resource.kind, resource.group, name, [
                st.FieldError(kind, path, value) if value is not None
                else st.FieldError(kind, path) for kind, path, value in problems]))
        if live is None:
            self._namespace_exists(resource, event)
            if self.controller.objects.get(self.key(resource, event["metadata"]["namespace"],
                                                    name)) is not None:
                raise ApiError(st.already_exists(group_resource(resource), name))
        if options.dry_run:
            return Written(as_stored(event, live), live is None)
        # Without the server's metadata: the store keeps the live uid and creation time.
        stored = self.controller.recorder.store_written(desired_of(event))
        return Written(stored, live is None)

    # ---- the controller's side ---------------------------------------------------------------

    async def _store(self, resource: Resource, obj: Obj, live: Obj | None,
                     options: WriteOptions) -> Obj:
        """Validate and apply `obj` as localsvc apply does; the object as stored, or (dryRun)
        as it would be."""
        manifest = Manifest(obj=obj, file="", line=0)
        name = obj["metadata"]["name"]
        problems = validate([manifest])
        if problems:
            raise ApiError(st.invalid_from_problems(resource.kind, resource.group, name,
                                                    problems))
        controller = self.controller
        prepared = prepare([manifest], controller.state.objects)
        try:
            if options.dry_run:
                staged = controller.check([manifest], prepared)
                return as_stored(staged.state.objects.get(prepared[0].key, obj), live)
            await controller.apply_async([manifest], False, prepared)
        except ManifestError as err:
            if err.problems and all(p.message.startswith(ACCOUNT_LOOKUP) for p in err.problems):
                # The ServiceAccount admission's refusal: 403, in the API server's words.
                why = err.problems[0].message.split("; ", 1)[0]
                raise ApiError(st.forbidden(group_resource(resource), name, why)) from None
            raise ApiError(st.invalid_from_problems(resource.kind, resource.group, name,
                                                    err.problems)) from None
        except LocalsvcError as err:
            raise ApiError(st.bad_request(str(err))) from None
        stored = controller.objects.get(self.key(resource, obj["metadata"].get("namespace"),
                                                 name))
        if stored is None:  # published with the next sync (a view failed): answer what is kept
            return obj
        return stored

    def _validated_fields(self, resource: Resource, obj: Obj,
                          options: WriteOptions) -> tuple[Obj, list[str]]:
        """fieldValidation: unknown fields refused (Strict), or dropped with a warning (Warn)
        or silently (Ignore)."""
        if options.field_validation not in VALIDATIONS:
            raise ApiError(st.bad_request(
                f"fieldValidation must be one of Strict, Warn or Ignore, got "
                f"{options.field_validation!r}"))
        cleaned, unknown = without_unknown_fields(resource.kind, obj)
        if not unknown:
            return obj, []
        paths = [u.path for u in unknown]
        if options.field_validation == "Strict":
            raise ApiError(st.unknown_fields(resource.kind, resource.version, paths))
        if options.field_validation == "Warn":
            return cleaned, [f'unknown field "{path}"' for path in paths]
        return cleaned, []

    @staticmethod
    def _manager(options: WriteOptions, verb: str) -> str:
        """The fieldManager, else what the API server takes: the User-Agent up to its first
        "/" ("kubectl", "OpenAPI-Generator")."""
        return options.field_manager or options.user_agent.split("/", 1)[0] or "unknown"

    # ---- deletes -----------------------------------------------------------------------------

    async def delete(self, resource: Resource, namespace: str | None, name: str,
                     grace: int | None, propagation: str, dry_run: bool) -> Obj:
        """The object, marked deleted, for the kinds the API server answers with it (a pod
        terminating, a namespace emptying, an owner deleted in the foreground); a Success
        Status for the others, as their registries do."""
        live = self.existing(resource, namespace, name)
        if resource.kind == "Event":
            if not dry_run:
                self.controller.recorder.delete_written(live["metadata"]["namespace"], name)
            return _success(resource, live)
        if resource.kind not in STORED_KINDS and resource.kind != "Pod":
            raise ApiError(st.method_not_supported(group_resource(resource), "delete"))
        if propagation not in ("", "Background", "Foreground", "Orphan"):
            raise ApiError(st.bad_request(f"propagationPolicy {propagation!r} is not one of "
                                          "Background, Foreground, Orphan"))
        key = self.key(resource, namespace, name)
        kept = resource.kind == "Namespace" or (propagation == "Foreground"
                                                and resource.kind in FOREGROUND_KINDS)
        if dry_run:
            return live if kept or resource.kind in RETURNS_OBJECT else _success(resource, live)
        served = self.controller.keep_until_dependents_gone(key, live) if kept else None
        self.controller.delete([key], grace=grace, orphan=propagation == "Orphan")
        if served is not None:
            return served
        if resource.kind not in RETURNS_OBJECT:
            return _success(resource, live)
        meta = {**live["metadata"], "deletionTimestamp": now_iso()}
        if grace is not None:
            meta["deletionGracePeriodSeconds"] = grace
        return {**live, "metadata": meta}


# The kinds with dependents (the workloads: pods, a CronJob's Jobs): deleted in the foreground,
# one is served, marked deleted, until they are gone (node/finalizing.py); the others go at once.
FOREGROUND_KINDS = WORKLOAD_KINDS

# The registries that answer a DELETE with the deleted object (the others with a Status); a
# claim always carries its pvc-protection finalizer, so its registry returns it, marked deleted.
RETURNS_OBJECT = frozenset({"Pod", "Service", "ServiceAccount", "PersistentVolumeClaim"})


def _success(resource: Resource, live: Obj) -> Obj:
    meta = live.get("metadata") or {}
    return st.success(group_resource(resource), str(meta.get("name", "")),
                      str(meta.get("uid", "")))


def with_version(resource: Resource, obj: Obj) -> Obj:
    """A stored object as `resource`'s version shows it (what a patch is applied to)."""
    return ev.as_events_v1(obj) if resource.group == ev.EVENTS_V1_GROUP else obj


def as_stored(staged: Obj, live: Obj | None) -> Obj:
    """What a dry run answers: the object the apply would store (stamped by the same code as a
    real apply: uid, creation time, generation), at the live resourceVersion (a dry run writes
    nothing), with the live status."""
    if live is None:
        return staged
    meta = {**staged["metadata"], "resourceVersion": live["metadata"].get("resourceVersion")}
    out = {**staged, "metadata": meta}
    if "status" in live:
        out["status"] = live["status"]
    return out


def _decoded(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ApiError(st.bad_request(f"the patch is not valid JSON: {err}")) from None


def patch_status(err: PatchError) -> dict[str, Any]:
    """The metav1.Status of a patch that cannot be applied."""
    if err.status == 415:
        return st.status(415, "UnsupportedMediaType", err.message)
    if err.status == 422:
        return st.status(422, "Invalid", err.message)
    if err.status == 413:
        return st.status(413, "RequestEntityTooLarge", err.message)
    if err.status == 500:
        return st.internal_error(err.message)
    return st.bad_request(err.message)


__all__ = ["APPLY_PATCH", "KubeWrites", "PATCH_TYPES", "WriteOptions", "Written"]
