"""Tests of localsvc.model.kubeapi.patch: the patches kubectl v1.32 sends (its two- and three-way
strategic merge diffs and merge patches, as they reach the API server; the same bodies are
captured from the real kubectl in tests/net/test_kubectl_patches.py), JSON merge patch and JSON
patch."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from localsvc.model.kubeapi.patch import (
    MAX_JSON_PATCH_OPERATIONS,
    PatchError,
    apply_json_patch,
    apply_merge_patch,
)
from localsvc.model.kubeapi.patchmeta import root_type
from tests.unit.patch_builders import container, deployment, names, pod_spec, smp


# --- the patches kubectl v1.32 sends ---------------------------------------------------------


def test_kubectl_label_and_label_removal() -> None:
    # kubectl label deployment web env=prod tier-: a JSON merge patch (kubectl label and
    # annotate diff with jsonpatch.CreateMergePatch); as a strategic merge patch it is the same.
    patch = {"metadata": {"labels": {"env": "prod", "tier": None}}}
    result = apply_merge_patch(deployment(), patch)
    assert result["metadata"]["labels"] == {"app": "web", "env": "prod"}
    assert smp(patch) == result


def test_kubectl_annotate() -> None:
    # kubectl annotate deployment web note=hi team-
    result = apply_merge_patch(deployment(),
                               {"metadata": {"annotations": {"note": "hi", "team": None}}})
    assert result["metadata"]["annotations"] == {"note": "hi"}


def test_kubectl_set_image() -> None:
    # kubectl set image deployment/web web=nginx:1.26
    result = smp({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}, {"name": "log"}],
        "containers": [{"image": "nginx:1.26", "name": "web"}]}}}})
    assert [c["image"] for c in pod_spec(result)["containers"]] == ["nginx:1.26", "busybox"]
    assert container(result, "web")["ports"] == deployment()["spec"]["template"]["spec"][
        "containers"][0]["ports"]


def test_kubectl_rollout_restart() -> None:
    at = "2026-12-07T06:00:00Z"
    result = smp({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": at}}}}})
    assert result["spec"]["template"]["metadata"] == {
        "labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": at}}


def test_kubectl_scale_patches_the_scale_subresource_with_a_merge_patch() -> None:
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale",
             "metadata": {"name": "web", "namespace": "default"},
             "spec": {"replicas": 2}, "status": {"replicas": 2, "selector": "app=web"}}
    result = apply_merge_patch(scale, {"spec": {"replicas": 5}})
    assert result["spec"] == {"replicas": 5} and result["status"] == scale["status"]
    assert root_type("autoscaling/v1", "Scale") == "autoscaling.v1.Scale"


def test_kubectl_apply_second_time_after_editing_the_manifest() -> None:
    # The manifest of the first apply had the label tier, env A and B on web, its port 80 and
    # the containers web, log; the edited one drops the label tier and env B, changes port 80 to
    # 8080 and adds a container sidecar. kubectl apply's three-way patch (last-applied, edited,
    # live):
    last_applied = "{...the edited manifest...}"
    patch = {
        "metadata": {"annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": last_applied},
            "labels": {"tier": None}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "log"},
                                            {"name": "sidecar"}],
            "containers": [
                {"$setElementOrder/env": [{"name": "A"}],
                 "$setElementOrder/ports": [{"containerPort": 8080}, {"containerPort": 443}],
                 "env": [{"$patch": "delete", "name": "B"}],
                 "name": "web",
                 "ports": [{"containerPort": 8080, "protocol": "TCP"},
                           {"$patch": "delete", "containerPort": 80}]},
                {"image": "envoy", "name": "sidecar"}]}}}}
    result = smp(patch)
    assert result["metadata"]["labels"] == {"app": "web"}
    assert result["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"] == last_applied
    assert names(pod_spec(result)["containers"]) == ["web", "log", "sidecar"]
    web = container(result, "web")
    assert web["env"] == [{"name": "A", "value": "1"}]
    assert web["ports"] == [{"containerPort": 8080, "protocol": "TCP"},
                            {"containerPort": 443, "protocol": "TCP"}]
    assert container(result, "sidecar") == {"image": "envoy", "name": "sidecar"}


def test_kubectl_apply_strategy_change_to_recreate() -> None:
    # kubectl apply of a manifest whose strategy went from RollingUpdate (with rollingUpdate
    # settings) to Recreate.
    result = smp({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": None,
                                        "type": "Recreate"}}})
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_kubectl_patch_strategic_merge_is_the_default_type() -> None:
    # kubectl patch deployment web -p '{"spec":{"template":{"spec":{"containers":[...]}}}}'
    result = smp({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "resources": {"limits": {"cpu": "500m"}}}]}}}})
    assert container(result, "web")["resources"] == {"limits": {"cpu": "500m"}}
    assert names(pod_spec(result)["containers"]) == ["web", "log"]


# --- JSON merge patch -------------------------------------------------------------------------


def test_merge_patch_null_deletes_objects_merge_lists_replace() -> None:
    original = deployment()
    before = copy.deepcopy(original)
    result = apply_merge_patch(original, {
        "metadata": {"labels": {"tier": None, "env": "prod"}},
        "spec": {"template": {"spec": {"containers": [{"name": "only", "image": "x"}]}},
                 "strategy": None}})
    assert original == before
    assert result["metadata"]["labels"] == {"app": "web", "env": "prod"}
    assert pod_spec(result)["containers"] == [{"name": "only", "image": "x"}]
    assert "strategy" not in result["spec"]
    assert pod_spec(result)["volumes"] == pod_spec(before)["volumes"]


def test_merge_patch_nulls_inside_a_new_object_are_dropped() -> None:
    result = apply_merge_patch({"a": 1}, {"b": {"c": None, "d": 2}})
    assert result == {"a": 1, "b": {"d": 2}}


def test_merge_patch_result_shares_nothing_with_the_input() -> None:
    original = deployment()
    result = apply_merge_patch(original, {"spec": {"replicas": 3}})
    result["metadata"]["labels"]["x"] = "y"
    assert "x" not in original["metadata"]["labels"]


@pytest.mark.parametrize("patch", [[{"a": 1}], "x", 3, None])
def test_merge_patch_is_an_object(patch: Any) -> None:
    with pytest.raises(PatchError) as raised:
        apply_merge_patch(deployment(), patch)
    assert raised.value.status == 400


# --- JSON patch -------------------------------------------------------------------------------


def test_json_patch_operations_apply_in_order() -> None:
    original = deployment()
    before = copy.deepcopy(original)
    result = apply_json_patch(original, [
        {"op": "replace", "path": "/spec/replicas", "value": 4},
        {"op": "add", "path": "/metadata/labels/env", "value": "prod"},
        {"op": "remove", "path": "/metadata/labels/tier"},
        {"op": "add", "path": "/spec/template/spec/containers/-",
         "value": {"name": "c", "image": "x"}},
        {"op": "test", "path": "/spec/replicas", "value": 4},
        {"op": "copy", "from": "/metadata/labels", "path": "/metadata/annotations"},
        {"op": "move", "from": "/metadata/finalizers", "path": "/spec/finalizersMoved"},
    ])
    assert original == before
    assert result["spec"]["replicas"] == 4
    assert result["metadata"]["labels"] == {"app": "web", "env": "prod"}
    assert result["metadata"]["annotations"] == {"app": "web", "env": "prod"}
    assert names(pod_spec(result)["containers"]) == ["web", "log", "c"]
    assert "finalizers" not in result["metadata"] and result["spec"]["finalizersMoved"]


@pytest.mark.parametrize(("ops", "status"), [
    ([{"op": "remove", "path": "/metadata/nothere"}], 422),
    ([{"op": "test", "path": "/spec/replicas", "value": 9}], 422),
    ([{"op": "replace", "path": "/spec/template/spec/containers/7/image", "value": "x"}], 422),
    ([{"op": "frobnicate", "path": "/spec"}], 400),
    ([{"op": "add", "path": "/spec/x"}], 400),  # no value
    ([{"path": "/spec"}], 400),
    ({"op": "add"}, 400),
])
def test_json_patch_errors(ops: Any, status: int) -> None:
    original = deployment()
    with pytest.raises(PatchError) as raised:
        apply_json_patch(original, ops)
    assert raised.value.status == status
    assert original == deployment()


def test_json_patch_is_all_or_nothing() -> None:
    original = deployment()
    with pytest.raises(PatchError):
        apply_json_patch(original, [{"op": "replace", "path": "/spec/replicas", "value": 9},
                                    {"op": "remove", "path": "/nothere"}])
    assert original["spec"]["replicas"] == 2


def test_json_patch_longer_than_the_server_allows_is_too_large() -> None:
    ops = [{"op": "test", "path": "/kind", "value": "Deployment"}] * (MAX_JSON_PATCH_OPERATIONS + 1)
    with pytest.raises(PatchError) as raised:
        apply_json_patch(deployment(), ops)
    assert raised.value.status == 413


def test_patch_results_are_json() -> None:
    result = smp({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "y"}]}}}})
    assert json.loads(json.dumps(result)) == result
