"""The host's side of the Kubernetes API: the paths it asks for, errors from metav1.Status
answers, and list items given back their kind (pure rules, no node)."""

from __future__ import annotations

from typing import Any

import pytest

from localsvc.errors import LocalsvcError, ManifestError, NodeError, NotFound
from localsvc.host.client import error_of
from localsvc.host.kubeobjects import result, typed_items
from localsvc.host.kubepaths import collection_path, object_path, with_query
from localsvc.model.kubeapi.paths import parse
from localsvc.model.kubeapi.resources import by_path


def test_collection_paths_of_core_and_group_kinds() -> None:
    assert collection_path("Pod", "default") == "/api/v1/namespaces/default/pods"
    assert collection_path("Pod") == "/api/v1/pods"
    assert collection_path("Deployment", "shop") == "/apis/apps/v1/namespaces/shop/deployments"
    assert collection_path("EndpointSlice", None) == "/apis/discovery.k8s.io/v1/endpointslices"
    # a cluster-scoped kind has no namespace in its path, whatever the caller gives
    assert collection_path("Namespace", "default") == "/api/v1/namespaces"


def test_object_and_subresource_paths() -> None:
    assert object_path("Service", "default", "web") == "/api/v1/namespaces/default/services/web"
    assert object_path("Deployment", "default", "web", "scale") == \
        "/apis/apps/v1/namespaces/default/deployments/web/scale"
    assert object_path("Namespace", None, "shop") == "/api/v1/namespaces/shop"
    # a name cannot change the path's meaning
    assert object_path("ConfigMap", "default", "a/b?c") == \
        "/api/v1/namespaces/default/configmaps/a%2Fb%3Fc"
    with pytest.raises(LocalsvcError, match="lives in a namespace"):
        object_path("Pod", None, "web")
    with pytest.raises(LocalsvcError, match='serves no kind "HorizontalPodAutoscaler"'):
        collection_path("HorizontalPodAutoscaler")


@pytest.mark.parametrize("kind", ["Pod", "Deployment", "Service", "Endpoints", "EndpointSlice",
                                  "Namespace", "ConfigMap", "Secret"])
def test_every_kind_the_cli_names_has_a_path_the_node_routes(kind: str) -> None:
    target = parse(object_path(kind, "default", "x"))
    resource = by_path(target.group, target.version, target.resource)
    assert resource is not None and resource.kind == kind and target.name == "x"


def test_query_leaves_out_what_is_not_given() -> None:
    assert with_query("/api/v1/pods") == "/api/v1/pods"
    assert with_query("/api/v1/pods", labelSelector=None, fieldSelector="") == "/api/v1/pods"
    assert with_query("/api/v1/pods", labelSelector="app in (a,b)") == \
        "/api/v1/pods?labelSelector=app+in+%28a%2Cb%29"


def test_a_status_answer_becomes_the_error_callers_expect() -> None:
    def status(code: int, reason: str) -> dict[str, object]:
        return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                "reason": reason, "message": f"the {reason} message"}

    missing = error_of(404, status(404, "NotFound"), "Not Found")
    assert isinstance(missing, NotFound) and str(missing) == "the NotFound message"
    invalid = error_of(422, status(422, "Invalid"), "Unprocessable")
    assert type(invalid) is NodeError and str(invalid) == "the Invalid message"
    gone = error_of(410, status(410, "Expired"), "Gone")
    assert type(gone) is NodeError and str(gone) == "the Expired message"


def test_a_private_route_error_keeps_its_problems() -> None:
    problem = {"file": "a.yaml", "line": 3, "kind": "Pod", "name": "p", "path": "spec",
               "message": "bad"}
    err = error_of(422, {"error": "1 problem", "problems": [problem]}, "x")
    assert isinstance(err, ManifestError) and err.problems[0].line == 3
    assert str(error_of(400, {"error": "no such image"}, "x")) == "no such image"
    # a body that is no JSON object: the HTTP reason
    assert str(error_of(502, None, "Bad Gateway")) == "Bad Gateway"


def test_list_items_get_their_kind_and_api_version_back() -> None:
    listing = {"kind": "DeploymentList", "apiVersion": "apps/v1",
               "items": [{"metadata": {"name": "web"}, "spec": {}}]}
    (item,) = typed_items("Deployment", listing)
    assert list(item) == ["apiVersion", "kind", "metadata", "spec"]
    assert (item["apiVersion"], item["kind"]) == ("apps/v1", "Deployment")


def test_results_name_cluster_scoped_objects_without_a_namespace() -> None:
    assert result("Pod", "shop", "web", "deleted") == {
        "kind": "Pod", "namespace": "shop", "name": "web", "action": "deleted"}
    assert result("Namespace", "default", "shop", "not found")["namespace"] == ""


def test_a_deployment_whose_new_spec_is_not_yet_observed_is_not_rolled_out() -> None:
    """Regression: right after an apply the status still describes the previous spec, all
    replicas updated and ready; wait_ready returned there, before the rollout began, and a
    test then found the old pods beside the new one."""
    from localsvc.host.readiness import rolled_out

    complete = {"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2}
    deployment: dict[str, Any] = {"metadata": {"name": "web", "generation": 2},
                                  "spec": {"replicas": 2},
                                  "status": {**complete, "observedGeneration": 1}}
    assert not rolled_out(deployment)
    deployment["status"]["observedGeneration"] = 2
    assert rolled_out(deployment)
    deployment["status"]["readyReplicas"] = 1
    assert not rolled_out(deployment)


def _pod(name: str, ip: str, ready: bool, namespace: str = "default") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "labels": {"app": "web"}},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": str(ready)}],
                       "containerStatuses": [{"ready": ready}]}}


def test_ready_pods_must_be_their_services_endpoints() -> None:
    from localsvc.host.readiness import endpoints_cover_ready_pods

    services: list[dict[str, Any]] = [{"metadata": {"name": "web", "namespace": "default"},
                 "spec": {"selector": {"app": "web"}}},
                {"metadata": {"name": "external", "namespace": "default"}, "spec": {}}]
    pods = [_pod("a", "10.0.0.5", True), _pod("b", "10.0.0.6", False),
            _pod("c", "10.0.0.7", True, namespace="other")]

    def endpoints(*ips: str) -> list[dict[str, Any]]:
        return [{"metadata": {"name": "web", "namespace": "default"},
                 "subsets": [{"addresses": [{"ip": ip} for ip in ips]}]}]

    assert endpoints_cover_ready_pods(pods, endpoints("10.0.0.5"), services)
    assert not endpoints_cover_ready_pods(pods, endpoints(), services)  # not synced yet
    assert not endpoints_cover_ready_pods(pods, [], services)
    assert endpoints_cover_ready_pods([], [], services)


def test_the_wait_names_pods_first_then_deployments() -> None:
    from localsvc.host.readiness import pods_summary, workloads_summary

    pods = [_pod(f"p{n}", f"10.0.0.{n}", False) for n in range(7)]
    text = pods_summary(pods, 9)
    assert text.startswith("waiting for 7/9 pods: p0 (") and "p4 (" in text and "p5" not in text
    assert workloads_summary([{"kind": "Deployment", "metadata": {"name": "web"}}]) == \
        "waiting for deployments: web"
