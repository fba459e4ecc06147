"""with_defaults: what a Kubernetes 1.32 API server stores for the pods and templates localsvc
serves, one test per rule, whole objects for the example's manifests, and its properties (a new
object, idempotent, equal templates for manifests that differ only in defaults). Services, the
other kinds and quantities: test_defaults_kinds.py; the official schema: test_defaults_schema.py.
"""

from __future__ import annotations

import copy

import pytest

from localsvc.model.defaults import with_defaults
from localsvc.model.defaults_pod import default_pull_policy, image_tag
from tests.unit.defaults_builders import (
    ALL_KINDS, BACKEND_DEPLOYMENT, BACKEND_DEPLOYMENT_STORED, BACKEND_SERVICE,
    BACKEND_SERVICE_STORED, CLIENT_POD, CLIENT_POD_STORED, Obj, container, defaulted_container,
    pod, volumes)


# --- whole objects --------------------------------------------------------------------------

def test_a_deployment_is_stored_as_a_cluster_stores_it() -> None:
    assert with_defaults(BACKEND_DEPLOYMENT) == BACKEND_DEPLOYMENT_STORED


def test_a_pod_is_stored_with_its_spec_defaults_and_admission_fields() -> None:
    assert with_defaults(CLIENT_POD) == CLIENT_POD_STORED


def test_a_service_is_stored_with_its_defaults_and_ip_families() -> None:
    assert with_defaults(BACKEND_SERVICE) == BACKEND_SERVICE_STORED


# --- properties -----------------------------------------------------------------------------

@pytest.mark.parametrize("obj", ALL_KINDS, ids=lambda o: str(o["kind"]))
def test_defaulting_twice_changes_nothing_more(obj: Obj) -> None:
    once = with_defaults(obj)
    assert with_defaults(once) == once


@pytest.mark.parametrize("obj", ALL_KINDS, ids=lambda o: str(o["kind"]))
def test_the_input_is_never_changed_nor_shared(obj: Obj) -> None:
    before = copy.deepcopy(obj)
    out = with_defaults(obj)
    assert obj == before
    out["metadata"]["name"] = "changed"
    out.setdefault("spec", {})["x"] = 1
    assert obj == before


def test_templates_of_manifests_differing_only_in_defaults_are_equal() -> None:
    explicit = copy.deepcopy(BACKEND_DEPLOYMENT_STORED)
    explicit["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["timeoutSeconds"] = 1
    assert with_defaults(explicit)["spec"]["template"] == \
        with_defaults(BACKEND_DEPLOYMENT)["spec"]["template"]
    changed = copy.deepcopy(BACKEND_DEPLOYMENT)
    changed["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["timeoutSeconds"] = 2
    assert with_defaults(changed)["spec"]["template"] != \
        with_defaults(BACKEND_DEPLOYMENT)["spec"]["template"]


def test_kinds_without_defaults_and_status_are_left_as_written() -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a"}}
    unknown = {"apiVersion": "example.com/v1", "kind": "Pod", "spec": {}}
    not_served = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "revision": 1}
    for obj in (config_map, account, unknown, not_served):
        assert with_defaults(obj) == obj
    running = pod({"containers": [container()]}) | {"status": {"phase": "Running"}}
    assert with_defaults(running)["status"] == {"phase": "Running"}


# --- containers -----------------------------------------------------------------------------

@pytest.mark.parametrize(("image", "tag", "policy"), [
    ("nginx", "latest", "Always"),
    ("nginx:latest", "latest", "Always"),
    ("nginx:1.27", "1.27", "IfNotPresent"),
    ("localhost:5000/team/app", "latest", "Always"),
    ("localhost:5000/team/app:v2", "v2", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "", "IfNotPresent"),
    ("nginx:latest@sha256:" + "a" * 64, "latest", "Always"),
    ("Registry/app", "latest", "Always"),  # an upper-case first part is a registry host
    ("Nginx", "", "IfNotPresent"),  # does not parse (repository names are lower-case): no tag
    ("team/Nginx:latest", "", "IfNotPresent"),
    ("", "", "IfNotPresent"),
])
def test_image_pull_policy_follows_the_tag(image: str, tag: str, policy: str) -> None:
    assert (image_tag(image), default_pull_policy(image)) == (tag, policy)


def test_an_explicit_pull_policy_is_kept() -> None:
    assert defaulted_container(image="app", imagePullPolicy="Never")["imagePullPolicy"] == \
        "Never"


def test_container_termination_message_and_resources() -> None:
    container = defaulted_container(terminationMessagePath="/tmp/x",
                                     resources={"limits": {"memory": "64Mi"}})
    assert (container["terminationMessagePath"], container["terminationMessagePolicy"]) == (
        "/tmp/x", "File")
    assert defaulted_container()["resources"] == {}


def test_ports_default_to_tcp_and_keep_udp() -> None:
    ports = defaulted_container(ports=[{"containerPort": 53, "protocol": "UDP"},
                                        {"containerPort": 80}])["ports"]
    assert [p["protocol"] for p in ports] == ["UDP", "TCP"]
    assert all("hostPort" not in p for p in ports)


def test_env_field_ref_gets_api_version_v1_and_other_sources_nothing() -> None:
    env = defaulted_container(env=[
        {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
        {"name": "C", "value": "x"}])["env"]
    assert env == [
        {"name": "A", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                 "fieldPath": "metadata.name"}}},
        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
        {"name": "C", "value": "x"}]


