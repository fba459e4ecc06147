"""Tables as the 1.32 API server's printers (pkg/printers/internalversion) build them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from localsvc.model.kubeapi import tables
from localsvc.model.kubeapi.tablecells import human_duration, selector_string
from localsvc.model.kubeapi.tables import TableRequest, table, table_request

NOW = datetime(2026, 1, 10, 12, 0, 0, tzinfo=timezone.utc).timestamp()


def ago(seconds: int) -> str:
    moment = datetime.fromtimestamp(NOW - seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, created: int = 300, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": ago(created), **extra}


def cells(kind: str, obj: dict[str, Any]) -> list[Any]:
    return list(table(kind, [obj], NOW)["rows"][0]["cells"])


def names(kind: str) -> list[tuple[str, int]]:
    return [(c["name"], c["priority"]) for c in table(kind, [], NOW)["columnDefinitions"]]


@pytest.mark.parametrize(("seconds", "shown"), [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (5, "5s"), (119, "119s"), (120, "2m"),
    (182, "3m2s"), (599, "9m59s"), (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"),
    (4 * 3600 + 5 * 60, "4h5m"), (8 * 3600, "8h"), (47 * 3600, "47h"), (2 * 86400, "2d"),
    (2 * 86400 + 3 * 3600, "2d3h"), (8 * 86400, "8d"), (729 * 86400, "729d"),
    (2 * 365 * 86400, "2y"), (3 * 365 * 86400 + 10 * 86400, "3y10d"), (9 * 365 * 86400, "9y"),
])
def test_human_duration(seconds: int, shown: str) -> None:
    assert human_duration(seconds) == shown


def test_table_shape_and_include_object() -> None:
    cm = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta("c"), "data": {"a": "1"}}
    body = table("ConfigMap", [cm], NOW, resource_version="42")
    assert body["kind"] == "Table" and body["apiVersion"] == "meta.k8s.io/v1"
    assert body["metadata"] == {"resourceVersion": "42"}
    assert body["columnDefinitions"][0] == {
        "name": "Name", "type": "string", "format": "name",
        "description": body["columnDefinitions"][0]["description"], "priority": 0}
    assert body["rows"][0] == {"cells": ["c", 1, "5m"], "object": {
        "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta("c")}}
    assert table("ConfigMap", [cm], NOW, "Object")["rows"][0]["object"] == cm
    assert table("ConfigMap", [cm], NOW, "None")["rows"][0]["object"] is None
    paged = table("ConfigMap", [cm], NOW, continue_token="t", remaining_item_count=3,
                  version="v1beta1")
    assert paged["apiVersion"] == "meta.k8s.io/v1beta1"
    assert paged["metadata"] == {"continue": "t", "remainingItemCount": 3}
    watched = table("ConfigMap", [cm], NOW, no_headers=True)  # a watch event after the first
    assert watched["columnDefinitions"] is None and len(watched["rows"]) == 1


# -- pods

def pod(*statuses: dict[str, Any], phase: str = "Running", init: tuple[dict[str, Any], ...] = (),
        init_specs: int = 0, conditions: tuple[dict[str, Any], ...] = (),
        **metadata: Any) -> dict[str, Any]:
    return {
        "metadata": meta("p", **metadata),
        "spec": {"containers": [{"name": s["name"]} for s in statuses] or [{"name": "app"}],
                 "initContainers": [{"name": f"i{n}"} for n in range(init_specs)],
                 "nodeName": "localsvc"},
        "status": {"phase": phase, "containerStatuses": list(statuses),
                   "initContainerStatuses": list(init), "conditions": list(conditions),
                   "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}]},
    }


def running(name: str = "app", ready: bool = True, restarts: int = 0,
            finished: int | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"name": name, "ready": ready, "restartCount": restarts,
                              "state": {"running": {"startedAt": ago(60)}}}
    if finished is not None:
        status["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": ago(finished)}}
    return status


def waiting(reason: str, name: str = "app", restarts: int = 0) -> dict[str, Any]:
    return {"name": name, "ready": False, "restartCount": restarts,
            "state": {"waiting": {"reason": reason}}}


def terminated(exit_code: int, reason: str = "", name: str = "app",
               signal: int = 0) -> dict[str, Any]:
    state: dict[str, Any] = {"exitCode": exit_code}
    if reason:
        state["reason"] = reason
    if signal:
        state["signal"] = signal
    return {"name": name, "ready": False, "restartCount": 0, "state": {"terminated": state}}


def test_pod_columns() -> None:
    assert names("Pod") == [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0),
                            ("Age", 0), ("IP", 1), ("Node", 1), ("Nominated Node", 1),
                            ("Readiness Gates", 1)]


def test_pod_running_row_with_wide_cells() -> None:
    assert cells("Pod", pod(running(), running("side", ready=False))) == [
        "p", "1/2", "Running", "0", "5m", "10.1.0.5", "localsvc", "<none>", "<none>"]


def test_pod_restarts_show_the_latest_termination() -> None:
    row = cells("Pod", pod(running(restarts=2, finished=400), running("b", restarts=3,
                                                                       finished=125)))
    assert row[3] == "5 (2m5s ago)"
    assert cells("Pod", pod(running(restarts=4)))[3] == "4"  # no termination time known


@pytest.mark.parametrize(("status", "shown"), [
    (waiting("ContainerCreating"), "ContainerCreating"),
    (waiting("CrashLoopBackOff", restarts=3), "CrashLoopBackOff"),
    (waiting("ImagePullBackOff"), "ImagePullBackOff"),
    (terminated(0, "Completed"), "Completed"),
    (terminated(1, "Error"), "Error"),
    (terminated(2), "ExitCode:2"),
    (terminated(137, signal=9), "Signal:9"),
])
def test_pod_status_from_the_container(status: dict[str, Any], shown: str) -> None:
    assert cells("Pod", pod(status))[2] == shown


def test_pod_status_init_containers() -> None:
    init_running = {"name": "i0", "ready": False, "restartCount": 0,
                    "state": {"running": {}}}
    done = terminated(0, "Completed", name="i0")
    assert cells("Pod", pod(waiting("PodInitializing"), init=(init_running,),
                            init_specs=2, phase="Pending"))[2] == "Init:0/2"
    assert cells("Pod", pod(waiting("PodInitializing"), init=(done, {**init_running,
                                                                      "name": "i1"}),
                            init_specs=2, phase="Pending"))[2] == "Init:1/2"
    crash = waiting("CrashLoopBackOff", name="i0", restarts=4)
    assert cells("Pod", pod(waiting("PodInitializing"), init=(crash,), init_specs=1,
                            phase="Pending"))[2:4] == ["Init:CrashLoopBackOff", "4"]
    assert cells("Pod", pod(waiting("PodInitializing"), init=(terminated(3, name="i0"),),
                            init_specs=1, phase="Pending"))[2] == "Init:ExitCode:3"
    assert cells("Pod", pod(waiting("PodInitializing"), init=(terminated(1, "Error", "i0"),),
                            init_specs=1, phase="Pending"))[2] == "Init:Error"
    assert cells("Pod", pod(waiting("PodInitializing"), init=(done,), init_specs=1,
                            phase="Pending"))[2] == "PodInitializing"


def test_pod_completed_with_a_running_container_is_running_or_not_ready() -> None:
    ready = ({"type": "Ready", "status": "True"},)
    both = (terminated(0, "Completed", name="a"), running("b"))
    assert cells("Pod", pod(*both, conditions=ready))[2] == "Running"
    assert cells("Pod", pod(*both))[2] == "NotReady"


def test_pod_terminating_unknown_gated_and_reason() -> None:
    assert cells("Pod", pod(running(), deletionTimestamp=ago(1)))[2] == "Terminating"
    assert cells("Pod", pod(terminated(0, "Completed"), phase="Succeeded",
                            deletionTimestamp=ago(1)))[2] == "Completed"
    lost = pod(running(), deletionTimestamp=ago(1))
    lost["status"]["reason"] = "NodeLost"
    assert cells("Pod", lost)[2] == "Unknown"
    evicted = pod(phase="Failed")
    evicted["status"].update(reason="Evicted", containerStatuses=[])
    assert cells("Pod", evicted)[2] == "Evicted"
    gated = pod(phase="Pending", conditions=({"type": "PodScheduled", "status": "False",
                                              "reason": "SchedulingGated"},))
    gated["status"]["containerStatuses"] = []
    assert cells("Pod", gated)[2] == "SchedulingGated"


def test_pod_row_conditions_for_finished_pods_and_readiness_gates() -> None:
    done = table("Pod", [pod(terminated(0, "Completed"), phase="Succeeded")], NOW)["rows"][0]
    assert done["conditions"] == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                   "message": "The pod has completed successfully."}]
    failed = table("Pod", [pod(terminated(1, "Error"), phase="Failed")], NOW)["rows"][0]
    assert failed["conditions"][0]["reason"] == "Failed"
    gates = pod(running(), conditions=({"type": "x", "status": "True"},
                                       {"type": "y", "status": "False"}))
    gates["spec"]["readinessGates"] = [{"conditionType": "x"}, {"conditionType": "y"}]
    assert cells("Pod", gates)[8] == "1/2"
    bare = pod(running())
    bare["status"] = {"phase": "Pending"}
    bare["spec"].pop("nodeName")
    assert cells("Pod", bare)[1:] == ["0/1", "Pending", "0", "5m", "<none>", "<none>",
                                      "<none>", "<none>"]


def test_pod_sidecar_init_container_counts_as_a_container() -> None:
    p = pod(running(), init=({"name": "i0", "ready": True, "started": True, "restartCount": 1,
                              "state": {"running": {}}},), init_specs=1)
    p["spec"]["initContainers"][0]["restartPolicy"] = "Always"
    assert cells("Pod", p)[1:4] == ["2/2", "Running", "1"]


# -- services

def service(kind: str, ports: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"metadata": meta("web"), "spec": {"type": kind, "ports": ports, **spec}}


def test_service_columns_and_rows() -> None:
    assert names("Service") == [("Name", 0), ("Type", 0), ("Cluster-IP", 0),
                                ("External-IP", 0), ("Port(s)", 0), ("Age", 0), ("Selector", 1)]
    cluster = service("ClusterIP", [{"port": 80, "protocol": "TCP"},
                                    {"port": 53, "protocol": "UDP"}],
                      clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"],
                      selector={"tier": "b", "app": "a"})
    assert cells("Service", cluster) == ["web", "ClusterIP", "10.96.0.10", "<none>",
                                         "80/TCP,53/UDP", "5m", "app=a,tier=b"]
    node_port = service("NodePort", [{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
                        clusterIPs=["10.96.0.11"], externalIPs=["1.2.3.4"])
    assert cells("Service", node_port)[2:5] == ["10.96.0.11", "1.2.3.4", "80:30080/TCP"]
    pending = service("LoadBalancer", [{"port": 80, "nodePort": 31000, "protocol": "TCP"}],
                      clusterIPs=["10.96.0.12"])
    assert cells("Service", pending)[3] == "<pending>"
    pending["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.0.1"},
                                                      {"hostname": "lb.local"}]}}
    assert cells("Service", pending)[3] == "127.0.0.1,lb.local"
    headless = service("ClusterIP", [], clusterIP="None", clusterIPs=["None"])
    assert cells("Service", headless)[2:5] == ["None", "<none>", "<none>"]
    external = service("ExternalName", [], externalName="db.example.com")
    assert cells("Service", external)[2:4] == ["<none>", "db.example.com"]
    assert cells("Service", external)[6] == "<none>"


# -- workloads

SELECTOR = {"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["b", "a"]},
                                 {"key": "gone", "operator": "DoesNotExist"}]}
TEMPLATE = {"spec": {"containers": [{"name": "web", "image": "nginx:1"},
                                    {"name": "log", "image": "busybox"}]}}


def test_selector_string_like_labels_selector() -> None:
    assert selector_string(SELECTOR) == "app=web,env in (a,b),!gone"
    assert selector_string({"matchExpressions": [{"key": "x", "operator": "NotIn",
                                                   "values": ["1"]},
                                                  {"key": "a", "operator": "Exists"}]}) == (
        "a,x notin (1)")
    assert selector_string({"matchExpressions": [{"key": "x", "operator": "Bad"}]}) == (
        "<invalid>")


def test_deployment_row() -> None:
    assert names("Deployment") == [("Name", 0), ("Ready", 0), ("Up-to-date", 0),
                                   ("Available", 0), ("Age", 0), ("Containers", 1),
                                   ("Images", 1), ("Selector", 1)]
    deploy = {"metadata": meta("web", 7200), "spec": {"replicas": 3, "selector": SELECTOR,
                                                      "template": TEMPLATE},
              "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    assert cells("Deployment", deploy) == ["web", "2/3", 3, 2, "120m", "web,log",
                                           "nginx:1,busybox", "app=web,env in (a,b),!gone"]
    types = [c["type"] for c in table("Deployment", [], NOW)["columnDefinitions"]]
    assert types[2:4] == ["string", "string"]  # integer cells under "string" columns, as 1.32


def test_replicaset_row() -> None:
    assert names("ReplicaSet")[:5] == [("Name", 0), ("Desired", 0), ("Current", 0),
                                       ("Ready", 0), ("Age", 0)]
    rs = {"metadata": meta("web-5d8f", 90000), "spec": {"replicas": 2, "template": TEMPLATE,
                                                        "selector": {"matchLabels": {
                                                            "app": "web",
                                                            "pod-template-hash": "5d8f"}}},
          "status": {"replicas": 2}}
    assert cells("ReplicaSet", rs) == ["web-5d8f", 2, 2, 0, "25h", "web,log",
                                       "nginx:1,busybox", "app=web,pod-template-hash=5d8f"]
    types = [c["type"] for c in table("ReplicaSet", [], NOW)["columnDefinitions"]]
    assert types[1:4] == ["integer", "integer", "integer"]
    rs["spec"]["selector"] = {}
    assert cells("ReplicaSet", rs)[7] == "<none>"
    rs["spec"]["selector"] = {"matchExpressions": [{"key": "a", "operator": "Bad"}]}
    assert cells("ReplicaSet", rs)[7] == "<error>"


# -- endpoints and slices

def test_endpoints_row() -> None:
    ep = {"metadata": meta("web"), "subsets": [
        {"addresses": [{"ip": "10.1.0.1"}, {"ip": "10.1.0.2"}],
         "ports": [{"port": 80}, {"port": 443}]}]}
    assert cells("Endpoints", ep) == ["web", "10.1.0.1:80,10.1.0.2:80,10.1.0.1:443 + 1 more...",
                                      "5m"]
    assert cells("Endpoints", {"metadata": meta("x")})[1] == "<none>"
    not_ready = {"metadata": meta("x"), "subsets": [{"notReadyAddresses": [{"ip": "10.1.0.9"}],
                                                     "ports": [{"port": 80}]}]}
    assert cells("Endpoints", not_ready)[1] == ""
    headless = {"metadata": meta("h"), "subsets": [{"addresses": [{"ip": "10.1.0.3"}]}]}
    assert cells("Endpoints", headless)[1] == "10.1.0.3"
    six = {"metadata": meta("h"), "subsets": [{"addresses": [{"ip": "fd00::1"}],
                                               "ports": [{"port": 8080}]}]}
    assert cells("Endpoints", six)[1] == "[fd00::1]:8080"


def test_endpointslice_row() -> None:
    assert names("EndpointSlice") == [("Name", 0), ("AddressType", 0), ("Ports", 0),
                                      ("Endpoints", 0), ("Age", 0)]
    eps = {"metadata": meta("web-abc"), "addressType": "IPv4",
           "ports": [{"port": 80, "name": "http"}, {"name": "x"}, {}],
           "endpoints": [{"addresses": [f"10.1.0.{n}"]} for n in range(1, 6)]}
    assert cells("EndpointSlice", eps) == ["web-abc", "IPv4", "80,x,*",
                                           "10.1.0.1,10.1.0.2,10.1.0.3 + 2 more...", "5m"]
    empty: dict[str, Any] = {"metadata": meta("e"), "addressType": "IPv4", "ports": None,
                             "endpoints": []}
    assert cells("EndpointSlice", empty)[2:4] == ["<unset>", "<unset>"]


# -- cluster objects and configuration

def test_namespace_and_node_rows() -> None:
    assert cells("Namespace", {"metadata": meta("default", 86400 * 3),
                               "status": {"phase": "Active"}}) == ["default", "Active", "3d"]
    assert [n for n, _ in names("Node")] == ["Name", "Status", "Roles", "Age", "Version",
                                             "Internal-IP", "External-IP", "OS-Image",
                                             "Kernel-Version", "Container-Runtime"]
    node = {"metadata": meta("localsvc", 30, labels={"node-role.kubernetes.io/control-plane": "",
                                                     "kubernetes.io/role": "worker"}),
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian",
                                    "kernelVersion": "6.1.0"}}}
    assert cells("Node", node) == ["localsvc", "Ready,SchedulingDisabled",
                                   "control-plane,worker", "30s", "v1.32.0", "172.18.0.2",
                                   "<none>", "Debian", "6.1.0", "<unknown>"]
    bare = {"metadata": meta("n")}
    assert cells("Node", bare)[1:3] == ["Unknown", "<none>"]
    node["status"]["conditions"][0]["status"] = "Unknown"
    assert cells("Node", node)[1] == "NotReady,SchedulingDisabled"


def test_configmap_secret_serviceaccount_rows() -> None:
    cm = {"metadata": meta("c"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert cells("ConfigMap", cm) == ["c", 3, "5m"]
    secret = {"metadata": meta("s"), "type": "Opaque", "data": {"k": "dg=="}}
    assert cells("Secret", secret) == ["s", "Opaque", 1, "5m"]
    assert names("Secret") == [("Name", 0), ("Type", 0), ("Data", 0), ("Age", 0)]
    sa = {"metadata": meta("default")}
    assert cells("ServiceAccount", sa) == ["default", 0, "5m"]


def test_event_rows_core_and_events_api() -> None:
    assert [n for n, _ in names("Event")] == ["Last Seen", "Type", "Reason", "Object",
                                              "Subobject", "Source", "Message", "First Seen",
                                              "Count", "Name"]
    core = {"metadata": meta("web.1"), "type": "Normal", "reason": "Pulled",
            "message": " pulled image \n", "count": 3, "firstTimestamp": ago(600),
            "lastTimestamp": ago(20),
            "involvedObject": {"kind": "Pod", "name": "web-1",
                               "fieldPath": "spec.containers{web}"},
            "source": {"component": "kubelet", "host": "localsvc"}}
    assert cells("Event", core) == ["20s", "Normal", "Pulled", "pod/web-1",
                                    "spec.containers{web}", "kubelet, localsvc", "pulled image",
                                    "10m", 3, "web.1"]
    new = {"apiVersion": "events.k8s.io/v1", "metadata": meta("e.2"), "type": "Warning",
           "reason": "BackOff", "note": "restarting", "eventTime": "2026-01-10T11:58:00.000000Z",
           "regarding": {"kind": "Deployment"}, "reportingController": "localsvc-controller",
           "series": {"count": 7, "lastObservedTime": ago(5)}}
    assert cells("Event", new) == ["5s", "Warning", "BackOff", "deployment", "",
                                   "localsvc-controller", "restarting", "2m", 7, "e.2"]
    single = {"metadata": meta("e.3"), "involvedObject": {}}
    row = cells("Event", single)
    assert (row[0], row[7], row[8]) == ("<unknown>", "<unknown>", 1)


def test_other_kinds_get_name_and_age() -> None:
    assert names("PodDisruptionBudget") == [("Name", 0), ("Age", 0)]
    assert cells("PodDisruptionBudget", {"metadata": meta("db", 45)}) == ["db", "45s"]
    assert cells("PodDisruptionBudget", {"metadata": {"name": "x"}}) == ["x", "<unknown>"]
    assert tables.columns("Pod")[0].format == "name"


# -- negotiation

@pytest.mark.parametrize(("accept", "wanted"), [
    ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
     "g=meta.k8s.io,application/json", TableRequest("v1")),
    ("application/json;as=Table;v=v1beta1;g=meta.k8s.io, application/json", TableRequest(
        "v1beta1")),
    ("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,"
     "application/json;as=Table;v=v1;g=meta.k8s.io", TableRequest("v1")),
    ("application/json", None),
    ("*/*", None),
    ("", None),
    ("application/json, application/json;as=Table;v=v1;g=meta.k8s.io", None),
    ("application/json;q=0.5, application/json;as=Table;v=v1;g=meta.k8s.io", TableRequest("v1")),
    ("application/json;as=Table;v=v1;g=meta.k8s.io;q=0, application/json", None),
    ("application/json;as=Table;v=v2;g=meta.k8s.io", None),
    ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json", None),
])
def test_table_request(accept: str, wanted: TableRequest | None) -> None:
    assert table_request(accept) == wanted


def test_table_content_type() -> None:
    assert TableRequest("v1").content_type == "application/json;as=Table;v=v1;g=meta.k8s.io"


# -- column descriptions: the official schemas' field docs, as the printers' SwaggerDoc()

KINDS = ["Pod", "Service", "Deployment", "ReplicaSet", "Endpoints", "EndpointSlice",
         "Namespace", "Node", "ConfigMap", "Secret", "ServiceAccount", "Event", "StatefulSet"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_column_is_described(kind: str) -> None:
    for column in table(kind, [], NOW)["columnDefinitions"]:
        assert column["description"], (kind, column["name"])


def test_descriptions_come_from_the_field_docs() -> None:
    pod_columns = {c["name"]: c["description"] for c in table("Pod", [], NOW)["columnDefinitions"]}
    assert pod_columns["IP"] == ("podIP address allocated to the pod. Routable at least within "
                                 "the cluster. Empty if not yet allocated.")
    assert pod_columns["Ready"] == "The aggregate readiness state of this pod for accepting traffic."
    assert pod_columns["Name"].startswith("Name must be unique within a namespace.")
    assert pod_columns["Age"].startswith("CreationTimestamp is a timestamp representing the "
                                         "server time when this object was created.")
