"""with_defaults for Services, the other kinds localsvc serves (and the next issues' kinds),
and quantities in their canonical form, checked against kubectl's own serialization."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from localsvc.model.defaults import with_defaults
from localsvc.model.defaults_pod import canonical_quantity
from tests.unit.defaults_builders import (
    BACKEND_DEPLOYMENT, ENDPOINT_SLICE, ENDPOINTS, SECRET, container, pod, service_spec,
    spec_of)


# --- services -------------------------------------------------------------------------------

def test_target_port_defaults_to_port_and_a_named_one_is_kept() -> None:
    ports = service_spec(selector={"a": "b"}, ports=[
        {"port": 80}, {"port": 81, "targetPort": 0}, {"port": 82, "targetPort": ""},
        {"port": 83, "targetPort": "http"}, {"port": 53, "protocol": "UDP"}])["ports"]
    assert [(p["targetPort"], p["protocol"]) for p in ports] == [
        (80, "TCP"), (81, "TCP"), (82, "TCP"), ("http", "TCP"), (53, "UDP")]


def test_node_port_and_load_balancer_services() -> None:
    node_port = service_spec(type="NodePort", selector={"a": "b"}, ports=[{"port": 80}])
    assert (node_port["externalTrafficPolicy"], node_port["internalTrafficPolicy"]) == (
        "Cluster", "Cluster")
    assert "allocateLoadBalancerNodePorts" not in node_port
    balancer = service_spec(type="LoadBalancer", externalTrafficPolicy="Local",
                            ports=[{"port": 80}])
    assert (balancer["externalTrafficPolicy"], balancer["allocateLoadBalancerNodePorts"]) == (
        "Local", True)
    assert "externalTrafficPolicy" in service_spec(externalIPs=["192.0.2.1"], ports=[{"port": 80}])
    assert "externalTrafficPolicy" not in service_spec(ports=[{"port": 80}])


def test_an_external_name_service_gets_no_ip_fields() -> None:
    assert service_spec(type="ExternalName", externalName="example.com", ports=[{"port": 80}]) == {
        "type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None",
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}


def test_session_affinity_client_ip_gets_a_timeout_and_none_drops_the_config() -> None:
    assert service_spec(sessionAffinity="ClientIP")["sessionAffinityConfig"] == {
        "clientIP": {"timeoutSeconds": 10800}}
    kept = {"clientIP": {"timeoutSeconds": 60}}
    assert service_spec(sessionAffinity="ClientIP", sessionAffinityConfig=kept)[
        "sessionAffinityConfig"] == kept
    assert "sessionAffinityConfig" not in service_spec(sessionAffinityConfig=kept)


def test_ip_families_of_headless_and_explicit_services() -> None:
    def families(**spec: Any) -> tuple[str, list[str]]:
        out = service_spec(**spec)
        return out["ipFamilyPolicy"], out["ipFamilies"]
    assert families(clusterIP="None", selector={"a": "b"}) == ("SingleStack", ["IPv4"])
    assert families(clusterIP="None") == ("RequireDualStack", ["IPv4", "IPv6"])
    assert families(clusterIPs=["None"]) == ("RequireDualStack", ["IPv4", "IPv6"])
    assert families(clusterIP="None", ipFamilyPolicy="SingleStack") == ("SingleStack", ["IPv4"])
    assert families(selector={"a": "b"}, ipFamilyPolicy="PreferDualStack") == (
        "PreferDualStack", ["IPv4"])
    assert families(clusterIP="fd00::10", clusterIPs=["fd00::10"]) == ("SingleStack", ["IPv6"])


# --- the other kinds ------------------------------------------------------------------------

def test_deployment_recreate_and_partial_rolling_update() -> None:
    recreate = spec_of("Deployment", "apps/v1", {"strategy": {"type": "Recreate"}})
    assert recreate["strategy"] == {"type": "Recreate"} and recreate["replicas"] == 1
    partial = spec_of("Deployment", "apps/v1", {"strategy": {"rollingUpdate": {"maxSurge": 0}},
                                                 "revisionHistoryLimit": 0})
    assert partial["strategy"] == {"type": "RollingUpdate",
                                   "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "25%"}}
    assert partial["revisionHistoryLimit"] == 0


def test_replica_set_gets_one_replica_and_template_defaults() -> None:
    spec = spec_of("ReplicaSet", "apps/v1", {"template": {"spec": {"containers": [
        container()]}}})
    assert spec["replicas"] == 1
    assert spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert "revisionHistoryLimit" not in spec


def test_stateful_set() -> None:
    stateful = spec_of("StatefulSet", "apps/v1", {"volumeClaimTemplates": [
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
    on_delete = spec_of("StatefulSet", "apps/v1", {"updateStrategy": {"type": "OnDelete"}})
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
    # Plus what the DefaultStorageClass and pvc-protection admission plugins add.
    assert spec_of("PersistentVolumeClaim", "v1", {}) == {"volumeMode": "Filesystem",
                                                         "storageClassName": "standard"}
    assert spec_of("PersistentVolumeClaim", "v1", {"storageClassName": ""}) == {
        "volumeMode": "Filesystem", "storageClassName": ""}
    assert spec_of("PersistentVolume", "v1", {"hostPath": {"path": "/d"}}) == {
        "hostPath": {"path": "/d", "type": ""}, "persistentVolumeReclaimPolicy": "Retain",
        "volumeMode": "Filesystem"}
    storage_class = with_defaults({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                   "provisioner": "p"})
    assert (storage_class["reclaimPolicy"], storage_class["volumeBindingMode"]) == (
        "Delete", "Immediate")
    assert spec_of("IngressClass", "networking.k8s.io/v1", {"parameters": {
        "kind": "K", "name": "n"}})["parameters"]["scope"] == "Cluster"


def test_jobs_and_cron_jobs() -> None:
    job = with_defaults({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                         "spec": {"template": {"metadata": {"labels": {"app": "j"}},
                                               "spec": {"restartPolicy": "Never",
                                                        "containers": [container()]}}}})
    assert job["metadata"]["labels"] == {"app": "j"}
    assert {k: v for k, v in job["spec"].items() if k != "template"} == {
        "completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
        "suspend": False, "podReplacementPolicy": "TerminatingOrFailed",
        "manualSelector": False}
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    indexed = spec_of("Job", "batch/v1", {"parallelism": 3, "backoffLimitPerIndex": 1,
                                           "podFailurePolicy": {"rules": [{
                                               "action": "Ignore", "onPodConditions": [
                                                   {"type": "DisruptionTarget"}]}]}})
    assert (indexed.get("completions"), indexed["backoffLimit"],
            indexed["podReplacementPolicy"]) == (None, 2**31 - 1, "Failed")
    assert indexed["podFailurePolicy"]["rules"][0]["onPodConditions"] == [
        {"type": "DisruptionTarget", "status": "True"}]
    cron = spec_of("CronJob", "batch/v1", {"schedule": "* * * * *", "jobTemplate": {"spec": {
        "template": {"spec": {"containers": [container()]}}}}})
    assert {k: v for k, v in cron.items() if k != "jobTemplate"} == {
        "schedule": "* * * * *", "concurrencyPolicy": "Allow", "suspend": False,
        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}
    job_spec = cron["jobTemplate"]["spec"]
    assert "backoffLimit" not in job_spec
    assert job_spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


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
    spec = with_defaults(pod({
        "containers": [container(resources={"limits": {"cpu": "0.0001", "memory": "1024Mi"},
                                             "requests": {"cpu": 0.5}})],
        "overhead": {"cpu": "0.25"},
        "volumes": [{"name": "v", "emptyDir": {"sizeLimit": "0.0001"}}]}))["spec"]
    assert spec["containers"][0]["resources"] == {
        "limits": {"cpu": "1m", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}}
    assert spec["overhead"] == {"cpu": "250m"}
    assert spec["volumes"][0]["emptyDir"] == {"sizeLimit": "100u"}  # not a ResourceList
    claim = spec_of("PersistentVolumeClaim", "v1", {"resources": {"requests": {
        "storage": "1024Mi"}}})
    assert claim["resources"] == {"requests": {"storage": "1Gi"}}
