"""Where the host finds an object on the environment's Kubernetes API: the one place that turns
a kind, namespace and name into a URL path (/api/v1/namespaces/N/pods/NAME,
/apis/apps/v1/namespaces/N/deployments/NAME/scale). Pure.

The kinds come from the API's own resource registry (model/kubeapi/resources.py), so the host
asks for exactly the paths the node serves; resolve_kind turns what a user typed ("po",
"deployments") into one, for the CLI and the Python API alike.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from localsvc.errors import LocalsvcError
from localsvc.model.kubeapi.resources import RESOURCES, Resource, by_kind_name


def served() -> list[Resource]:
    """Each resource the API serves once (events are served by two groups)."""
    seen: dict[str, Resource] = {}
    for resource in RESOURCES:
        seen.setdefault(resource.plural, resource)
    return list(seen.values())


def known_kinds(short_sep: str = " ({})") -> str:
    """The resource types commands accept, from the API's resource table (model/kubeapi/
    resources.py), those of `get all` first: "pods (po), ..." (or "pods|po" with
    short_sep="|{}")."""
    ordered = sorted(served(), key=lambda r: "all" not in r.categories)  # stable: API order
    return ", ".join(r.plural + "".join(short_sep.format(s) for s in r.short_names)
                     for r in ordered)


KNOWN = known_kinds()


def resolve_kind(text: str) -> str:
    """The kind a resource type names ("po", "deployments", "Deployment"); LocalsvcError
    naming the known types for an unknown one."""
    # Imported here: localsvc.model.objects loads the YAML machinery (~50 ms), which the
    # parser's import of the command modules (every --help and shell completion) need not pay.
    from localsvc.model.objects import kind_of

    kind = kind_of(text)
    if kind is None:
        raise LocalsvcError(f'unknown resource type "{text}"; localsvc knows {KNOWN}')
    return kind


def resource_of(kind: str) -> Resource:
    """The served resource of a kind name ("Pod", "Deployment"), in its preferred version."""
    resource = by_kind_name(kind)
    if resource is None:
        raise LocalsvcError(f'the environment\'s Kubernetes API serves no kind "{kind}"')
    return resource


def collection_path(kind: str, namespace: str | None = None) -> str:
    """The list path of `kind`: in `namespace`, or across all namespaces when None (a
    cluster-scoped kind ignores the namespace)."""
    resource = resource_of(kind)
    root = f"/apis/{resource.group}/{resource.version}" if resource.group \
        else f"/api/{resource.version}"
    if resource.namespaced and namespace is not None:
        root += f"/namespaces/{_segment(namespace)}"
    return f"{root}/{resource.plural}"


def object_path(kind: str, namespace: str | None, name: str,
                subresource: str | None = None) -> str:
    """The path of one object (a namespaced kind needs its namespace), or of its subresource."""
    resource = resource_of(kind)
    if resource.namespaced and not namespace:
        raise LocalsvcError(f"a {kind} lives in a namespace; none was given for {name!r}")
    path = f"{collection_path(kind, namespace)}/{_segment(name)}"
    return f"{path}/{subresource}" if subresource else path


def with_query(path: str, **params: str | None) -> str:
    """`path` with the given query parameters; those that are None or empty are left out."""
    given = {key: value for key, value in params.items() if value}
    return f"{path}?{urlencode(given)}" if given else path


def _segment(text: str) -> str:
    # A name with "/" or "?" must not change the path's meaning (the server then says 404).
    return quote(text, safe="")
