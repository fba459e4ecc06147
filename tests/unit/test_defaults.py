"""with_defaults: what a Kubernetes 1.32 API server stores for each kind localsvc serves, one
test per rule, whole objects for the common manifests, and its properties (a new object,
idempotent, equal templates for manifests that differ only in defaults)."""

from __future__ import annotations

import copy
import gzip
import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import localsvc.model
from localsvc.model.defaults import with_defaults
from localsvc.model.load import Manifest, load_paths
from localsvc.model.validate import validate
from localsvc.model.defaults_pod import canonical_quantity, default_pull_policy, image_tag

Obj = dict[str, Any]

BACKEND_DEPLOYMENT: Obj = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "backend", "labels": {"app": "backend"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "backend"}},
        "template": {
            "metadata": {"labels": {"app": "backend"}},
            "spec": {"containers": [{
                "name": "backend", "image": "localsvc-examples/demo:1",
                "args": ["serve", "--port", "80"],
                "env": [{"name": "POD_NAME",
                         "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "ports": [{"name": "http", "containerPort": 80}],
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                                   "periodSeconds": 2},
            }]},
        },
    },
}

# What `kubectl get deploy backend -o json` shows of it on a 1.32 cluster (less status and the
# metadata the server adds, and the template's creationTimestamp: null serialization artefact).
BACKEND_DEPLOYMENT_STORED: Obj = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "backend", "labels": {"app": "backend"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "backend"}},
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
        "template": {
            "metadata": {"labels": {"app": "backend"}},
            "spec": {
                "containers": [{
                    "name": "backend", "image": "localsvc-examples/demo:1",
                    "args": ["serve", "--port", "80"],
                    "env": [{"name": "POD_NAME", "valueFrom": {
                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                    "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                    "readinessProbe": {
                        "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                        "timeoutSeconds": 1, "periodSeconds": 2, "successThreshold": 1,
                        "failureThreshold": 3},
                    "resources": {},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent",
                }],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "securityContext": {},
                "schedulerName": "default-scheduler",
            },
        },
    },
}

CLIENT_POD: Obj = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
    "spec": {"containers": [{"name": "client", "image": "busybox"}]},
}

CLIENT_POD_STORED: Obj = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
    "spec": {
        "containers": [{
            "name": "client", "image": "busybox", "imagePullPolicy": "Always",
            "resources": {}, "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File"}],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "serviceAccount": "default",
        "serviceAccountName": "default",
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
             "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable",
             "operator": "Exists", "tolerationSeconds": 300}],
    },
}

BACKEND_SERVICE: Obj = {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "backend-service"},
    "spec": {"selector": {"app": "backend"}, "ports": [{"port": 80}]},
}

BACKEND_SERVICE_STORED: Obj = {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "backend-service"},
    "spec": {
        "selector": {"app": "backend"},
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
        "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
        "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"],
    },
}


def _pod(spec: Obj) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}


def _container(**fields: Any) -> Obj:
    return {"name": "c", "image": "app:1", **fields}


def _defaulted_container(**fields: Any) -> Obj:
    container: Obj = with_defaults(_pod({"containers": [_container(**fields)]}))["spec"][
        "containers"][0]
    return container


def _service(**spec: Any) -> Obj:
    out: Obj = with_defaults({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                              "spec": spec})["spec"]
    return out


# --- whole objects --------------------------------------------------------------------------

def test_a_deployment_is_stored_as_a_cluster_stores_it() -> None:
    assert with_defaults(BACKEND_DEPLOYMENT) == BACKEND_DEPLOYMENT_STORED


def test_a_pod_is_stored_with_its_spec_defaults_and_admission_fields() -> None:
    assert with_defaults(CLIENT_POD) == CLIENT_POD_STORED


def test_a_service_is_stored_with_its_defaults_and_ip_families() -> None:
    assert with_defaults(BACKEND_SERVICE) == BACKEND_SERVICE_STORED


# --- properties -----------------------------------------------------------------------------

ENDPOINTS: Obj = {
    "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "e"},
    "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}
ENDPOINT_SLICE: Obj = {
    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "e"},
    "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"port": 80}]}
SECRET: Obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}

