"""The discovery documents of the API, as a Kubernetes 1.32 API server answers them.

Clients learn what the server serves from these: /version, the legacy documents (/api, /apis,
/api/v1, /apis/G/V) and the aggregated ones (one APIGroupDiscoveryList for /api and one for /apis),
which kubectl 1.32 asks for first and caches. Which of the two a request gets depends on its Accept
header (`negotiate`): the aggregated answer must carry the exact Content-Type kubectl asked for, or
kubectl falls back to the legacy documents, one request per group-version.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any

from localsvc.model.kubeapi.resources import (
    Resource,
    groups,
    preferred_version,
    resources_of,
    versions,
)
from localsvc.version import __version__

KUBERNETES_VERSION = "1.32.0"  # the API version served (the schemas of scripts/kubeschemas.py)

DISCOVERY_GROUP = "apidiscovery.k8s.io"
AGGREGATED_VERSIONS = ("v2", "v2beta1")  # newest first: the one chosen when a client takes both
AGGREGATED_KIND = "APIGroupDiscoveryList"
JSON = "application/json"


def version_info(arch: str | None = None) -> dict[str, str]:
    """The /version document. gitVersion carries localsvc's version as semver build metadata
    (`v1.32.0+localsvc.0.1.0`, as k3s does with `+k3s1`): a pre-release suffix (`-localsvc`) would
    sort before v1.32.0 and fail charts' `kubeVersion: ">=1.32.0"` constraints."""
    major, minor, _patch = KUBERNETES_VERSION.split(".")
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{KUBERNETES_VERSION}+localsvc.{__version__}",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "localsvc",
        "platform": f"linux/{arch or go_arch(platform.machine())}",
    }


def go_arch(machine: str) -> str:
    """Go's name for a CPU architecture (what Kubernetes reports), from Python's."""
    names = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
             "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}
    return names.get(machine.lower(), machine.lower())


# --- legacy discovery --------------------------------------------------------------------------


def api_versions(server_address: str) -> dict[str, Any]:
    """/api: the core group's versions. `server_address` ("172.18.0.2:6443") is where clients
    reach the server; every client CIDR gets it."""
    return {
        "kind": "APIVersions",
        "versions": list(versions("")),
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_version_entry(group: str, version: str) -> dict[str, str]:
    return {"groupVersion": f"{group}/{version}", "version": version}


def api_group(group: str) -> dict[str, Any] | None:
    """/apis/G: one named group, or None when it is not served."""
    if not group or group not in groups():
        return None
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": [_group_version_entry(group, v) for v in versions(group)],
        "preferredVersion": _group_version_entry(group, preferred_version(group)),
    }


def api_group_list() -> dict[str, Any]:
    """/apis: every named group (the core group is under /api)."""
    named = [api_group(group) for group in groups() if group]
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [entry for entry in named if entry is not None]}


def _names_and_categories(resource: Resource) -> dict[str, list[str]]:
    """shortNames and categories, each only when the resource has some (as the API server
    omits them), in the same place of the legacy and the aggregated documents."""
    out: dict[str, list[str]] = {}
    if resource.short_names:
        out["shortNames"] = list(resource.short_names)
    if resource.categories:
        out["categories"] = list(resource.categories)
    return out


def _legacy_entries(resource: Resource) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced,
        "kind": resource.kind,
        "verbs": list(resource.verbs),
        **_names_and_categories(resource),
    }
    entries = [entry]
    for sub in resource.subresource_details:
        sub_entry: dict[str, Any] = {
            "name": f"{resource.plural}/{sub.name}",
            "singularName": "",
            "namespaced": resource.namespaced,
        }
        if sub.group is not None:
            sub_entry["group"] = sub.group
        if sub.version is not None:
            sub_entry["version"] = sub.version
        sub_entry["kind"] = sub.kind
        sub_entry["verbs"] = list(sub.verbs)
        entries.append(sub_entry)
    return entries


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """/api/v1 or /apis/G/V: every resource and subresource of one group-version, or None when
    that group-version is not served."""
    served = resources_of(group, version)
    if not served:
        return None
    document: dict[str, Any] = {"kind": "APIResourceList"}
    if group:  # as the API server: the core group's list carries no apiVersion
        document["apiVersion"] = "v1"
    document["groupVersion"] = f"{group}/{version}" if group else version
    document["resources"] = [entry for r in served for entry in _legacy_entries(r)]
    return document


# --- aggregated discovery ----------------------------------------------------------------------


