"""The resources the environment's Kubernetes API serves: one registry, as a real API server
reports them in discovery (Kubernetes 1.32).

Everything the API needs to know about a kind lives here: its group, version, plural and
singular names, scope, verbs, short names, categories and subresources. Discovery, routing, the
RESTMapper-style lookups and the OpenAPI index read this one table, so adding a kind is one entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

# The verbs of a full-featured resource and of a status-style subresource, spelled (and sorted)
# as the API server reports them.
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
# Namespaces have no deletecollection (the namespace controller owns their deletion).
NO_COLLECTION_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")
READ_VERBS = ("get", "list", "watch")  # kinds only the node writes
# Connect subresources: the verbs the API server maps from their HTTP methods.
PROXY_VERBS = ("create", "delete", "get", "patch", "update")
STREAM_VERBS = ("create", "get")


@dataclass(frozen=True)
class Subresource:
    """One subresource entry of discovery (`pods/log`): its verbs and the kind it answers with."""

    name: str
    kind: str
    verbs: tuple[str, ...]
    # The answer's group and version when they differ from the parent's (deployments/scale
    # answers autoscaling/v1 Scale); None: the parent's.
    group: str | None = None
    version: str | None = None


def _status(kind: str) -> Subresource:
    return Subresource("status", kind, STATUS_VERBS)


SCALE = Subresource("scale", "Scale", STATUS_VERBS, group="autoscaling", version="v1")


@dataclass(frozen=True)
class Resource:
    """One served resource, as discovery reports it."""

    group: str  # "" for the core (legacy) group
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ALL_VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresource_details: tuple[Subresource, ...] = ()

    @property
    def group_version(self) -> str:
        """"v1" for the core group, "apps/v1" otherwise (the apiVersion of its objects)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def subresources(self) -> tuple[str, ...]:
        """The subresource names ("status", "scale", "log"...), in discovery's order."""
        return tuple(sub.name for sub in self.subresource_details)

    def subresource(self, name: str) -> Subresource | None:
        for sub in self.subresource_details:
            if sub.name == name:
                return sub
        return None

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


RESOURCES: tuple[Resource, ...] = (
    # core/v1, in the order the API server lists them in /api/v1.
    Resource("", "v1", "configmaps", "configmap", "ConfigMap", True, short_names=("cm",)),
    Resource("", "v1", "endpoints", "endpoints", "Endpoints", True, short_names=("ep",)),
    Resource("", "v1", "events", "event", "Event", True, short_names=("ev",)),
    Resource("", "v1", "namespaces", "namespace", "Namespace", False, NO_COLLECTION_VERBS,
             short_names=("ns",), subresource_details=(_status("Namespace"),)),
    Resource("", "v1", "nodes", "node", "Node", False, short_names=("no",),
             subresource_details=(_status("Node"),)),
    Resource("", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim",
             True, short_names=("pvc",), subresource_details=(_status("PersistentVolumeClaim"),)),
    # The node provisions every volume: PersistentVolumes are read-only here.
    Resource("", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", False,
             READ_VERBS, short_names=("pv",)),
    Resource("", "v1", "pods", "pod", "Pod", True, short_names=("po",), categories=("all",),
             subresource_details=(
                 Subresource("attach", "PodAttachOptions", STREAM_VERBS),
                 Subresource("exec", "PodExecOptions", STREAM_VERBS),
                 Subresource("log", "Pod", ("get",)),
                 Subresource("portforward", "PodPortForwardOptions", STREAM_VERBS),
                 Subresource("proxy", "PodProxyOptions", PROXY_VERBS),
                 _status("Pod"),
             )),
    Resource("", "v1", "secrets", "secret", "Secret", True),
    Resource("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True,
             short_names=("sa",)),
    Resource("", "v1", "services", "service", "Service", True, short_names=("svc",),
             categories=("all",), subresource_details=(
                 Subresource("proxy", "ServiceProxyOptions", PROXY_VERBS),
                 _status("Service"),
             )),
    Resource("apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision", True),
    Resource("apps", "v1", "daemonsets", "daemonset", "DaemonSet", True,
             short_names=("ds",), categories=("all",),
             subresource_details=(_status("DaemonSet"),)),
    Resource("apps", "v1", "deployments", "deployment", "Deployment", True,
             short_names=("deploy",), categories=("all",),
             subresource_details=(SCALE, _status("Deployment"))),
    Resource("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True,
             short_names=("rs",), categories=("all",),
             subresource_details=(SCALE, _status("ReplicaSet"))),
    Resource("apps", "v1", "statefulsets", "statefulset", "StatefulSet", True,
             short_names=("sts",), categories=("all",),
             subresource_details=(SCALE, _status("StatefulSet"))),
    Resource("batch", "v1", "cronjobs", "cronjob", "CronJob", True, short_names=("cj",),
             categories=("all",), subresource_details=(_status("CronJob"),)),
    Resource("batch", "v1", "jobs", "job", "Job", True, categories=("all",),
             subresource_details=(_status("Job"),)),
    Resource("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", True),
    Resource("events.k8s.io", "v1", "events", "event", "Event", True, short_names=("ev",)),
    # The node's own default class only (model/claims.py): read-only.
    Resource("storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", False,
             READ_VERBS, short_names=("sc",)),
    Resource("networking.k8s.io", "v1", "ingressclasses", "ingressclass", "IngressClass", False),
    Resource("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", True,
             short_names=("ing",), subresource_details=(_status("Ingress"),)),
)

