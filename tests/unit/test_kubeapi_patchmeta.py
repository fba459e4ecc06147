"""Tests of localsvc.model.kubeapi.patchmeta: the generated patch metadata of the API's fields."""

from __future__ import annotations

import json

import pytest

from localsvc.model.kubeapi import patchmeta
from localsvc.model.kubeapi.patchmeta import (
    FieldMeta,
    field,
    known_type,
    root_type,
    type_map_type,
)

SERVED_AND_NEXT = [
    ("v1", "Namespace", "core.v1.Namespace"), ("v1", "Node", "core.v1.Node"),
    ("v1", "Pod", "core.v1.Pod"), ("v1", "Service", "core.v1.Service"),
    ("v1", "Endpoints", "core.v1.Endpoints"), ("v1", "ConfigMap", "core.v1.ConfigMap"),
    ("v1", "Secret", "core.v1.Secret"), ("v1", "ServiceAccount", "core.v1.ServiceAccount"),
    ("v1", "Event", "core.v1.Event"), ("events.k8s.io/v1", "Event", "events.v1.Event"),
    ("discovery.k8s.io/v1", "EndpointSlice", "discovery.v1.EndpointSlice"),
    ("apps/v1", "Deployment", "apps.v1.Deployment"),
    ("apps/v1", "ReplicaSet", "apps.v1.ReplicaSet"),
    ("apps/v1", "StatefulSet", "apps.v1.StatefulSet"),
    ("autoscaling/v1", "Scale", "autoscaling.v1.Scale"),
    ("batch/v1", "Job", "batch.v1.Job"), ("batch/v1", "CronJob", "batch.v1.CronJob"),
    ("v1", "PersistentVolumeClaim", "core.v1.PersistentVolumeClaim"),
    ("v1", "PersistentVolume", "core.v1.PersistentVolume"),
    ("networking.k8s.io/v1", "Ingress", "networking.v1.Ingress"),
    ("networking.k8s.io/v1", "IngressClass", "networking.v1.IngressClass"),
    ("storage.k8s.io/v1", "StorageClass", "storage.v1.StorageClass"),
]


@pytest.mark.parametrize(("api_version", "kind", "expected"), SERVED_AND_NEXT)
def test_root_type_of_every_served_and_next_kind(api_version: str, kind: str,
                                                 expected: str) -> None:
    assert root_type(api_version, kind) == expected
    assert known_type(expected)
    assert field(expected, "metadata") == FieldMeta(
        type="meta.v1.ObjectMeta", list=False, map=False, merge_key=None, strategy=(),
        list_type=None, list_map_keys=(), map_type=None)


def test_unknown_kind_version_type_and_field_are_none() -> None:
    assert root_type("example.com/v1", "Widget") is None
    assert root_type("apps/v1beta1", "Deployment") is None  # a version the server no longer has
    assert root_type("v1", "Deployment") is None  # the kind in the wrong group
    assert field("example.v1.Widget", "spec") is None
    assert field("core.v1.PodSpec", "containerz") is None
    assert not known_type("example.v1.Widget")


def test_data_file_is_small_and_every_named_type_is_there() -> None:
    assert patchmeta.DATA_FILE.stat().st_size < 100_000  # small: read uncompressed
    document = json.loads(patchmeta.DATA_FILE.read_text())
    assert "Kubernetes v1.32" in document["source"]
    for fields in document["types"].values():
        for meta in fields.values():
            assert "t" not in meta or meta["t"] in document["types"]


def test_containers_merge_by_name_and_are_a_map_list() -> None:
    meta = field("core.v1.PodSpec", "containers")
    assert meta == FieldMeta(type="core.v1.Container", list=True, map=False, merge_key="name",
                             strategy=("merge",), list_type="map", list_map_keys=("name",),
                             map_type=None)


def test_container_ports_merge_by_container_port_but_apply_keys_on_port_and_protocol() -> None:
    meta = field("core.v1.Container", "ports")
    assert meta is not None
    assert (meta.merge_key, meta.strategy) == ("containerPort", ("merge",))
    assert meta.list_map_keys == ("containerPort", "protocol")


def test_volumes_merge_by_name_and_retain_keys() -> None:
    meta = field("core.v1.PodSpec", "volumes")
    assert meta is not None
    assert (meta.merge_key, meta.strategy) == ("name", ("merge", "retainKeys"))


def test_deployment_strategy_retains_keys() -> None:
    meta = field("apps.v1.DeploymentSpec", "strategy")
    assert meta is not None
    assert (meta.type, meta.strategy, meta.list) == (
        "apps.v1.DeploymentStrategy", ("retainKeys",), False)


def test_finalizers_are_a_merged_set_of_strings() -> None:
    meta = field("meta.v1.ObjectMeta", "finalizers")
    assert meta is not None
    assert (meta.type, meta.list, meta.strategy, meta.list_type) == (None, True, ("merge",), "set")


def test_tolerations_and_args_have_no_strategy_and_are_atomic() -> None:
    for type_name, name in [("core.v1.PodSpec", "tolerations"), ("core.v1.Container", "args")]:
        meta = field(type_name, name)
        assert meta is not None
        assert (meta.list, meta.merge_key, meta.strategy, meta.list_type) == (
            True, None, (), "atomic")


def test_maps_with_free_keys() -> None:
    labels = field("meta.v1.ObjectMeta", "labels")
    assert labels is not None and labels.map and labels.type is None and labels.map_type is None
    data = field("core.v1.ConfigMap", "data")
    assert data is not None and data.map
    node_selector = field("core.v1.PodSpec", "nodeSelector")
    assert node_selector is not None and node_selector.map and node_selector.map_type == "atomic"


def test_atomic_struct_types_carry_their_map_type_on_the_field() -> None:
    # LabelSelector is `x-kubernetes-map-type: atomic` on its definition: apply replaces it whole.
    selector = field("apps.v1.DeploymentSpec", "selector")
    assert selector is not None
    assert (selector.type, selector.map_type) == ("meta.v1.LabelSelector", "atomic")


@pytest.mark.parametrize(("type_name", "name"), [
    ("core.v1.ResourceRequirements", "limits"),  # map of Quantity
    ("core.v1.ContainerPort", "containerPort"),
    ("core.v1.ServicePort", "targetPort"),  # IntOrString
    ("meta.v1.ObjectMeta", "creationTimestamp"),  # Time
])
def test_scalar_and_free_form_values_have_no_type(type_name: str, name: str) -> None:
    meta = field(type_name, name)
    assert meta is not None and meta.type is None


def test_status_is_walked_for_status_patches() -> None:
    conditions = field("core.v1.PodStatus", "conditions")
    assert conditions is not None
    assert (conditions.type, conditions.merge_key, conditions.strategy) == (
        "core.v1.PodCondition", "type", ("merge",))


def test_atomic_object_types_as_list_items() -> None:
    # imagePullSecrets and ownerReferences items are atomic types: apply replaces each whole.
    pull_secrets = field("core.v1.PodSpec", "imagePullSecrets")
    assert pull_secrets is not None and pull_secrets.type == "core.v1.LocalObjectReference"
    assert type_map_type("core.v1.LocalObjectReference") == "atomic"
    assert type_map_type("meta.v1.OwnerReference") == "atomic"
    assert type_map_type("meta.v1.LabelSelector") == "atomic"
    assert type_map_type("core.v1.Container") is None
    assert type_map_type("example.v1.Widget") is None
