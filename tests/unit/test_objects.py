"""Tests of localsvc.model.objects: kind names, comparison for apply, stamping, Secret output."""

from __future__ import annotations

import base64
import copy
import re
from typing import Any

import pytest

from localsvc.model import objects
from localsvc.model.objects import (
    api_version_of,
    comparable,
    kind_of,
    now_iso,
    secret_for_output,
    stamp,
)

Obj = dict[str, Any]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("pods", "Pod"), ("pod", "Pod"), ("po", "Pod"), ("Pod", "Pod"), ("PODS", "Pod"),
        ("deployments", "Deployment"), ("deployment", "Deployment"), ("deploy", "Deployment"),
        ("services", "Service"), ("service", "Service"), ("svc", "Service"), ("SVC", "Service"),
        ("endpoints", "Endpoints"), ("ep", "Endpoints"),
        ("endpointslices", "EndpointSlice"), ("endpointslice", "EndpointSlice"), ("EndpointSlice", "EndpointSlice"),
        ("namespaces", "Namespace"), ("ns", "Namespace"),
        ("configmaps", "ConfigMap"), ("cm", "ConfigMap"), ("ConfigMap", "ConfigMap"),
        ("secrets", "Secret"), ("secret", "Secret"),
        ("ingress", "Ingress"), ("hpa", None), ("foo", None), ("", None), ("s", None),
    ],
)
def test_kind_of(text: str, kind: str | None) -> None:
    assert kind_of(text) == kind


@pytest.mark.parametrize(
    ("kind", "version"),
    [("Deployment", "apps/v1"), ("EndpointSlice", "discovery.k8s.io/v1"), ("Service", "v1"), ("Pod", "v1")],
)
def test_api_version_of(kind: str, version: str) -> None:
    assert api_version_of(kind) == version


def test_now_iso() -> None:
    assert now_iso(0) == "1970-01-01T00:00:00Z"
    assert now_iso(1_700_000_000.9) == "2023-11-14T22:13:20Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now_iso())


SERVER_OBJ: Obj = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {
        "name": "web",
        "uid": "u-1",
        "resourceVersion": "42",
        "creationTimestamp": "2024-01-01T00:00:00Z",
        "generation": 3,
        "managedFields": [{"manager": "kubectl"}],
        "labels": {"app": "web"},
        "annotations": {LAST_APPLIED: "{...}", "team": "core"},
    },
    "spec": {"ports": [{"port": 80}]},
    "status": {"loadBalancer": {}},
}


def test_comparable_strips_server_fields_and_last_applied() -> None:
    original = copy.deepcopy(SERVER_OBJ)
    assert comparable(SERVER_OBJ) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"},
                     "annotations": {"team": "core"}},
        "spec": {"ports": [{"port": 80}]},
    }
    assert SERVER_OBJ == original  # input untouched


@pytest.mark.parametrize(
    ("obj", "expected_meta"),
    [
        ({"kind": "ConfigMap", "metadata": {"name": "c", "annotations": {LAST_APPLIED: "x"}}},
         {"name": "c", "namespace": "default"}),  # annotations emptied -> removed
        ({"kind": "Namespace", "metadata": {"name": "shop", "annotations": {}}}, {"name": "shop"}),
        ({"kind": "Pod", "metadata": {"name": "p", "namespace": "shop"}}, {"name": "p", "namespace": "shop"}),
        ({"kind": "Secret"}, {"namespace": "default"}),
    ],
)
def test_comparable_metadata(obj: Obj, expected_meta: Obj) -> None:
    assert comparable(obj)["metadata"] == expected_meta


def test_comparable_equal_for_applied_and_stored_versions() -> None:
    applied = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"app": "web"},
                                                                   "annotations": {"team": "core"}},
               "spec": {"ports": [{"port": 80}]}}
    assert comparable(applied) == comparable(SERVER_OBJ)


def _deployment(image: str, labels: dict[str, str] | None = None) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels or {"app": "web"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}


