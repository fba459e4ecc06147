"""The registry of served resources: names, scope, verbs, short names, categories and subresources
as a Kubernetes 1.32 API server reports them, and the lookups by path and by kind."""

from __future__ import annotations

import pytest

from localsvc.model.kubeapi import resources
from localsvc.model.kubeapi.resources import (
    ALL_VERBS,
    RESOURCES,
    by_kind,
    by_kind_name,
    by_path,
    groups,
    preferred_version,
    resources_of,
)

SERVED = {
    ("", "v1", "namespaces"), ("", "v1", "nodes"), ("", "v1", "pods"), ("", "v1", "services"),
    ("", "v1", "endpoints"), ("", "v1", "configmaps"), ("", "v1", "secrets"),
    ("", "v1", "serviceaccounts"), ("", "v1", "events"),
    ("discovery.k8s.io", "v1", "endpointslices"),
    ("apps", "v1", "deployments"), ("apps", "v1", "replicasets"),
    ("events.k8s.io", "v1", "events"),
    # Issue 14's storage: claims, the volumes the node binds them to, its StorageClass.
    ("", "v1", "persistentvolumeclaims"), ("", "v1", "persistentvolumes"),
    ("storage.k8s.io", "v1", "storageclasses"),
    ("networking.k8s.io", "v1", "ingresses"), ("networking.k8s.io", "v1", "ingressclasses"),
    # issue 14: StatefulSets and their ControllerRevisions.
    ("apps", "v1", "statefulsets"), ("apps", "v1", "controllerrevisions"),
    ("apps", "v1", "daemonsets"), ("batch", "v1", "jobs"), ("batch", "v1", "cronjobs"),
}
READ_ONLY = {"persistentvolumes", "storageclasses"}  # only the node writes them


def test_exactly_the_kinds_of_issue_12_are_served() -> None:
    assert {(r.group, r.version, r.plural) for r in RESOURCES} == SERVED


def test_each_resource_is_listed_once_by_path_and_by_kind() -> None:
    assert len({(r.group, r.version, r.plural) for r in RESOURCES}) == len(RESOURCES)
    assert len({(r.api_version, r.kind) for r in RESOURCES}) == len(RESOURCES)


@pytest.mark.parametrize(("plural", "short"), [
    ("pods", ("po",)), ("services", ("svc",)), ("endpoints", ("ep",)), ("configmaps", ("cm",)),
    ("namespaces", ("ns",)), ("nodes", ("no",)), ("serviceaccounts", ("sa",)),
    ("events", ("ev",)), ("secrets", ()), ("persistentvolumeclaims", ("pvc",)),
    ("persistentvolumes", ("pv",)),
])
def test_core_short_names(plural: str, short: tuple[str, ...]) -> None:
    resource = by_path("", "v1", plural)
    assert resource is not None and resource.short_names == short


def short_names(api_version: str, kind: str) -> tuple[str, ...]:
    resource = by_kind(api_version, kind)
    assert resource is not None, kind
    return resource.short_names


def test_named_group_short_names() -> None:
    assert short_names("apps/v1", "Deployment") == ("deploy",)
    assert short_names("apps/v1", "ReplicaSet") == ("rs",)
    assert short_names("apps/v1", "StatefulSet") == ("sts",)
    assert short_names("apps/v1", "ControllerRevision") == ()
    assert short_names("v1", "PersistentVolumeClaim") == ("pvc",)
    assert short_names("events.k8s.io/v1", "Event") == ("ev",)
    assert short_names("discovery.k8s.io/v1", "EndpointSlice") == ()
    assert short_names("storage.k8s.io/v1", "StorageClass") == ("sc",)


def test_category_all_holds_the_workloads_and_services_only() -> None:
    in_all = {r.plural for r in RESOURCES if "all" in r.categories}
    assert in_all == {"pods", "services", "deployments", "replicasets", "statefulsets",
                      "daemonsets", "jobs", "cronjobs"}
    assert all(r.categories in ((), ("all",)) for r in RESOURCES)


