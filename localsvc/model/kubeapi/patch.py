"""The three patch types of the Kubernetes API, applied to an object's JSON. Pure.

- JSON patch (RFC 6902, application/json-patch+json): a list of operations (the jsonpatch library).
- JSON merge patch (RFC 7386, application/merge-patch+json): null deletes, objects merge, every
  other value (lists included) replaces.
- Strategic merge patch (application/strategic-merge-patch+json), what kubectl sends for apply,
  label, annotate, set image, scale, rollout restart and patch: strategicmerge.py.

Errors are PatchError(message, status) with the HTTP status the API server answers with
(patcherror.py). Inputs are never mutated.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from localsvc.model.kubeapi.patcherror import (
    BAD_REQUEST,
    INVALID,
    TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    PatchError,
)
from localsvc.model.kubeapi.strategicmerge import strategic_merge

__all__ = ["JSON_PATCH", "MERGE_PATCH", "STRATEGIC_PATCH", "PatchError", "apply_json_patch",
           "apply_merge_patch", "apply_patch", "apply_strategic_merge_patch"]

# The API server refuses longer JSON patches (apiserver handlers/patch.go maxJSONPatchOperations).
MAX_JSON_PATCH_OPERATIONS = 10000
# What the API server accepts for a resource without patch metadata (a custom resource).
NON_STRATEGIC_PATCH_TYPES = (
    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")


def apply_json_patch(obj: dict[str, Any], patch_ops: Any) -> dict[str, Any]:
    """RFC 6902: apply the operations in order, all or nothing."""
    if not isinstance(patch_ops, list):
        raise PatchError("a JSON patch is a list of operations, e.g. "
                         '[{"op": "replace", "path": "/spec/replicas", "value": 2}]', BAD_REQUEST)
    if len(patch_ops) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(f"The allowed maximum operations in a JSON patch is "
                         f"{MAX_JSON_PATCH_OPERATIONS}, got {len(patch_ops)}", TOO_LARGE)
    for index, operation in enumerate(patch_ops):
        if not isinstance(operation, dict) or not isinstance(operation.get("op"), str):
            raise PatchError(f"JSON patch operation {index}: an object with an \"op\" "
                             f"(add, remove, replace, move, copy, test), got {operation!r}",
                             BAD_REQUEST)
    try:
        result = jsonpatch.apply_patch(obj, patch_ops, in_place=False)
    except jsonpatch.InvalidJsonPatch as error:
        raise PatchError(f"invalid JSON patch: {error}", BAD_REQUEST) from error
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as error:
        raise PatchError(f"the JSON patch does not apply: {error}", INVALID) from error
    if not isinstance(result, dict):
        raise PatchError("the JSON patch replaces the whole object with a non-object", INVALID)
    return result


def apply_merge_patch(obj: dict[str, Any], patch: Any) -> dict[str, Any]:
    """RFC 7386: null deletes a key, objects merge, every other value replaces."""
    if not isinstance(patch, dict):
        raise PatchError("Invalid JSON Patch: a merge patch is a JSON object, e.g. "
                         '{"metadata": {"labels": {"app": "web"}}}', BAD_REQUEST)
    return _merge_patch_object(copy.deepcopy(obj), patch)


def _merge_patch_object(result: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Merge `patch` into `result` (owned: mutated and returned)."""
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            result[key] = _merge_patch_object(current if isinstance(current, dict) else {}, value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def apply_strategic_merge_patch(obj: dict[str, Any], patch: Any,
                                type_name: str | None) -> dict[str, Any]:
    """The API server's strategic merge patch of an object of `type_name` (a patchmeta type
    name, e.g. "apps.v1.Deployment"); None: a type without patch metadata, which the server
    refuses (415) as it does for custom resources."""
    if type_name is None:
        raise PatchError("the body of the request was in an unknown format - accepted media "
                         f"types include: {NON_STRATEGIC_PATCH_TYPES} (strategic merge patch is "
                         "not supported for custom resources; use --type=merge or --type=json)",
                         UNSUPPORTED_MEDIA_TYPE)
    if not isinstance(patch, dict):
        raise PatchError("invalid JSON document: a strategic merge patch is a JSON object, e.g. "
                         '{"spec": {"replicas": 2}}', BAD_REQUEST)
    return strategic_merge(copy.deepcopy(obj), copy.deepcopy(patch), type_name)


JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


def apply_patch(media_type: str, obj: dict[str, Any], patch: Any,
                type_name: str | None) -> dict[str, Any]:
    """`obj` patched by a patch of `media_type` (one of the three above; the server's 415 for
    any other): the one dispatch of a PATCH request, of a resource or of its scale."""
    if media_type == JSON_PATCH:
        return apply_json_patch(obj, patch)
    if media_type == MERGE_PATCH:
        return apply_merge_patch(obj, patch)
    if media_type == STRATEGIC_PATCH:
        return apply_strategic_merge_patch(obj, patch, type_name)
    raise PatchError(f"the body of the request was in an unknown format - accepted media types "
                     f"include: {JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_PATCH}",
                     UNSUPPORTED_MEDIA_TYPE)