def test_stamp_new_object() -> None:
    stored = stamp(_deployment("nginx:1"), None)
    meta = stored["metadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert meta["generation"] == 1
    assert meta["namespace"] == "default"
    assert meta["resourceVersion"].isdigit()
    assert stamp(_deployment("nginx:1"), None)["metadata"]["uid"] != meta["uid"]


@pytest.mark.parametrize(
    ("new", "generation"),
    [
        (_deployment("nginx:1"), 1),  # unchanged
        (_deployment("nginx:1", labels={"app": "web", "extra": "1"}), 1),  # metadata only
        (_deployment("nginx:2"), 2),  # spec changed
    ],
)
def test_stamp_keeps_identity_and_bumps_generation_on_spec_change(new: Obj, generation: int) -> None:
    first = stamp(_deployment("nginx:1"), None)
    again = stamp(new, first)
    assert again["metadata"]["uid"] == first["metadata"]["uid"]
    assert again["metadata"]["creationTimestamp"] == first["metadata"]["creationTimestamp"]
    assert again["metadata"]["generation"] == generation
    assert again["spec"] == new["spec"]


def test_stamp_generation_counts_up_and_ignores_server_fields_in_input() -> None:
    stored = stamp(_deployment("nginx:1"), None)
    for n, image in enumerate(["nginx:2", "nginx:3", "nginx:3"], start=2):
        applied = _deployment(image)
        applied["metadata"]["uid"] = "forged"
        applied["status"] = {"readyReplicas": 9}
        stored = stamp(applied, stored)
        assert stored["metadata"]["uid"] != "forged"
        assert "status" not in stored
    assert stored["metadata"]["generation"] == 3


def test_stamp_resource_version_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([1_000_000_000, 2_000_000_000])
    monkeypatch.setattr(objects.time, "time_ns", lambda: next(clock))
    first = stamp(_deployment("nginx:1"), None)
    second = stamp(_deployment("nginx:1"), first)
    assert (first["metadata"]["resourceVersion"], second["metadata"]["resourceVersion"]) == ("1000000", "2000000")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("secret", "data", "type_"),
    [
        ({"kind": "Secret", "stringData": {"user": "admin"}}, {"user": b64("admin")}, "Opaque"),
        ({"kind": "Secret", "data": {"a": b64("1")}, "stringData": {"b": "2"}}, {"a": b64("1"), "b": b64("2")},
         "Opaque"),
        ({"kind": "Secret", "data": {"a": b64("old")}, "stringData": {"a": "new"}}, {"a": b64("new")}, "Opaque"),
        ({"kind": "Secret", "stringData": {"port": 5432}}, {"port": b64("5432")}, "Opaque"),
        ({"kind": "Secret", "type": "kubernetes.io/tls", "data": {"tls.crt": b64("c")}}, {"tls.crt": b64("c")},
         "kubernetes.io/tls"),
        ({"kind": "Secret"}, {}, "Opaque"),
    ],
)
def test_secret_for_output(secret: Obj, data: dict[str, str], type_: str) -> None:
    original = copy.deepcopy(secret)
    out = secret_for_output(secret)
    assert "stringData" not in out
    assert out["data"] == data
    assert out["type"] == type_
    assert secret == original


def test_one_owner_reference_for_every_controller() -> None:
    from localsvc.model import replicasets, statefulsets
    from localsvc.model.objects import owner_reference
    from localsvc.node import batchpods, objectstore

    assert objectstore.owner_reference is owner_reference is batchpods.owner_reference
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "m", "uid": "u1"}}
    assert owner_reference(job) == {"apiVersion": "batch/v1", "kind": "Job", "name": "m",
                                    "uid": "u1", "controller": True, "blockOwnerDeletion": True}
    sts = {"kind": "StatefulSet", "metadata": {"name": "db", "uid": "u2"}}
    assert statefulsets.set_owner_reference(sts, controller=False) == {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "u2",
        "blockOwnerDeletion": True}  # a claim's reference: no `controller` field
    assert replicasets.pod_owner_reference("web", "abc", "u3") == owner_reference(
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": "web-abc", "uid": "u3"}})