ALL_KINDS: list[Obj] = [
    BACKEND_DEPLOYMENT, CLIENT_POD, BACKEND_SERVICE,
    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "r"},
     "spec": {"template": {"spec": {"containers": [_container()]}}}},
    {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "s"},
     "spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {}}],
              "template": {"spec": {"containers": [_container()]}}}},
    ENDPOINTS, ENDPOINT_SLICE, SECRET,
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "h"},
     "spec": {"clusterIP": "None", "sessionAffinity": "ClientIP"}},
    {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
     "spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": []}}}},
    {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}, "spec": {}},
    {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "v"},
     "spec": {"capacity": {"storage": "0.5Gi"}, "hostPath": {"path": "/d"}}},
    _pod({"hostNetwork": True, "volumes": [{"name": "v"}, {"name": "p", "projected": {
        "sources": [{"serviceAccountToken": {"path": "token"}}]}}],
        "containers": [_container(ports=[{"containerPort": 8080}],
                                  resources={"limits": {"cpu": "1"}},
                                  livenessProbe={"grpc": {"port": 9000}})]}),
]


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
    not_served = {"apiVersion": "apps/v1", "kind": "DaemonSet", "spec": {}}
    for obj in (config_map, account, unknown, not_served):
        assert with_defaults(obj) == obj
    pod = _pod({"containers": [_container()]}) | {"status": {"phase": "Running"}}
    assert with_defaults(pod)["status"] == {"phase": "Running"}


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
    assert _defaulted_container(image="app", imagePullPolicy="Never")["imagePullPolicy"] == \
        "Never"


def test_container_termination_message_and_resources() -> None:
    container = _defaulted_container(terminationMessagePath="/tmp/x",
                                     resources={"limits": {"memory": "64Mi"}})
    assert (container["terminationMessagePath"], container["terminationMessagePolicy"]) == (
        "/tmp/x", "File")
    assert _defaulted_container()["resources"] == {}


def test_ports_default_to_tcp_and_keep_udp() -> None:
    ports = _defaulted_container(ports=[{"containerPort": 53, "protocol": "UDP"},
                                        {"containerPort": 80}])["ports"]
    assert [p["protocol"] for p in ports] == ["UDP", "TCP"]
    assert all("hostPort" not in p for p in ports)