def test_probe_thresholds_and_zero_values_are_defaulted_as_go_does() -> None:
    container = defaulted_container(
        livenessProbe={"tcpSocket": {"port": 80}, "periodSeconds": 0, "failureThreshold": 5},
        startupProbe={"exec": {"command": ["true"]}})
    assert container["livenessProbe"] == {"tcpSocket": {"port": 80}, "timeoutSeconds": 1,
                                          "periodSeconds": 10, "successThreshold": 1,
                                          "failureThreshold": 5}
    assert container["startupProbe"]["timeoutSeconds"] == 1


def test_http_get_gets_path_and_scheme_grpc_gets_service() -> None:
    container = defaulted_container(
        livenessProbe={"httpGet": {"port": 80}},
        readinessProbe={"httpGet": {"port": 443, "scheme": "HTTPS", "path": "/ok"}},
        startupProbe={"grpc": {"port": 9000}},
        lifecycle={"preStop": {"httpGet": {"port": 80}}, "postStart": {"exec": {"command": []}}})
    assert container["livenessProbe"]["httpGet"] == {"port": 80, "path": "/", "scheme": "HTTP"}
    assert container["readinessProbe"]["httpGet"] == {"port": 443, "scheme": "HTTPS",
                                                      "path": "/ok"}
    assert container["startupProbe"]["grpc"] == {"port": 9000, "service": ""}
    assert container["lifecycle"] == {"preStop": {"httpGet": {"port": 80, "path": "/",
                                                              "scheme": "HTTP"}},
                                      "postStart": {"exec": {"command": []}}}


def test_init_and_ephemeral_containers_get_container_defaults() -> None:
    spec = with_defaults(pod({"initContainers": [container(name="i")],
                               "containers": [container()],
                               "ephemeralContainers": [container(name="e")]}))["spec"]
    for key in ("initContainers", "ephemeralContainers"):
        assert spec[key][0]["terminationMessagePolicy"] == "File"


# --- volumes --------------------------------------------------------------------------------

def test_config_map_and_secret_volumes_get_mode_0644_and_keep_an_explicit_one() -> None:
    assert volumes({"name": "a", "configMap": {"name": "c"}},
                    {"name": "b", "secret": {"secretName": "s"}},
                    {"name": "c", "secret": {"secretName": "s", "defaultMode": 0}}) == [
        {"name": "a", "configMap": {"name": "c", "defaultMode": 420}},
        {"name": "b", "secret": {"secretName": "s", "defaultMode": 420}},
        {"name": "c", "secret": {"secretName": "s", "defaultMode": 0}}]


