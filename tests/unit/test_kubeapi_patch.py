"""Tests of localsvc.model.kubeapi.strategicmerge through patch.apply_strategic_merge_patch: the
API server's strategic merge patch, rule by rule (the patches kubectl sends:
test_kubeapi_patch_kubectl.py and tests/net/test_kubectl_patches.py)."""

from __future__ import annotations

import time

import pytest

from localsvc.model.kubeapi.patch import PatchError, apply_strategic_merge_patch
from localsvc.model.kubeapi.patchmeta import root_type
from tests.unit.patch_builders import DEPLOYMENT, container, deployment, names, pod_spec, smp


# --- strategic merge patch: the rules one by one ---------------------------------------------


def test_containers_merge_by_name_new_ones_first_as_the_server_orders_them() -> None:
    result = smp({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.26"}, {"name": "sidecar", "image": "envoy"}]}}}})
    # Patched items first in patch order, then the live-only ones (kubectl patch docs: the
    # added patch-demo-ctr-2 comes before patch-demo-ctr).
    assert names(pod_spec(result)["containers"]) == ["web", "sidecar", "log"]
    web = container(result, "web")
    assert web["image"] == "nginx:1.26"
    assert web["env"] == deployment()["spec"]["template"]["spec"]["containers"][0]["env"]


def test_a_live_item_before_a_patched_one_keeps_its_place() -> None:
    result = smp({"spec": {"template": {"spec": {"containers": [
        {"name": "log", "image": "busybox:2"}]}}}})
    assert names(pod_spec(result)["containers"]) == ["web", "log"]


def test_env_merges_by_name() -> None:
    result = smp({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}]}}}})
    assert container(result, "web")["env"] == [
        {"name": "A", "value": "1"}, {"name": "B", "value": "20"}, {"name": "C", "value": "3"}]


def test_ports_merge_by_container_port() -> None:
    result = smp({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "ports": [{"containerPort": 443, "name": "https"}]}]}}}})
    assert container(result, "web")["ports"] == [
        {"containerPort": 80, "protocol": "TCP"},
        {"containerPort": 443, "protocol": "TCP", "name": "https"}]


def test_volumes_merge_by_name_and_a_replaced_source_keeps_no_old_keys_with_retain_keys() -> None:
    result = smp({"spec": {"template": {"spec": {"volumes": [
        {"$retainKeys": ["name", "secret"], "name": "conf", "secret": {"secretName": "s"}}]}}}})
    assert pod_spec(result)["volumes"] == [
        {"name": "data", "emptyDir": {}}, {"name": "conf", "secret": {"secretName": "s"}}]


def test_tolerations_have_no_strategy_and_are_replaced() -> None:
    result = smp({"spec": {"template": {"spec": {"tolerations": [
        {"key": "k2", "operator": "Exists"}]}}}})
    assert pod_spec(result)["tolerations"] == [{"key": "k2", "operator": "Exists"}]


def test_args_are_replaced() -> None:
    result = smp({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "args": ["--three"]}]}}}})
    assert container(result, "web")["args"] == ["--three"]


def test_finalizers_merge_as_a_set() -> None:
    result = smp({"metadata": {"finalizers": ["c.example/z", "a.example/x"]}})
    # Deduplicated; the patch's items first in its order, b (live only) after a, as it was live.
    assert result["metadata"]["finalizers"] == ["c.example/z", "a.example/x", "b.example/y"]


def test_delete_from_primitive_list() -> None:
    result = smp({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example/x"]}})
    assert result["metadata"]["finalizers"] == ["b.example/y"]


def test_patch_delete_removes_a_container_by_name() -> None:
    result = smp({"spec": {"template": {"spec": {"containers": [
        {"$patch": "delete", "name": "log"}]}}}})
    assert names(pod_spec(result)["containers"]) == ["web"]


def test_patch_replace_in_a_list_replaces_it() -> None:
    result = smp({"spec": {"template": {"spec": {"containers": [
        {"name": "only", "image": "x"}, {"$patch": "replace"}]}}}})
    assert pod_spec(result)["containers"] == [{"name": "only", "image": "x"}]


def test_patch_replace_in_an_object_replaces_it() -> None:
    result = smp({"metadata": {"labels": {"$patch": "replace", "new": "1"}}})
    assert result["metadata"]["labels"] == {"new": "1"}


def test_patch_delete_in_an_object_empties_it() -> None:
    result = smp({"spec": {"strategy": {"$patch": "delete"}}})
    assert result["spec"]["strategy"] == {}


def test_patch_merge_in_an_object_is_refused_as_the_server_does() -> None:
    # strategicpatch handleDirectiveInMergeMap knows replace and delete only.
    with pytest.raises(PatchError) as raised:
        smp({"metadata": {"labels": {"$patch": "merge", "x": "1"}}})
    assert raised.value.status == 500 and "unknown patch type" in raised.value.message
    assert "metadata.labels" in raised.value.message


def test_patch_merge_in_a_list_is_refused_as_the_server_does() -> None:
    with pytest.raises(PatchError) as raised:
        smp({"spec": {"template": {"spec": {"containers": [{"$patch": "merge"}]}}}})
    assert raised.value.status == 500
    assert "merging lists cannot yet be specified" in raised.value.message


def test_set_element_order_orders_the_merged_list() -> None:
    result = smp({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "log"}, {"name": "web"}],
        "containers": [{"name": "web", "image": "nginx:1.26"}]}}}})
    assert names(pod_spec(result)["containers"]) == ["log", "web"]
    assert container(result, "web")["image"] == "nginx:1.26"