def test_env_field_ref_gets_api_version_v1_and_other_sources_nothing() -> None:
    env = _defaulted_container(env=[
        {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
        {"name": "C", "value": "x"}])["env"]
    assert env == [
        {"name": "A", "valueFrom": {"fieldRef": {"apiVersion": "v1",
                                                 "fieldPath": "metadata.name"}}},
        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
        {"name": "C", "value": "x"}]


def test_probe_thresholds_and_zero_values_are_defaulted_as_go_does() -> None:
    container = _defaulted_container(
        livenessProbe={"tcpSocket": {"port": 80}, "periodSeconds": 0, "failureThreshold": 5},
        startupProbe={"exec": {"command": ["true"]}})
    assert container["livenessProbe"] == {"tcpSocket": {"port": 80}, "timeoutSeconds": 1,
                                          "periodSeconds": 10, "successThreshold": 1,
                                          "failureThreshold": 5}
    assert container["startupProbe"]["timeoutSeconds"] == 1


def test_http_get_gets_path_and_scheme_grpc_gets_service() -> None:
    container = _defaulted_container(
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
    spec = with_defaults(_pod({"initContainers": [_container(name="i")],
                               "containers": [_container()],
                               "ephemeralContainers": [_container(name="e")]}))["spec"]
    for key in ("initContainers", "ephemeralContainers"):
        assert spec[key][0]["terminationMessagePolicy"] == "File"


# --- volumes --------------------------------------------------------------------------------

def _volumes(*volumes: Obj) -> list[Obj]:
    out: list[Obj] = with_defaults(
        _pod({"containers": [_container()], "volumes": list(volumes)}))["spec"]["volumes"]
    return out


def test_config_map_and_secret_volumes_get_mode_0644_and_keep_an_explicit_one() -> None:
    assert _volumes({"name": "a", "configMap": {"name": "c"}},
                    {"name": "b", "secret": {"secretName": "s"}},
                    {"name": "c", "secret": {"secretName": "s", "defaultMode": 0}}) == [
        {"name": "a", "configMap": {"name": "c", "defaultMode": 420}},
        {"name": "b", "secret": {"secretName": "s", "defaultMode": 420}},
        {"name": "c", "secret": {"secretName": "s", "defaultMode": 0}}]


def test_a_volume_without_a_source_is_an_empty_dir() -> None:
    assert _volumes({"name": "a"}, {"name": "b", "emptyDir": {"medium": "Memory"}}) == [
        {"name": "a", "emptyDir": {}}, {"name": "b", "emptyDir": {"medium": "Memory"}}]


def test_downward_projected_host_path_and_ephemeral_volumes() -> None:
    field = {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}
    defaulted_field = {"path": "name", "fieldRef": {"fieldPath": "metadata.name",
                                                    "apiVersion": "v1"}}
    assert _volumes(
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
    spec = with_defaults(_pod({"containers": [
        _container(resources={"limits": {"cpu": "1", "memory": "1Gi"},
                              "requests": {"cpu": "100m"}}),
        _container(name="d", resources={"limits": {}}),
        _container(name="e", resources={"limits": {"cpu": "1"}, "requests": "all"})]}))["spec"]
    assert spec["containers"][0]["resources"]["requests"] == {"cpu": "100m", "memory": "1Gi"}
    assert spec["containers"][1]["resources"] == {"limits": {}}
    assert spec["containers"][2]["resources"]["requests"] == "all"  # for validation to report


def test_host_network_pods_publish_container_ports_as_host_ports() -> None:
    spec = with_defaults(_pod({"hostNetwork": True, "containers": [
        _container(ports=[{"containerPort": 8080}, {"containerPort": 9090, "hostPort": 9090}])
    ]}))["spec"]
    assert [p["hostPort"] for p in spec["containers"][0]["ports"]] == [8080, 9090]


def test_service_account_priority_and_service_links_keep_explicit_values() -> None:
    spec = with_defaults(_pod({"containers": [_container()], "serviceAccount": "builder",
                               "enableServiceLinks": False,
                               "priorityClassName": "system-cluster-critical"}))["spec"]
    assert (spec["serviceAccountName"], spec["serviceAccount"], spec["enableServiceLinks"],
            spec["priority"], spec["preemptionPolicy"]) == (
        "builder", "builder", False, 2000000000, "PreemptLowerPriority")


def test_an_unknown_priority_class_gets_no_priority() -> None:
    spec = with_defaults(_pod({"containers": [_container()],
                               "priorityClassName": "batch-low"}))["spec"]
    assert "priority" not in spec and "preemptionPolicy" not in spec


def test_eviction_tolerations_are_added_only_when_not_already_tolerated() -> None:
    everything = {"operator": "Exists"}
    assert with_defaults(_pod({"containers": [_container()], "tolerations": [everything]}))[
        "spec"]["tolerations"] == [everything]
    not_ready = {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                 "effect": "NoExecute", "tolerationSeconds": 5}
    assert with_defaults(_pod({"containers": [_container()], "tolerations": [not_ready]}))[
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


# --- services -------------------------------------------------------------------------------

def test_target_port_defaults_to_port_and_a_named_one_is_kept() -> None:
    ports = _service(selector={"a": "b"}, ports=[
        {"port": 80}, {"port": 81, "targetPort": 0}, {"port": 82, "targetPort": ""},
        {"port": 83, "targetPort": "http"}, {"port": 53, "protocol": "UDP"}])["ports"]
    assert [(p["targetPort"], p["protocol"]) for p in ports] == [
        (80, "TCP"), (81, "TCP"), (82, "TCP"), ("http", "TCP"), (53, "UDP")]


def test_node_port_and_load_balancer_services() -> None:
    node_port = _service(type="NodePort", selector={"a": "b"}, ports=[{"port": 80}])
    assert (node_port["externalTrafficPolicy"], node_port["internalTrafficPolicy"]) == (
        "Cluster", "Cluster")
    assert "allocateLoadBalancerNodePorts" not in node_port
    balancer = _service(type="LoadBalancer", externalTrafficPolicy="Local", ports=[{"port": 80}])
    assert (balancer["externalTrafficPolicy"], balancer["allocateLoadBalancerNodePorts"]) == (
        "Local", True)
    assert "externalTrafficPolicy" in _service(externalIPs=["192.0.2.1"], ports=[{"port": 80}])
    assert "externalTrafficPolicy" not in _service(ports=[{"port": 80}])


def test_an_external_name_service_gets_no_ip_fields() -> None:
    assert _service(type="ExternalName", externalName="example.com", ports=[{"port": 80}]) == {
        "type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None",
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}


def test_session_affinity_client_ip_gets_a_timeout_and_none_drops_the_config() -> None:
    assert _service(sessionAffinity="ClientIP")["sessionAffinityConfig"] == {
        "clientIP": {"timeoutSeconds": 10800}}
    kept = {"clientIP": {"timeoutSeconds": 60}}
    assert _service(sessionAffinity="ClientIP", sessionAffinityConfig=kept)[
        "sessionAffinityConfig"] == kept
    assert "sessionAffinityConfig" not in _service(sessionAffinityConfig=kept)


def test_ip_families_of_headless_and_explicit_services() -> None:
    def families(**spec: Any) -> tuple[str, list[str]]:
        out = _service(**spec)
        return out["ipFamilyPolicy"], out["ipFamilies"]
    assert families(clusterIP="None", selector={"a": "b"}) == ("SingleStack", ["IPv4"])
    assert families(clusterIP="None") == ("RequireDualStack", ["IPv4", "IPv6"])
    assert families(clusterIPs=["None"]) == ("RequireDualStack", ["IPv4", "IPv6"])
    assert families(clusterIP="None", ipFamilyPolicy="SingleStack") == ("SingleStack", ["IPv4"])
    assert families(selector={"a": "b"}, ipFamilyPolicy="PreferDualStack") == (
        "PreferDualStack", ["IPv4"])
    assert families(clusterIP="fd00::10", clusterIPs=["fd00::10"]) == ("SingleStack", ["IPv6"])


# --- the other kinds ------------------------------------------------------------------------

def _spec_of(kind: str, api_version: str, spec: Obj) -> Obj:
    out: Obj = with_defaults({"apiVersion": api_version, "kind": kind,
                              "metadata": {"name": "x"}, "spec": spec})["spec"]
    return out


def test_deployment_recreate_and_partial_rolling_update() -> None:
    recreate = _spec_of("Deployment", "apps/v1", {"strategy": {"type": "Recreate"}})
    assert recreate["strategy"] == {"type": "Recreate"} and recreate["replicas"] == 1
    partial = _spec_of("Deployment", "apps/v1", {"strategy": {"rollingUpdate": {"maxSurge": 0}},
                                                 "revisionHistoryLimit": 0})
    assert partial["strategy"] == {"type": "RollingUpdate",
                                   "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "25%"}}
    assert partial["revisionHistoryLimit"] == 0


def test_replica_set_gets_one_replica_and_template_defaults() -> None:
    spec = _spec_of("ReplicaSet", "apps/v1", {"template": {"spec": {"containers": [
        _container()]}}})
    assert spec["replicas"] == 1
    assert spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert "revisionHistoryLimit" not in spec


def test_stateful_set() -> None:
    stateful = _spec_of("StatefulSet", "apps/v1", {"volumeClaimTemplates": [
        {"metadata": {"name": "data"}, "spec": {}}], "template": {"spec": {"containers": []}}})
    assert {k: v for k, v in stateful.items() if k != "template"} == {
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "replicas": 1, "revisionHistoryLimit": 10,
        "volumeClaimTemplates": [{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                  "metadata": {"name": "data"},
                                  "spec": {"volumeMode": "Filesystem"},
                                  "status": {"phase": "Pending"}}]}
    on_delete = _spec_of("StatefulSet", "apps/v1", {"updateStrategy": {"type": "OnDelete"}})
    assert on_delete["updateStrategy"] == {"type": "OnDelete"}


def test_endpoints_and_endpoint_slice_ports_and_conditions() -> None:
    endpoints = with_defaults(ENDPOINTS)
    assert endpoints["subsets"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]
    endpoint_slice = with_defaults(ENDPOINT_SLICE)
    assert endpoint_slice["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    assert endpoint_slice["endpoints"] == [{"addresses": ["10.0.0.1"], "conditions": {}}]


def test_secret_type_and_namespace_label_and_finalizer() -> None:
    assert with_defaults(SECRET)["type"] == "Opaque"
    tls = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls"}
    assert with_defaults(tls)["type"] == "kubernetes.io/tls"
    namespace = with_defaults({"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": "team", "labels": {"kubernetes.io/metadata.name": "other", "a": "b"}}})
    assert namespace["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team", "a": "b"}
    assert namespace["spec"] == {"finalizers": ["kubernetes"]}


def test_volumes_claims_and_storage_classes() -> None:
    assert _spec_of("PersistentVolumeClaim", "v1", {}) == {"volumeMode": "Filesystem"}
    assert _spec_of("PersistentVolume", "v1", {"hostPath": {"path": "/d"}}) == {
        "hostPath": {"path": "/d", "type": ""}, "persistentVolumeReclaimPolicy": "Retain",
        "volumeMode": "Filesystem"}
    storage_class = with_defaults({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                   "provisioner": "p"})
    assert (storage_class["reclaimPolicy"], storage_class["volumeBindingMode"]) == (
        "Delete", "Immediate")
    assert _spec_of("IngressClass", "networking.k8s.io/v1", {"parameters": {
        "kind": "K", "name": "n"}})["parameters"]["scope"] == "Cluster"


# --- quantities -----------------------------------------------------------------------------

# Written -> as kubectl v1.32 serializes a resource.Quantity (see the kubectl test below).
CANONICAL_QUANTITIES = {
    "0.5": "500m", "1500m": "1500m", "1000m": "1", "1024Mi": "1Gi", "1.5Gi": "1536Mi",
    "0.5Ki": "512", "100000": "100k", "1000": "1k", "1e3": "1e3", "1.5e3": "1500",
    "0.1Ki": "102400m", "2Gi": "2Gi", "1000Mi": "1000Mi", "1k": "1k", "12e6": "12e6",
    "0.0001": "100u", "1Ki": "1Ki", "1023Ki": "1023Ki", "0": "0", "128974848": "128974848",
    "129e6": "129e6", "0.5Gi": "512Mi", "1E": "1E", "2": "2", "250m": "250m",
    "2Ei": "2Ei", "0.5E": "500P", "1.5e-3": "1500e-6"}


def test_quantities_take_their_canonical_form() -> None:
    assert {q: canonical_quantity(q, round_to_milli=False) for q in CANONICAL_QUANTITIES} == \
        CANONICAL_QUANTITIES
    assert (canonical_quantity(2, round_to_milli=True), canonical_quantity("x", True),
            canonical_quantity(True, True)) == ("2", "x", True)


def test_the_canonical_forms_are_kubectls(tmp_path: Path) -> None:
    """kubectl set resources --local parses and re-serializes quantities as the server does."""
    manifest = tmp_path / "d.json"
    manifest.write_text(json.dumps(BACKEND_DEPLOYMENT))
    names = {f"example.com/q{i}": q for i, q in enumerate(CANONICAL_QUANTITIES)}
    out = subprocess.run(
        ["kubectl", "set", "resources", "-f", str(manifest), "--local", "-o", "json",
         "--limits=" + ",".join(f"{name}={q}" for name, q in names.items())],
        capture_output=True, text=True, timeout=30, check=True)
    limits = json.loads(out.stdout)["spec"]["template"]["spec"]["containers"][0]["resources"][
        "limits"]
    assert {names[name]: value for name, value in limits.items()} == CANONICAL_QUANTITIES


def test_resource_lists_are_rounded_up_to_milli_units_and_made_canonical() -> None:
    spec = with_defaults(_pod({
        "containers": [_container(resources={"limits": {"cpu": "0.0001", "memory": "1024Mi"},
                                             "requests": {"cpu": 0.5}})],
        "overhead": {"cpu": "0.25"},
        "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "0.0001"}}]}))["spec"]
    assert spec["containers"][0]["resources"] == {
        "limits": {"cpu": "1m", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}
    assert spec["overhead"] == {"cpu": "250m"}
    assert spec["volumes"][0]["emptyDir"] == {"sizeLimit": "100u"}  # not a ResourceList
    claim = _spec_of("PersistentVolumeClaim", "v1", {"resources": {"requests": {
        "storage": "1024Mi"}}})
    assert claim["resources"] == {"requests": {"storage": "1Gi"}}


def test_jobs_and_cron_jobs() -> None:
    job = with_defaults({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                         "spec": {"template": {"metadata": {"labels": {"app": "j"}},
                                               "spec": {"restartPolicy": "Never",
                                                        "containers": [_container()]}}}})
    assert job["metadata"]["labels"] == {"app": "j"}
    assert {k: v for k, v in job["spec"].items() if k != "template"} == {
        "completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
        "suspend": False, "podReplacementPolicy": "TerminatingOrFailed",
        "manualSelector": False}
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    indexed = _spec_of("Job", "batch/v1", {"parallelism": 3, "backoffLimitPerIndex": 1,
                                           "podFailurePolicy": {"rules": [{
                                               "action": "Ignore", "onPodConditions": [
                                                   {"type": "DisruptionTarget"}]}]}})
    assert (indexed.get("completions"), indexed["backoffLimit"],
            indexed["podReplacementPolicy"]) == (None, 2**31 - 1, "Failed")
    assert indexed["podFailurePolicy"]["rules"][0]["onPodConditions"] == [
        {"type": "DisruptionTarget", "status": "True"}]
    cron = _spec_of("CronJob", "batch/v1", {"schedule": "* * * * *", "jobTemplate": {"spec": {
        "template": {"spec": {"containers": [_container()]}}}}})
    assert {k: v for k, v in cron.items() if k != "jobTemplate"} == {
        "schedule": "* * * * *", "concurrencyPolicy": "Allow", "suspend": False,
        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}
    job_spec = cron["jobTemplate"]["spec"]
    assert "backoffLimit" not in job_spec
    assert job_spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_values_of_the_wrong_type_are_left_for_validation_to_report() -> None:
    for broken in ({"apiVersion": "apps/v1", "kind": "Deployment", "spec": "three replicas"},
                   {"apiVersion": "apps/v1", "kind": "Deployment",
                    "spec": {"template": [], "strategy": "fast", "replicas": 1,
                             "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}},
                   _pod({"containers": "app", "volumes": [None, "v"], "tolerations": "all",
                         "enableServiceLinks": True, "serviceAccountName": "default",
                         "priority": 0, "preemptionPolicy": "PreemptLowerPriority"})):
        out = with_defaults(broken)
        if broken["kind"] == "Pod":  # only what defaulting adds besides the broken fields
            assert {k: v for k, v in out["spec"].items() if k in broken["spec"]} == \
                broken["spec"]
        else:
            assert out == broken



# --- every field written is one of the official schema's, of its type -----------------------

DATA = Path(localsvc.model.__file__).parent / "data"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,)}


@cache
def _schemas() -> dict[str, Obj]:
    """The 1.32 OpenAPI v3 component schemas localsvc serves, of every group."""
    schemas: dict[str, Obj] = {}
    for path in sorted(DATA.glob("openapi-v3-*.json.gz")):
        schemas.update(json.loads(gzip.decompress(path.read_bytes()))["components"]["schemas"])
    return schemas


def _resolve(node: Obj) -> Obj:
    while True:
        ref = node.get("$ref") or (node.get("allOf") or [{}])[0].get("$ref")
        if ref is None:
            return node
        node = _schemas()[ref.rsplit("/", 1)[1]]


def _schema_errors(value: Any, node: Obj, path: str) -> list[str]:
    node = _resolve(node)
    types = [t["type"] for t in node.get("oneOf", [])] or [node.get("type")]
    allowed = tuple(py for t in types if t for py in _TYPES[t])
    if allowed and (not isinstance(value, allowed)
                    or isinstance(value, bool) and bool not in allowed):
        return [f"{path}: {value!r} is not {'/'.join(t for t in types if t)}"]
    errors: list[str] = []
    if isinstance(value, dict):
        properties, extra = node.get("properties"), node.get("additionalProperties")
        for key, child in value.items():
            if properties is not None and key in properties:
                errors += _schema_errors(child, properties[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                errors += _schema_errors(child, extra, f"{path}.{key}")
            elif properties is not None:
                errors.append(f"{path}.{key}: not in the schema")
    elif isinstance(value, list) and "items" in node:
        for index, item in enumerate(value):
            errors += _schema_errors(item, node["items"], f"{path}[{index}]")
    return errors


def _schema_of(obj: Obj) -> Obj:
    group, _, version = str(obj["apiVersion"]).rpartition("/")
    for schema in _schemas().values():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            if (gvk["group"], gvk["version"], gvk["kind"]) == (group, version, obj["kind"]):
                return schema
    raise AssertionError(f"no schema for {obj['apiVersion']} {obj['kind']}")


EVERY_RULE: list[Obj] = ALL_KINDS + [
    _pod({"containers": [_container(
        env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        livenessProbe={"httpGet": {"port": 80}}, readinessProbe={"grpc": {"port": 1}},
        startupProbe={"tcpSocket": {"port": 80}},
        lifecycle={"preStop": {"httpGet": {"port": 80}}},
        resources={"limits": {"cpu": 0.5}})],
        "initContainers": [_container(name="i")], "ephemeralContainers": [_container(name="e")],
        "overhead": {"cpu": "0.1"},
        "volumes": [{"name": "a"}, {"name": "b", "configMap": {"name": "c"}},
                    {"name": "c", "secret": {"secretName": "s"}},
                    {"name": "d", "hostPath": {"path": "/d"}},
                    {"name": "e", "emptyDir": {"sizeLimit": "1024Mi"}},
                    {"name": "f", "downwardAPI": {"items": [
                        {"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                    {"name": "g", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]}),
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"},
     "spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 80}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
     "spec": {"type": "ExternalName", "externalName": "example.com", "ports": [{"port": 80}]}},
    {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
     "spec": {"resources": {"requests": {"storage": "1Gi"}}}},
    {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {
        "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [
            {"type": "DisruptionTarget"}]}]}, "template": {"spec": {"containers": []}}}},
    {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "s"},
     "provisioner": "p"},
    {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "i"},
     "spec": {"parameters": {"kind": "K", "name": "n"}}},
]


@pytest.mark.parametrize("obj", EVERY_RULE, ids=lambda o: f"{o['kind']}-{o['metadata']['name']}")
def test_every_defaulted_field_is_in_the_official_schema(obj: Obj) -> None:
    out = with_defaults(obj)
    assert out != obj
    assert _schema_errors(out, _schema_of(out), "") == []


def test_the_examples_default_into_the_schema_and_stay_put() -> None:
    manifests = [m.obj for m in load_paths([EXAMPLES]).manifests]
    assert len(manifests) > 10
    for obj in manifests:
        once = with_defaults(obj)
        assert (_schema_errors(once, _schema_of(once), obj["metadata"]["name"]),
                with_defaults(once)) == ([], once)


def test_the_schema_check_finds_unknown_fields_and_wrong_types() -> None:
    pod = with_defaults(CLIENT_POD)
    pod["spec"]["containers"][0]["terminationMesagePolicy"] = "File"
    pod["spec"]["terminationGracePeriodSeconds"] = "30"
    pod["spec"]["containers"][0]["resources"]["limits"] = {"cpu": True}
    assert _schema_errors(pod, _schema_of(pod), "") == [
        ".spec.containers[0].resources.limits.cpu: True is not string/number",
        ".spec.containers[0].terminationMesagePolicy: not in the schema",
        ".spec.terminationGracePeriodSeconds: '30' is not integer"]



def test_a_defaulted_object_passes_the_validation_its_manifest_passed() -> None:
    """kubectl edit and replace send the stored, defaulted object back: it must not fail the
    rules its manifest passed."""
    def problems(obj: Obj) -> list[str]:
        return [p.message for p in validate([Manifest(obj=obj, file="x.yaml", line=1)])]
    served = ("Pod", "Deployment", "Service", "ConfigMap", "Secret", "Endpoints", "EndpointSlice",
              "Namespace")
    objs = [o for o in EVERY_RULE if o["kind"] in served] + \
        [m.obj for m in load_paths([EXAMPLES]).manifests]
    assert len(objs) > 20
    for obj in objs:
        assert [p for p in problems(with_defaults(obj)) if p not in problems(obj)] == []
