"""The discovery documents (legacy and aggregated), /version, and the Accept negotiation that picks
between them."""

from __future__ import annotations

from typing import Any

import pytest

from localsvc.model.kubeapi import discovery
from localsvc.model.kubeapi.resources import RESOURCES, Resource
from localsvc.version import __version__

# What kubectl 1.32 sends to /api and /apis (client-go's discovery client).
KUBECTL_ACCEPT = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
                  "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
                  "application/json")
V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def test_api_versions_names_the_core_version_and_the_server_address() -> None:
    assert discovery.api_versions("172.18.0.2:6443") == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                        "serverAddress": "172.18.0.2:6443"}],
    }


def test_api_group_list_has_every_named_group_with_its_preferred_version() -> None:
    document = discovery.api_group_list()
    assert (document["kind"], document["apiVersion"]) == ("APIGroupList", "v1")
    assert [g["name"] for g in document["groups"]] == ["apps", "events.k8s.io", "batch",
                                                       "networking.k8s.io", "storage.k8s.io",
                                                       "discovery.k8s.io"]
    apps = document["groups"][0]
    assert apps["versions"] == [{"groupVersion": "apps/v1", "version": "v1"}]
    assert apps["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}


def test_api_group_of_one_group() -> None:
    assert discovery.api_group("apps") == discovery.api_group_list()["groups"][0]
    assert discovery.api_group("policy") is None
    assert discovery.api_group("") is None  # the core group is /api, not /apis/


def _entries(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in document["resources"]}


def test_api_resource_list_of_the_core_group() -> None:
    document = discovery.api_resource_list("", "v1")
    assert document is not None
    assert document["kind"] == "APIResourceList" and document["groupVersion"] == "v1"
    assert "apiVersion" not in document  # as the API server answers /api/v1
    entries = _entries(document)
    assert entries["pods"] == {
        "name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                  "watch"],
        "shortNames": ["po"], "categories": ["all"],
    }
    assert entries["pods/exec"] == {"name": "pods/exec", "singularName": "", "namespaced": True,
                                    "kind": "PodExecOptions", "verbs": ["create", "get"]}
    assert entries["namespaces"]["namespaced"] is False
    assert "categories" not in entries["secrets"] and "shortNames" not in entries["secrets"]


def test_api_resource_list_lists_every_resource_and_subresource() -> None:
    for resource in RESOURCES:
        document = discovery.api_resource_list(resource.group, resource.version)
        assert document is not None
        entries = _entries(document)
        entry = entries[resource.plural]
        assert (entry["kind"], entry["namespaced"], entry["singularName"]) == (
            resource.kind, resource.namespaced, resource.singular)
        assert entry["verbs"] == list(resource.verbs)
        assert entry.get("shortNames", []) == list(resource.short_names)
        for sub in resource.subresource_details:
            assert entries[f"{resource.plural}/{sub.name}"]["verbs"] == list(sub.verbs)


def test_scale_subresource_names_its_own_group() -> None:
    document = discovery.api_resource_list("apps", "v1")
    assert document is not None and document["apiVersion"] == "v1"
    assert _entries(document)["deployments/scale"] == {
        "name": "deployments/scale", "singularName": "", "namespaced": True,
        "group": "autoscaling", "version": "v1", "kind": "Scale",
        "verbs": ["get", "patch", "update"],
    }


def test_api_resource_list_of_an_unserved_group_version() -> None:
    assert discovery.api_resource_list("apps", "v1beta1") is None
    assert discovery.api_resource_list("policy", "v1") is None


def _aggregated_resources(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for item in document["items"]:
        for version in item["versions"]:
            for resource in version["resources"]:
                found[(item["metadata"].get("name", ""), resource["resource"])] = resource
    return found


def test_aggregated_discovery_of_api_has_the_core_group_only() -> None:
    document = discovery.aggregated_discovery(legacy=True)
    assert (document["kind"], document["apiVersion"]) == ("APIGroupDiscoveryList",
                                                          "apidiscovery.k8s.io/v2")
    assert len(document["items"]) == 1
    core = document["items"][0]
    assert "name" not in core["metadata"]
    assert [v["version"] for v in core["versions"]] == ["v1"]
    assert core["versions"][0]["freshness"] == "Current"


def test_aggregated_discovery_of_apis_has_every_named_group() -> None:
    document = discovery.aggregated_discovery(legacy=False)
    assert [item["metadata"]["name"] for item in document["items"]] == [
        "apps", "events.k8s.io", "batch", "networking.k8s.io", "storage.k8s.io",
        "discovery.k8s.io"]


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: f"{r.group_version}/{r.plural}")
def test_aggregated_entry_of_each_resource(resource: Resource) -> None:
    document = discovery.aggregated_discovery(legacy=resource.group == "")
    entry = _aggregated_resources(document)[(resource.group, resource.plural)]
    # As the API server: group and version left empty, meaning the containing group-version.
    assert entry["responseKind"] == {"group": "", "version": "", "kind": resource.kind}
    assert entry["scope"] == ("Namespaced" if resource.namespaced else "Cluster")
    assert entry["singularResource"] == resource.singular
    assert entry["verbs"] == list(resource.verbs)
    assert entry.get("shortNames", []) == list(resource.short_names)
    assert entry.get("categories", []) == list(resource.categories)
    assert [s["subresource"] for s in entry.get("subresources", [])] == list(
        resource.subresources)


def test_aggregated_subresources_carry_their_response_kind() -> None:
    entry = _aggregated_resources(discovery.aggregated_discovery(legacy=False))[
        ("apps", "deployments")]
    assert entry["subresources"] == [
        {"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1",
                                                  "kind": "Scale"},
         "verbs": ["get", "patch", "update"]},
        {"subresource": "status", "responseKind": {"group": "", "version": "",
                                                   "kind": "Deployment"},
         "verbs": ["get", "patch", "update"]},
    ]


