"""What a Kubernetes API request path names, as the API server's request-info resolver reads it.

/api/v1 and /apis/GROUP/VERSION, then `[namespaces/NS/]RESOURCE[/NAME[/SUBRESOURCE...]]`.
`namespaces/NS` is the namespace object itself when nothing, or a subresource of a namespace
(status, finalize), follows; a namespaced resource otherwise. Pure: the resource registry decides
nothing here, the node's router looks the resource up.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One request's group, version, resource and object."""

    group: str  # "" for the core group (/api)
    version: str
    resource: str = ""  # plural, "" for the group-version's discovery document
    namespace: str | None = None  # None: cluster-scoped, or every namespace
    name: str | None = None
    subresource: str = ""  # "status", "scale", "log", "proxy/rest/of/path"...

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


class BadPath(ValueError):
    """Not a path of the resource API."""


def parse(path: str) -> Target:
    """The Target of `path` (/api/v1/..., /apis/G/V/...); BadPath for anything else."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise BadPath(path)
    if not rest:
        return Target(group, version)
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and (len(rest) > 3 or rest[2] not in
                                                       NAMESPACE_SUBRESOURCES):
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    subresource = "/".join(rest[2:])
    if name == "":
        raise BadPath(path)
    return Target(group, version, resource, namespace, name, subresource)


# /api/v1/namespaces/NAME/status is the Namespace's status, not a resource "status" in NAME.
NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})

__all__ = ["BadPath", "NAMESPACE_SUBRESOURCES", "Target", "parse"]