def test_verbs_every_resource_but_namespaces_has_all_eight() -> None:
    for resource in RESOURCES:
        if resource.plural == "namespaces":
            assert resource.verbs == ("create", "delete", "get", "list", "patch", "update",
                                      "watch")
        elif resource.plural in READ_ONLY:
            assert resource.verbs == ("get", "list", "watch")
        else:
            assert resource.verbs == ALL_VERBS, resource.plural


@pytest.mark.parametrize(("api_version", "kind", "subresources"), [
    ("v1", "Pod", ("attach", "exec", "log", "portforward", "proxy", "status")),
    ("v1", "Service", ("proxy", "status")),
    ("v1", "Node", ("status",)),
    ("v1", "Namespace", ("status",)),
    ("apps/v1", "Deployment", ("scale", "status")),
    ("apps/v1", "ReplicaSet", ("scale", "status")),
    ("v1", "ConfigMap", ()),
    ("discovery.k8s.io/v1", "EndpointSlice", ()),
])
def test_subresources(api_version: str, kind: str, subresources: tuple[str, ...]) -> None:
    resource = by_kind(api_version, kind)
    assert resource is not None and resource.subresources == subresources


def test_subresource_verbs_and_kinds() -> None:
    pods = by_path("", "v1", "pods")
    assert pods is not None
    assert pods.subresource("log") == resources.Subresource("log", "Pod", ("get",))
    exec_ = pods.subresource("exec")
    assert exec_ is not None and (exec_.kind, exec_.verbs) == ("PodExecOptions", ("create", "get"))
    proxy = pods.subresource("proxy")
    assert proxy is not None and proxy.verbs == ("create", "delete", "get", "patch", "update")
    assert pods.subresource("binding") is None
    deployments = by_path("apps", "v1", "deployments")
    assert deployments is not None
    scale = deployments.subresource("scale")
    assert scale is not None
    assert (scale.group, scale.version, scale.kind) == ("autoscaling", "v1", "Scale")
    status = deployments.subresource("status")
    assert status is not None and (status.group, status.kind) == (None, "Deployment")


def test_group_version_and_api_version() -> None:
    pods, deployments = by_path("", "v1", "pods"), by_path("apps", "v1", "deployments")
    assert pods is not None and deployments is not None
    assert (pods.group_version, pods.api_version) == ("v1", "v1")
    assert (deployments.group_version, deployments.api_version) == ("apps/v1", "apps/v1")
    assert deployments.list_kind == "DeploymentList"


def test_scope() -> None:
    cluster = {r.plural for r in RESOURCES if not r.namespaced}
    assert cluster == {"namespaces", "nodes", "persistentvolumes", "storageclasses",
                       "ingressclasses"}


def test_lookups_miss_cleanly() -> None:
    assert by_path("", "v1", "statefulsets") is None
    assert by_path("apps", "v2", "deployments") is None
    assert by_kind("v1", "Deployment") is None  # the kind exists, not in that group
    assert by_kind("autoscaling/v2", "HorizontalPodAutoscaler") is None
    assert by_kind_name("PodDisruptionBudget") is None


def test_by_kind_name_prefers_the_first_group() -> None:
    event = by_kind_name("Event")
    assert event is not None and event.api_version == "v1"  # core, not events.k8s.io
    deployment = by_kind_name("Deployment")
    assert deployment is not None and deployment.api_version == "apps/v1"
    assert by_kind_name("EndpointSlice") == by_path("discovery.k8s.io", "v1", "endpointslices")


def test_groups_in_priority_order_and_preferred_versions() -> None:
    assert groups() == ("", "apps", "events.k8s.io", "batch", "networking.k8s.io",
                        "storage.k8s.io", "discovery.k8s.io")
    assert all(preferred_version(group) == "v1" for group in groups())
    assert [r.plural for r in resources_of("apps", "v1")] == [
        "controllerrevisions", "daemonsets", "deployments", "replicasets", "statefulsets"]
    assert resources_of("apps", "v2") == ()


def test_every_served_group_has_a_priority() -> None:
    assert {r.group for r in RESOURCES} <= set(resources.GROUP_ORDER)