def test_aggregated_discovery_v2beta1_has_the_same_shape() -> None:
    v2 = discovery.aggregated_discovery(legacy=False, version="v2")
    beta = discovery.aggregated_discovery(legacy=False, version="v2beta1")
    assert beta["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
    assert beta["items"] == v2["items"]
    with pytest.raises(ValueError, match="v1"):
        discovery.aggregated_discovery(legacy=False, version="v1")


# --- Accept negotiation ------------------------------------------------------------------------


def test_kubectl_gets_aggregated_v2_with_the_exact_content_type() -> None:
    answer = discovery.negotiate(KUBECTL_ACCEPT)
    assert answer == discovery.DiscoveryAnswer(True, "v2", V2)


def test_a_client_of_v2beta1_only_gets_v2beta1() -> None:
    answer = discovery.negotiate(
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
        "application/json")
    assert answer is not None and answer.aggregated and answer.version == "v2beta1"
    assert answer.content_type == (
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList")


@pytest.mark.parametrize("accept", [None, "", "application/json", "*/*",
                                    "application/json, */*", "application/*"])
def test_plain_json_clients_get_the_legacy_document(accept: str | None) -> None:
    assert discovery.negotiate(accept) == discovery.LEGACY_ANSWER
    assert discovery.LEGACY_ANSWER.content_type == "application/json"


def test_the_clients_order_decides_between_acceptable_ranges() -> None:
    legacy_first = "application/json," + V2
    assert discovery.negotiate(legacy_first) == discovery.LEGACY_ANSWER


def test_quality_outranks_order() -> None:
    answer = discovery.negotiate("application/json;q=0.5," + V2)
    assert answer is not None and answer.aggregated
    refused = discovery.negotiate(V2 + ";q=0,application/json")
    assert refused == discovery.LEGACY_ANSWER


def test_parameters_are_read_with_spaces_and_any_case_of_names() -> None:
    answer = discovery.negotiate(
        "application/json; G=apidiscovery.k8s.io; V=v2; AS=APIGroupDiscoveryList")
    assert answer is not None and answer.version == "v2"


def test_unknown_aggregated_versions_and_protobuf_only_are_not_acceptable() -> None:
    assert discovery.negotiate(
        "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList") is None
    assert discovery.negotiate(
        "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;"
        "as=APIGroupDiscoveryList") is None
    assert discovery.negotiate("text/html") is None
    assert discovery.negotiate("garbage,;;") is None


def test_parse_accept_skips_malformed_ranges() -> None:
    ranges = discovery.parse_accept("text/plain;q=abc, nonsense ,application/json;q=0.8")
    assert [(r.media_type, r.quality) for r in ranges] == [("text/plain", 0.0),
                                                           ("application/json", 0.8)]


# --- /version ----------------------------------------------------------------------------------


def test_version_document() -> None:
    info = discovery.version_info(arch="arm64")
    assert (info["major"], info["minor"]) == ("1", "32")
    assert info["gitVersion"] == f"v1.32.0+localsvc.{__version__}"
    assert info["platform"] == "linux/arm64"
    assert set(info) == {"major", "minor", "gitVersion", "gitCommit", "gitTreeState",
                         "buildDate", "goVersion", "compiler", "platform"}


def test_version_defaults_to_this_machines_architecture() -> None:
    assert discovery.version_info()["platform"].startswith("linux/")


@pytest.mark.parametrize(("machine", "arch"), [("x86_64", "amd64"), ("aarch64", "arm64"),
                                               ("AMD64", "amd64"), ("riscv64", "riscv64")])
def test_go_arch(machine: str, arch: str) -> None:
    assert discovery.go_arch(machine) == arch