# The groups in the order the API server lists them (its group priorities): a short name or
# plural two groups share ("events", "ev") resolves to the first, as kubectl does.
GROUP_ORDER: tuple[str, ...] = ("", "apps", "events.k8s.io", "batch", "networking.k8s.io",
                                 "storage.k8s.io", "discovery.k8s.io")


def groups() -> tuple[str, ...]:
    """The served groups, in discovery's order ("" is the core group)."""
    served = {resource.group for resource in RESOURCES}
    return tuple(group for group in GROUP_ORDER if group in served)


def versions(group: str) -> tuple[str, ...]:
    """The served versions of a group, preferred first."""
    seen: list[str] = []
    for resource in RESOURCES:
        if resource.group == group and resource.version not in seen:
            seen.append(resource.version)
    return tuple(seen)


def preferred_version(group: str) -> str:
    return versions(group)[0]


def resources_of(group: str, version: str) -> tuple[Resource, ...]:
    return tuple(r for r in RESOURCES if r.group == group and r.version == version)


@cache
def _by_path() -> dict[tuple[str, str, str], Resource]:
    return {(r.group, r.version, r.plural): r for r in RESOURCES}


@cache
def _by_kind() -> dict[tuple[str, str], Resource]:
    return {(r.api_version, r.kind): r for r in RESOURCES}


def by_path(group: str, version: str, plural: str) -> Resource | None:
    """The resource of a URL (/api/v1/pods: "", "v1", "pods"; /apis/apps/v1/deployments)."""
    return _by_path().get((group, version, plural))


def by_kind(api_version: str, kind: str) -> Resource | None:
    """The resource of an object's apiVersion and kind ("apps/v1", "Deployment")."""
    return _by_kind().get((api_version, kind))


def resource_named(text: str) -> Resource | None:
    """The resource a name means on kubectl's command line: its plural, singular, a short name
    or its kind, in any case; the first group in GROUP_ORDER wins ("events" is core v1)."""
    lowered = text.lower()
    for group in groups():
        for resource in resources_of(group, preferred_version(group)):
            if lowered in (resource.plural, resource.singular, resource.kind.lower(),
                           *resource.short_names):
                return resource
    return None


def by_kind_name(kind: str) -> Resource | None:
    """The resource of a kind alone, in its preferred group and version: localsvc's own objects
    carry no apiVersion choice ("Event" is core v1, the first group that has it)."""
    for group in groups():
        for resource in resources_of(group, preferred_version(group)):
            if resource.kind == kind:
                return resource
    return None