def test_a_volume_without_a_source_is_an_empty_dir() -> None:
    assert volumes({"name": "a"}, {"name": "b", "emptyDir": {"medium": "Memory"}}) == [
        {"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {"medium": "Memory"}}]


def test_downward_projected_host_path_and_ephemeral_volumes() -> None:
    field = {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}
    defaulted_field = {"path": "name", "fieldRef": {"fieldPath": "metadata.name",
                                                    "apiVersion": "v1"}}
    assert volumes(
        {"name": "d", "downwardAPI": {"items": [field]}},
        {"name": "p", "projected": {"sources": [{"downwardAPI": {"items": [field]}},
                                                {"serviceAccountToken": {"path": "t"}}]}},
        {"name": "h", "hostPath": {"path": "/data"}},
        {"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}) == [
        {"name": "d", "downwardAPI": {"items": [defaulted_field], "defaultMode": 420}},
        {"name": "p", "projected": {"defaultMode": 420, "sources": [
            {"downwardAPI": {"items": [defaulted_field]}},
            {"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}}]}},
        {"name": "h", "hostPath": {"path": "/data", "type": ""}},
        {"name": "e", "ephemeral": {"volumeClaimTemplate": {"spec": {
            "volumeMode": "Filesystem"}}}}]


# --- pods (not templates) -------------------------------------------------------------------

def test_limits_without_requests_become_requests_on_pods() -> None:
    spec = with_defaults(pod({"containers": [
        container(resources={"limits": {"cpu": "1", "memory": "1Gi"},
                              "requests": {"cpu": "100m"}}),
        container(name="d", resources={"limits": {}}),
        container(name="e", resources={"limits": {"cpu": "1"}, "requests": "all"})]}))["spec"]
    assert spec["containers"][0]["resources"]["requests"] == {"cpu": "100m", "memory": "1Gi"}
    assert spec["containers"][1]["resources"] == {"limits": {}}
    assert spec["containers"][2]["resources"]["requests"] == "all"  # for validation to report


def test_host_network_pods_publish_container_ports_as_host_ports() -> None:
    spec = with_defaults(pod({"hostNetwork": True, "containers": [
        container(ports=[{"containerPort": 8080}, {"containerPort": 9090, "hostPort": 9090}])
    ]}))["spec"]
    assert [p["hostPort"] for p in spec["containers"][0]["ports"]] == [8080, 9090]


def test_service_account_priority_and_service_links_keep_explicit_values() -> None:
    spec = with_defaults(pod({"containers": [container()], "serviceAccount": "builder",
                               "enableServiceLinks": False,
                               "priorityClassName": "system-cluster-critical"}))["spec"]
    assert (spec["serviceAccountName"], spec["serviceAccount"], spec["enableServiceLinks"],
            spec["priority"], spec["preemptionPolicy"]) == (
        "builder", "builder", False, 2000000000, "PreemptLowerPriority")


def test_an_unknown_priority_class_gets_no_priority() -> None:
    spec = with_defaults(pod({"containers": [container()],
                               "priorityClassName": "batch-low"}))["spec"]
    assert "priority" not in spec and "preemptionPolicy" not in spec


def test_eviction_tolerations_are_added_only_when_not_already_tolerated() -> None:
    everything = {"operator": "Exists"}
    assert with_defaults(pod({"containers": [container()], "tolerations": [everything]}))[
        "spec"]["tolerations"] == [everything]
    not_ready = {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                 "effect": "NoExecute", "tolerationSeconds": 5}
    assert with_defaults(pod({"containers": [container()], "tolerations": [not_ready]}))[
        "spec"]["tolerations"] == [not_ready, {
            "key": "node.kubernetes.io/unreachable", "operator": "Exists",
            "effect": "NoExecute", "tolerationSeconds": 300}]


def test_templates_get_no_pod_only_fields() -> None:
    template = with_defaults(BACKEND_DEPLOYMENT)["spec"]["template"]["spec"]
    for pod_only in ("enableServiceLinks", "serviceAccountName", "serviceAccount", "priority",
                     "preemptionPolicy", "tolerations"):
        assert pod_only not in template


def test_a_templates_deprecated_service_account_is_mirrored() -> None:
    deployment = copy.deepcopy(BACKEND_DEPLOYMENT)
    deployment["spec"]["template"]["spec"]["serviceAccountName"] = "builder"
    template = with_defaults(deployment)["spec"]["template"]["spec"]
    assert (template["serviceAccountName"], template["serviceAccount"]) == ("builder", "builder")


def test_values_of_the_wrong_type_are_left_for_validation_to_report() -> None:
    for broken in ({"apiVersion": "apps/v1", "kind": "Deployment", "spec": "three replicas"},
                   {"apiVersion": "apps/v1", "kind": "Deployment",
                    "spec": {"template": [], "strategy": "fast", "replicas": 1,
                             "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}},
                   pod({"containers": "app", "volumes": [None, "v"], "tolerations": "all",
                         "enableServiceLinks": True, "serviceAccountName": "default",
                         "priority": 0, "preemptionPolicy": "PreemptLowerPriority"})):
        out = with_defaults(broken)
        if broken["kind"] == "Pod":  # only what defaulting adds besides the broken fields
            assert {k: v for k, v in out["spec"].items() if k in broken["spec"]} == \
                broken["spec"]
        else:
            assert out == broken