def test_set_element_order_of_a_primitive_list() -> None:
    result = smp({"metadata": {"$setElementOrder/finalizers": ["b.example/y", "a.example/x"]}})
    assert result["metadata"]["finalizers"] == ["b.example/y", "a.example/x"]


def test_set_element_order_that_contradicts_the_patch_list_is_refused() -> None:
    with pytest.raises(PatchError) as raised:
        smp({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "log"}],
            "containers": [{"name": "log"}, {"name": "web"}]}}}})
    assert "doesn't match $setElementOrder list" in raised.value.message


def test_retain_keys_switching_strategy_from_rolling_update_to_recreate() -> None:
    # What kubectl apply sends when the manifest's strategy changes type: the union's other
    # member is cleared on the server (DeploymentSpec.strategy: patchStrategy retainKeys).
    result = smp({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate",
                                        "rollingUpdate": None}}})
    assert result["spec"]["strategy"] == {"type": "Recreate"}
    without_directive = smp({"spec": {"strategy": {"type": "Recreate"}}})
    assert "rollingUpdate" in without_directive["spec"]["strategy"]


def test_retain_keys_refuses_a_patch_setting_a_key_it_does_not_retain() -> None:
    with pytest.raises(PatchError) as raised:
        smp({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate",
                                   "rollingUpdate": {"maxSurge": 1}}}})
    assert raised.value.status == 400 and "rollingUpdate" in raised.value.message


def test_null_deletes_a_field_and_a_label() -> None:
    result = smp({"metadata": {"labels": {"tier": None}, "annotations": None},
                  "spec": {"strategy": {"rollingUpdate": None}}})
    assert result["metadata"]["labels"] == {"app": "web"}
    assert "annotations" not in result["metadata"]
    assert result["spec"]["strategy"] == {"type": "RollingUpdate"}


def test_null_of_an_absent_field_is_dropped() -> None:
    result = smp({"metadata": {"labels": {"nothere": None}}, "spec": {"paused": None}})
    assert result["metadata"]["labels"] == {"app": "web", "tier": "fe"}
    assert "paused" not in result["spec"]


def test_a_new_subtree_loses_its_directives_and_nulls() -> None:
    obj = deployment()
    del obj["spec"]["template"]["spec"]["volumes"]
    result = smp({"spec": {"template": {"spec": {
        "$setElementOrder/volumes": [{"name": "v"}],
        "volumes": [{"name": "v", "emptyDir": {}, "hostPath": None}]}}}}, obj)
    assert pod_spec(result)["volumes"] == [{"name": "v", "emptyDir": {}}]


def test_a_map_of_free_keys_merges_key_by_key() -> None:
    result = smp({"spec": {"template": {"spec": {"nodeSelector": {"disk": "ssd"}}}}})
    assert pod_spec(result)["nodeSelector"] == {"disk": "ssd"}
    again = smp({"spec": {"template": {"spec": {"nodeSelector": {"zone": "a"}}}}}, result)
    assert pod_spec(again)["nodeSelector"] == {"disk": "ssd", "zone": "a"}


def test_a_value_of_another_json_type_replaces() -> None:
    result = smp({"spec": {"replicas": "3", "template": {"spec": {"containers": {"x": 1}}}}})
    assert result["spec"]["replicas"] == "3"
    assert pod_spec(result)["containers"] == {"x": 1}


def test_a_list_element_without_its_merge_key_is_refused() -> None:
    with pytest.raises(PatchError) as raised:
        smp({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})
    assert raised.value.status == 500
    assert "does not contain declared merge key: name" in raised.value.message
    assert "spec.template.spec.containers" in raised.value.message


def test_a_list_of_lists_is_refused_with_422() -> None:
    with pytest.raises(PatchError) as raised:
        smp({"metadata": {"finalizers": [["a"]]}})
    assert raised.value.status == 422 and "lists of lists" in raised.value.message


