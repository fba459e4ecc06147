"""What a write of the Kubernetes API stores, pure: the request body checked against the URL it
came to, and cut down to what a client controls.

The API server refuses a body whose kind, apiVersion, namespace or name disagree with the request
(400 BadRequest, with its words), names an object from generateName, ignores status on the main
resource and sets the server-owned metadata itself. localsvc's own annotations on served objects
(the problems the node found) are the node's: a client that read one and writes the object back
does not store it.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

from localsvc.model.kubeapi.apierror import ApiError
from localsvc.model.kubeapi.resources import Resource
from localsvc.model.kubeapi.status import bad_request
from localsvc.model.objects import SERVER_METADATA
from localsvc.model.views import PROBLEMS_ANNOTATION

Obj = dict[str, Any]
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the API server's generateName letters


def generated_name(prefix: str) -> str:
    """generateName plus five random letters, as the API server names such an object."""
    return prefix + "".join(secrets.choice(NAME_ALPHABET) for _ in range(5))


def checked_body(resource: Resource, namespace: str | None, name: str | None,
                 body: Any) -> Obj:
    """The body of a create (`name` None) or update, with its kind, apiVersion, namespace and
    name filled in from the request where it leaves them out; ApiError 400 where they differ."""
    if not isinstance(body, dict):
        raise ApiError(bad_request(f"the body of the request must be a {resource.kind} object"))
    obj = copy.deepcopy(body)
    kind = obj.setdefault("kind", resource.kind)
    api_version = obj.setdefault("apiVersion", resource.api_version)
    if kind != resource.kind or api_version != resource.api_version:
        raise ApiError(bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({resource.api_version})" if kind == resource.kind else
            f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})"))
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        raise ApiError(bad_request("metadata must be an object"))
    if resource.namespaced and namespace is not None:
        given = meta.setdefault("namespace", namespace)
        if given != namespace:
            raise ApiError(bad_request("the namespace of the provided object does not match "
                                       "the namespace sent on the request"))
    elif not resource.namespaced:
        meta.pop("namespace", None)
    if name is not None:
        given_name = meta.setdefault("name", name)
        if given_name != name:
            raise ApiError(bad_request("the name of the object "
                                       f"({given_name}) does not match the name on the URL "
                                       f"({name})"))
    elif not meta.get("name"):
        prefix = meta.get("generateName")
        if not prefix:
            raise ApiError(bad_request("name or generateName is required"))
        meta["name"] = generated_name(str(prefix))
    return obj


def desired_of(obj: Obj) -> Obj:
    """What a client controls of `obj`: no status, no server-owned metadata, no localsvc
    problem annotation (managedFields and kubectl's last-applied annotation stay)."""
    out = {key: value for key, value in obj.items() if key != "status"}
    meta = {key: value for key, value in (obj.get("metadata") or {}).items()
            if key not in SERVER_METADATA}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k != PROBLEMS_ANNOTATION}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return copy.deepcopy(out)


def same_content(before: Obj, after: Obj) -> bool:
    """Whether a write changes nothing a client controls, its managedFields aside (a no-op
    patch or update answers with the object as it is, at the same resourceVersion)."""
    def content(obj: Obj) -> Obj:
        out = desired_of(obj)
        out["metadata"].pop("managedFields", None)
        return out
    return content(before) == content(after)


def resource_version_of(obj: Any) -> str:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    value = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return str(value) if value else ""


__all__ = ["SERVER_METADATA", "checked_body", "desired_of", "generated_name",
           "resource_version_of", "same_content"]
