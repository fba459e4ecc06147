"""The pure views of model/views.py: a pod with status, a Deployment's status, the Namespaces,
the problems an object carries."""

from __future__ import annotations

from typing import Any

from localsvc.model.snapshot import Unserved
from localsvc.model.views import (
    PROBLEMS_ANNOTATION,
    namespace_objects,
    pod_object,
    problems_by_object,
    with_problems,
)

Obj = dict[str, Any]


def deployment(replicas: int) -> Obj:
    return {"kind": "Deployment", "metadata": {"name": "web", "namespace": "default",
                                               "generation": 3},
            "spec": {"replicas": replicas, "template": {}}}


def test_pod_object_is_pending_without_a_worker_and_copied() -> None:
    stored: Obj = {"metadata": {"name": "p", "namespace": "default"}, "spec": {}}
    shown = pod_object(stored, None, None)
    assert shown["status"] == {"phase": "Pending"} and shown["kind"] == "Pod"
    assert shown["spec"]["nodeName"] == "localsvc" and "nodeName" not in stored["spec"]
    assert "deletionTimestamp" not in shown["metadata"]


def test_a_terminating_pod_carries_its_deletion_timestamp_and_worker_status() -> None:
    stored: Obj = {"metadata": {"name": "p", "namespace": "default"}}
    shown = pod_object(stored, {"phase": "Running"}, 0.0 + 86400)
    assert shown["status"] == {"phase": "Running"}
    assert shown["metadata"]["deletionTimestamp"] == "1970-01-02T00:00:00Z"


def test_namespaces_are_the_declared_and_the_used_ones_all_active() -> None:
    declared: Obj = {"kind": "Namespace", "metadata": {"name": "team",
                                                       "labels": {"a": "b"}}}
    out = namespace_objects([declared], {"default", "apps"}, "2026-01-01T00:00:00Z")
    assert [o["metadata"]["name"] for o in out] == ["apps", "default", "team"]
    assert all(o["status"] == {"phase": "Active"} for o in out)
    assert out[2]["metadata"]["labels"] == {"a": "b"} and "status" not in declared
    assert out[0]["metadata"]["creationTimestamp"] == "2026-01-01T00:00:00Z"


def test_problems_go_to_a_service_condition_or_an_annotation() -> None:
    found = problems_by_object([Unserved("Endpoints/default/web", "bad address"),
                                Unserved("Endpoints/default/web", "bad port")])
    endpoints = with_problems({"kind": "Endpoints", "metadata": {"name": "web"}},
                              found["Endpoints/default/web"])
    assert endpoints["metadata"]["annotations"][PROBLEMS_ANNOTATION] == "bad address; bad port"
    service = with_problems({"kind": "Service", "metadata": {"name": "web"}}, ["no IP"])
    assert service["status"]["conditions"][0]["message"] == "no IP"
