"""The host's reads and changes of objects through the environment's Kubernetes API: list and
get, delete, scale. The answers keep the shapes the CLI and the Python API have always had
(objects with their kind and apiVersion; {"kind", "namespace", "name", "action"} results).
"""

from __future__ import annotations

from typing import Any

from localsvc.errors import NotFound
from localsvc.host.client import MERGE_PATCH, NodeClient
from localsvc.host.kubepaths import collection_path, object_path, resource_of, with_query

Obj = dict[str, Any]


def typed_items(kind: str, listing: Obj) -> list[Obj]:
    """A list's items with their kind and apiVersion, which a typed list leaves out (kubectl
    puts them back too). Pure."""
    api_version = resource_of(kind).api_version
    return [{"apiVersion": api_version, "kind": kind, **item} for item in listing["items"]]


def list_objects(node: NodeClient, kind: str, namespace: str | None = None,
                 selector: str | None = None, fields: str | None = None) -> list[Obj]:
    """The objects of `kind` in `namespace` (None: all namespaces), ordered by namespace and
    name; `selector`: a label selector, as `-l` takes it; `fields`: a field selector."""
    path = with_query(collection_path(kind, namespace), labelSelector=selector,
                      fieldSelector=fields)
    return typed_items(kind, node.get(path))


def get_object(node: NodeClient, kind: str, namespace: str | None, name: str) -> Obj:
    """One object; NotFound names it as localsvc always has ('pod "x" not found in namespace
    "default"')."""
    try:
        found: Obj = node.get(object_path(kind, namespace, name))
    except NotFound:
        where = f' in namespace "{namespace}"' if resource_of(kind).namespaced else ""
        raise NotFound(f'{kind.lower()} "{name}" not found{where}') from None
    return found


def result(kind: str, namespace: str | None, name: str, action: str) -> Obj:
    """What the CLI prints for one changed object ("pod/web deleted")."""
    namespace = namespace if resource_of(kind).namespaced else ""
    return {"kind": kind, "namespace": namespace or "", "name": name, "action": action}


def delete_object(node: NodeClient, kind: str, namespace: str | None, name: str) -> Obj:
    """DELETE one object (its pods get their grace period); a missing one is a "not found"
    result, not an error, so that deleting several goes on past it."""
    try:
        node.delete(object_path(kind, namespace, name))
    except NotFound:
        return result(kind, namespace, name, "not found")
    return result(kind, namespace, name, "deleted")


def scale_workload(node: NodeClient, namespace: str, name: str, replicas: int,
                     kind: str = "Deployment") -> Obj:
    """Set a Deployment's (or StatefulSet's) replicas through its scale subresource (a merge
    patch of spec.replicas, as `kubectl scale` does)."""
    path = object_path(kind, namespace, name, "scale")
    try:
        node.patch(path, {"spec": {"replicas": replicas}}, MERGE_PATCH)
    except NotFound:
        raise NotFound(f'{kind.lower()} "{name}" not found in namespace "{namespace}"') from None
    return result(kind, namespace, name, "scaled")