def _response_kind(group: str | None, version: str | None, kind: str) -> dict[str, str]:
    """A responseKind as the API server writes it: its group and version are empty unless they
    differ from the list's (deployments/scale: autoscaling/v1), as in the legacy APIResource it is
    converted from; clients read empty as "the containing group-version"."""
    return {"group": group or "", "version": version or "", "kind": kind}


def _aggregated_resource(resource: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": resource.plural,
        "responseKind": _response_kind(None, None, resource.kind),
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "singularResource": resource.singular,
        "verbs": list(resource.verbs),
        **_names_and_categories(resource),
    }
    if resource.subresource_details:
        entry["subresources"] = [
            {
                "subresource": sub.name,
                "responseKind": _response_kind(sub.group, sub.version, sub.kind),
                "verbs": list(sub.verbs),
            }
            for sub in resource.subresource_details
        ]
    return entry


def _aggregated_group(group: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"creationTimestamp": None}
    if group:
        metadata["name"] = group
    return {
        "metadata": metadata,
        "versions": [
            {
                "version": version,
                "resources": [_aggregated_resource(r) for r in resources_of(group, version)],
                "freshness": "Current",
            }
            for version in versions(group)
        ],
    }


def aggregated_discovery(legacy: bool, version: str = "v2") -> dict[str, Any]:
    """The APIGroupDiscoveryList of /api (`legacy`: the core group) or of /apis (every named
    group), in apidiscovery.k8s.io `version` (v2 or v2beta1: the same shape)."""
    if version not in AGGREGATED_VERSIONS:
        raise ValueError(f"aggregated discovery has no version {version!r}")
    chosen = [group for group in groups() if (group == "") == legacy]
    return {
        "kind": AGGREGATED_KIND,
        "apiVersion": f"{DISCOVERY_GROUP}/{version}",
        "metadata": {},
        "items": [_aggregated_group(group) for group in chosen],
    }


# --- content negotiation -----------------------------------------------------------------------


@dataclass(frozen=True)
class DiscoveryAnswer:
    """Which representation of /api or /apis to send, and its Content-Type."""

    aggregated: bool
    version: str | None  # the apidiscovery.k8s.io version when aggregated
    content_type: str


LEGACY_ANSWER = DiscoveryAnswer(False, None, JSON)


def aggregated_content_type(version: str) -> str:
    return f"{JSON};g={DISCOVERY_GROUP};v={version};as={AGGREGATED_KIND}"


@dataclass(frozen=True)
class MediaRange:
    """One entry of an Accept header: `type/subtype;param=value;q=0.5`."""

    media_type: str
    params: dict[str, str]
    quality: float


def parse_accept(header: str) -> list[MediaRange]:
    """The media ranges of an Accept header, in the client's order (malformed ones skipped)."""
    ranges: list[MediaRange] = []
    for part in header.split(","):
        pieces = [piece.strip() for piece in part.split(";")]
        media_type = pieces[0].lower()
        if "/" not in media_type:
            continue
        params: dict[str, str] = {}
        quality = 1.0
        for piece in pieces[1:]:
            key, sep, value = piece.partition("=")
            if not sep:
                continue
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
            else:
                params[key] = value
        ranges.append(MediaRange(media_type, params, quality))
    return ranges


def _accepts_json(media_type: str) -> bool:
    return media_type in (JSON, "application/*", "*/*")


def negotiate(accept: str | None) -> DiscoveryAnswer | None:
    """Which representation of /api or /apis answers a request with this Accept header: the
    aggregated list when the client names it (g=apidiscovery.k8s.io, as=APIGroupDiscoveryList,
    a version we serve), else the legacy document when it takes plain JSON; None when it takes
    neither (406 Not Acceptable). The client's order decides between acceptable ranges, then q,
    as the API server does (protobuf ranges are skipped: only JSON is served)."""
    if not accept or not accept.strip():
        return LEGACY_ANSWER
    candidates: list[tuple[float, int, DiscoveryAnswer]] = []
    for position, media in enumerate(parse_accept(accept)):
        if media.quality <= 0 or not _accepts_json(media.media_type):
            continue
        group, kind, version = media.params.get("g"), media.params.get("as"), media.params.get("v")
        if group is None and kind is None and version is None:
            candidates.append((media.quality, position, LEGACY_ANSWER))
        elif (group == DISCOVERY_GROUP and kind == AGGREGATED_KIND
              and version in AGGREGATED_VERSIONS and media.media_type == JSON):
            answer = DiscoveryAnswer(True, version, aggregated_content_type(version))
            candidates.append((media.quality, position, answer))
    if not candidates:
        return None
    candidates.sort(key=lambda c: (-c[0], c[1]))
    return candidates[0][2]