@pytest.mark.parametrize("key", ["$setElementOrder", "$deleteFromPrimitiveListfinalizers"])
def test_a_malformed_directive_key_is_a_bad_request(key: str) -> None:
    with pytest.raises(PatchError) as raised:
        smp({"metadata": {key: ["x"]}})
    assert raised.value.status == 400 and "invalid patch format" in raised.value.message


def test_unknown_fields_merge_like_a_merge_patch() -> None:
    obj = deployment()
    obj["spec"]["extra"] = {"a": [1, 2], "b": {"c": 1}}
    result = smp({"spec": {"extra": {"a": [3], "b": {"d": 2}}}}, obj)
    assert result["spec"]["extra"] == {"a": [3], "b": {"c": 1, "d": 2}}


def test_status_conditions_merge_by_type() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "status": {"conditions": [{"type": "Ready", "status": "False"},
                                     {"type": "PodScheduled", "status": "True"}]}}
    result = smp({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, pod,
                 "core.v1.Pod")
    assert result["status"]["conditions"] == [{"type": "Ready", "status": "True"},
                                              {"type": "PodScheduled", "status": "True"}]


def test_a_kind_without_patch_metadata_is_refused_with_415() -> None:
    assert root_type("example.com/v1", "Widget") is None
    with pytest.raises(PatchError) as raised:
        apply_strategic_merge_patch({"spec": {}}, {"spec": {"a": 1}}, None)
    assert raised.value.status == 415
    assert "application/merge-patch+json" in raised.value.message


def test_a_strategic_merge_patch_is_an_object() -> None:
    with pytest.raises(PatchError) as raised:
        apply_strategic_merge_patch(deployment(), [{"op": "remove"}], DEPLOYMENT)
    assert raised.value.status == 400


# --- identities and size ----------------------------------------------------------------------


def test_merge_key_values_compare_as_go_compares_decoded_json() -> None:
    # 443 and 443.0 are one port (Go decodes both to float64); true and 1 are two scalars.
    result = smp({"spec": {"template": {"spec": {"containers": [
        {"name": "web", "ports": [{"containerPort": 443.0, "name": "https"}]}]}}}})
    assert [p["containerPort"] for p in container(result, "web")["ports"]] == [80, 443]
    obj = deployment()
    obj["metadata"]["finalizers"] = [1, 2]
    with pytest.raises(PatchError):  # mixed element types, as the server refuses them
        smp({"metadata": {"finalizers": [True]}}, obj)


def test_long_lists_merge_in_linear_time() -> None:
    # Regression: membership tests by scanning made a 3,000-item env merge take ~8 s.
    size = 3000
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": f"E{i}", "value": "x"} for i in range(size)]
    obj["metadata"]["finalizers"] = [f"f{i}" for i in range(size)]
    patch = {"metadata": {"finalizers": [f"f{i}" for i in range(0, 2 * size, 3)],
                          "$deleteFromPrimitiveList/finalizers": [
                              f"f{i}" for i in range(0, size, 5)]},
             "spec": {"template": {"spec": {"containers": [{
                 "name": "web",
                 "$setElementOrder/env": [{"name": f"E{i}"} for i in reversed(range(size))],
                 "env": [{"name": f"E{i}", "value": "y"} for i in reversed(range(0, size, 2))]
                 + [{"$patch": "delete", "name": f"E{i}"} for i in range(1, size, 4)]}]}}}}
    started = time.monotonic()
    result = smp(patch, obj)
    assert time.monotonic() - started < 3.0
    env = container(result, "web")["env"]
    assert len(env) == size - size // 4
    assert [e["name"] for e in env] == [f"E{i}" for i in reversed(range(size)) if i % 4 != 1]


def test_service_ports_merge_by_port_and_the_selector_merges_key_by_key() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web"}, "type": "ClusterIP",
                        "clusterIP": "10.96.0.10",
                        "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"},
                                  {"port": 443, "targetPort": 8443, "protocol": "TCP"}]}}
    service_type = root_type("v1", "Service")
    assert service_type == "core.v1.Service"
    # kubectl apply of a manifest that moved 80's target port, dropped 443 and added 9090.
    result = smp({"spec": {
        "$setElementOrder/ports": [{"port": 80}, {"port": 9090}],
        "ports": [{"port": 80, "targetPort": 8081}, {"port": 9090, "targetPort": 9090},
                  {"$patch": "delete", "port": 443}],
        "selector": {"tier": "fe"}}}, service, service_type)
    assert result["spec"]["ports"] == [{"port": 80, "targetPort": 8081, "protocol": "TCP"},
                                       {"port": 9090, "targetPort": 9090}]
    assert result["spec"]["selector"] == {"app": "web", "tier": "fe"}
    assert result["spec"]["clusterIP"] == "10.96.0.10"
