"""Server-side apply and field ownership: merge, prune, conflicts, managedFields entries."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from localsvc.model.kubeapi.managedfields import decode_managers
from localsvc.model.kubeapi.ssa import (
    ApplyConflict, InvalidApply, owned_paths, server_side_apply, track_update,
)
from tests.unit.test_kubeapi_fieldset import SCHEMA

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"


def thing(**spec: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"apiVersion": "test/v1", "kind": "Thing", "metadata": {"name": "t"}}
    if spec:
        config["spec"] = spec
    return config


def apply(live: dict[str, Any] | None, applied: dict[str, Any], manager: str,
          force: bool = False, now: str = T1) -> dict[str, Any]:
    return server_side_apply(live, applied, manager, force, now, schema=SCHEMA)


def entries(obj: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(e["manager"], e["operation"], e.get("time")) for e in obj["metadata"]["managedFields"]]


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# -- the real schema: what a real API server writes ---------------------------------------------

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "nginx", "namespace": "default", "labels": {"app": "nginx"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "nginx"}},
             "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [
                 {"name": "nginx", "image": "nginx:1.27",
                  "env": [{"name": "MY_NODE_NAME",
                           "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                  "ports": [{"containerPort": 80}]}]}}},
}


def test_created_by_apply_the_entry_is_the_servers_byte_for_byte() -> None:
    # A real API server's entry for this Deployment (kubernetes 1.30+, fieldsV1 as served).
    created = server_side_apply(None, DEPLOYMENT, "kubectl", False, T0)
    assert created["metadata"]["managedFields"] == [{
        "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0,
        "fieldsType": "FieldsV1", "fieldsV1": created["metadata"]["managedFields"][0]["fieldsV1"]}]
    assert compact(created["metadata"]["managedFields"][0]["fieldsV1"]) == (
        '{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},'
        '"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":'
        '{"k:{\\"name\\":\\"nginx\\"}":{".":{},"f:env":{"k:{\\"name\\":\\"MY_NODE_NAME\\"}":'
        '{".":{},"f:name":{},"f:valueFrom":{"f:fieldRef":{}}}},"f:image":{},"f:name":{},'
        '"f:ports":{"k:{\\"containerPort\\":80,\\"protocol\\":\\"TCP\\"}":{".":{},'
        '"f:containerPort":{}}}}}}}}}')
    assert created["spec"] == DEPLOYMENT["spec"]


def test_configmap_of_the_docs_example() -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "test-cm", "namespace": "default",
                           "labels": {"test-label": "test"}},
              "data": {"key": "some value"}}
    entry = server_side_apply(None, config, "kubectl", False, T0)["metadata"]["managedFields"][0]
    assert entry["fieldsV1"] == {"f:data": {"f:key": {}},
                                 "f:metadata": {"f:labels": {"f:test-label": {}}}}


def test_client_side_apply_then_server_side_apply_conflicts_on_replicas() -> None:
    created = track_update(None, DEPLOYMENT, "kubectl-client-side-apply", T0,
                           operation="Update")
    entry = created["metadata"]["managedFields"][0]
    # An update owns the objects it added itself too (".": labels), unlike an apply.
    assert entry["fieldsV1"]["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
    changed = copy.deepcopy(DEPLOYMENT)
    changed["spec"]["replicas"] = 3
    with pytest.raises(ApplyConflict) as raised:
        server_side_apply(created, changed, "kubectl", False, T1)
    assert raised.value.message == ('Apply failed with 1 conflict: conflict with '
                                    '"kubectl-client-side-apply" using apps/v1: .spec.replicas')
    assert raised.value.status()["details"]["causes"] == [{
        "type": "FieldManagerConflict", "field": ".spec.replicas",
        "message": 'conflict with "kubectl-client-side-apply" using apps/v1'}]
    assert raised.value.status()["code"] == 409
    assert raised.value.status()["reason"] == "Conflict"


def test_scale_then_apply_names_the_subresource() -> None:
    created = server_side_apply(None, DEPLOYMENT, "kubectl", False, T0)
    scaled = copy.deepcopy(created)
    scaled["spec"]["replicas"] = 5
    scaled = track_update(created, scaled, "kubectl", T1, subresource="scale")
    assert scaled["metadata"]["managedFields"][1] == {
        "manager": "kubectl", "operation": "Update", "apiVersion": "apps/v1", "time": T1,
        "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}},
        "subresource": "scale"}
    assert ("f:spec", "f:replicas") not in owned_paths(scaled, "kubectl")
    with pytest.raises(ApplyConflict, match='"kubectl" with subresource "scale" using apps/v1'):
        server_side_apply(scaled, DEPLOYMENT, "kubectl", False, T2)


# -- the rules, on a tiny schema ----------------------------------------------------------------

def test_reapply_unchanged_changes_nothing() -> None:
    created = apply(None, thing(replicas=1, args=["a"]), "a", now=T0)
    again = apply(created, thing(replicas=1, args=["a"]), "a", now=T1)
    assert again == created
    assert entries(again) == [("a", "Apply", T0)]


def test_a_change_updates_the_value_and_the_time() -> None:
    created = apply(None, thing(replicas=1), "a", now=T0)
    changed = apply(created, thing(replicas=2), "a", now=T1)
    assert changed["spec"] == {"replicas": 2}
    assert entries(changed) == [("a", "Apply", T1)]


def test_a_field_no_longer_applied_is_removed() -> None:
    config = thing(replicas=1, extra="x")
    config["metadata"]["labels"] = {"a": "1", "b": "2"}
    created = apply(None, config, "a")
    smaller = thing(replicas=1)
    smaller["metadata"]["labels"] = {"a": "1"}
    after = apply(created, smaller, "a")
    assert after["spec"] == {"replicas": 1}
    assert after["metadata"]["labels"] == {"a": "1"}
    fewer = apply(after, thing(replicas=1), "a")
    assert "labels" not in fewer["metadata"]  # the emptied map goes too


def test_fields_nobody_applied_stay_when_a_manager_drops_its_own() -> None:
    created = apply(None, thing(replicas=1, extra="x"), "a")
    created["spec"]["defaulted"] = 10  # set by the server, owned by nobody
    after = apply(created, thing(replicas=1), "a")
    assert after["spec"] == {"replicas": 1, "defaulted": 10}


def test_another_applier_conflicts_and_force_takes_the_field() -> None:
    created = apply(None, thing(replicas=1, extra="x"), "a", now=T0)
    with pytest.raises(ApplyConflict) as raised:
        apply(created, thing(replicas=3), "b")
    assert raised.value.conflicts == [('"a"', ".spec.replicas")]
    assert raised.value.message == 'Apply failed with 1 conflict: conflict with "a": .spec.replicas'
    forced = apply(created, thing(replicas=3), "b", force=True, now=T1)
    assert forced["spec"] == {"replicas": 3, "extra": "x"}
    assert owned_paths(forced, "a") == [("f:spec", "f:extra")]
    assert owned_paths(forced, "b") == [("f:spec", "f:replicas")]
    # "a" no longer owns replicas: dropping it from a's config leaves b's value.
    later = apply(forced, thing(extra="x"), "a")
    assert later["spec"]["replicas"] == 3


def test_several_conflicts_are_listed_by_manager() -> None:
    one = apply(None, thing(replicas=1), "a")
    two = apply(one, thing(extra="x"), "b")
    with pytest.raises(ApplyConflict) as raised:
        apply(two, thing(replicas=2, extra="y"), "c")
    assert raised.value.message == (
        'Apply failed with 2 conflicts: conflicts with "a":\n- .spec.replicas\n'
        'conflicts with "b":\n- .spec.extra')
    assert len(raised.value.status()["details"]["causes"]) == 2


def test_equal_values_are_shared_and_survive_one_owner_leaving() -> None:
    created = apply(None, thing(replicas=2, extra="x"), "a")
    shared = apply(created, thing(replicas=2), "b")
    assert owned_paths(shared, "a") == [("f:spec", "f:extra"), ("f:spec", "f:replicas")]
    assert owned_paths(shared, "b") == [("f:spec", "f:replicas")]
    left = apply(shared, thing(extra="x"), "a")
    assert left["spec"] == {"replicas": 2, "extra": "x"}
    with pytest.raises(ApplyConflict, match='conflict with "b": .spec.replicas'):
        apply(left, thing(replicas=4, extra="x"), "a")


def test_map_lists_merge_by_key_and_each_manager_removes_only_its_items() -> None:
    created = apply(None, thing(items=[{"name": "web", "image": "w:1"}]), "a")
    both = apply(created, thing(items=[{"name": "side", "image": "s:1"}]), "b")
    assert both["spec"]["items"] == [{"name": "web", "image": "w:1"},
                                     {"name": "side", "image": "s:1"}]
    updated = apply(both, thing(items=[{"name": "web", "image": "w:2"}]), "a")
    assert updated["spec"]["items"] == [{"name": "web", "image": "w:2"},
                                        {"name": "side", "image": "s:1"}]
    gone = apply(updated, thing(), "b")
    assert gone["spec"]["items"] == [{"name": "web", "image": "w:2"}]


def test_a_field_of_anothers_item_keeps_the_item() -> None:
    created = apply(None, thing(items=[{"name": "web", "image": "w:1"}]), "a")
    env = apply(created, thing(items=[{"name": "web", "env": {"K": "v"}}]), "b")
    assert env["spec"]["items"] == [{"name": "web", "image": "w:1", "env": {"K": "v"}}]
    dropped = apply(env, thing(), "a")
    assert dropped["spec"]["items"] == [{"name": "web", "env": {"K": "v"}}]


def test_sets_are_unioned_and_each_owner_removes_its_values() -> None:
    def with_finalizers(*names: str) -> dict[str, Any]:
        config = thing()
        config["metadata"]["finalizers"] = list(names)
        return config

    created = apply(None, with_finalizers("x/a"), "a")
    both = apply(created, with_finalizers("x/b"), "b")
    assert both["metadata"]["finalizers"] == ["x/a", "x/b"]
    assert owned_paths(both, "b") == [("f:metadata", "f:finalizers", 'v:"x/b"')]
    only_b = apply(both, thing(), "a")
    assert only_b["metadata"]["finalizers"] == ["x/b"]


def test_atomic_lists_are_replaced_whole() -> None:
    created = apply(None, thing(args=["a", "b"]), "a")
    assert apply(created, thing(args=["c"]), "a")["spec"]["args"] == ["c"]
    with pytest.raises(ApplyConflict, match=r"\.spec\.args"):
        apply(created, thing(args=["a", "b", "c"]), "b")


def test_status_is_not_applied_to_the_main_resource() -> None:
    config = thing(replicas=1)
    config["status"] = {"ready": True}
    created = apply(None, config, "a")
    assert "status" not in created
    assert owned_paths(created, "a") == [("f:spec", "f:replicas")]


def test_an_untracked_object_is_owned_by_before_first_apply() -> None:
    live = thing(replicas=1, extra="x")
    with pytest.raises(ApplyConflict, match='"before-first-apply" using test/v1: .spec.replicas'):
        apply(live, thing(replicas=2), "a")
    assert apply(live, thing(replicas=1), "a")["spec"] == {"replicas": 1, "extra": "x"}


def test_an_update_takes_changed_fields_and_drops_removed_ones() -> None:
    created = apply(None, thing(replicas=1, extra="x"), "a", now=T0)
    edited = copy.deepcopy(created)
    edited["spec"] = {"replicas": 4}
    after = track_update(created, edited, "kubectl-edit", T1)
    # "a" lost replicas (changed) and extra (removed): a manager owning nothing has no entry.
    assert entries(after) == [("kubectl-edit", "Update", T1)]
    assert owned_paths(after, "kubectl-edit", "Update") == [("f:spec", "f:replicas")]
    assert after["spec"] == {"replicas": 4}


def test_an_update_that_changes_nothing_keeps_the_entries() -> None:
    created = apply(None, thing(replicas=1), "a", now=T0)
    same = track_update(created, copy.deepcopy(created), "other", T1)
    assert same == created


def test_managed_fields_sent_with_an_update_replace_or_reset_them() -> None:
    created = apply(None, thing(replicas=1), "a", now=T0)
    reset = copy.deepcopy(created)
    reset["metadata"]["managedFields"] = [{}]
    assert "managedFields" not in track_update(created, reset, "u", T1)["metadata"]
    cleared = copy.deepcopy(created)
    cleared["metadata"]["managedFields"] = []
    assert entries(track_update(created, cleared, "u", T1)) == [("a", "Apply", T0)]


def test_entries_are_ordered_apply_first_then_by_time() -> None:
    created = apply(None, thing(replicas=1), "z", now=T0)
    updated = copy.deepcopy(created)
    updated["spec"]["extra"] = "e"
    updated = track_update(created, updated, "u", T1)
    applied = apply(updated, thing(replicas=1, args=["a"]), "b", now=T2)
    assert entries(applied) == [("z", "Apply", T0), ("b", "Apply", T2), ("u", "Update", T1)]


def test_malformed_managed_fields_start_afresh() -> None:
    live = thing(replicas=1)
    live["metadata"]["managedFields"] = [{"manager": "x", "operation": "Update",
                                          "fieldsV1": {"spec": 1}}]
    assert decode_managers(live) == {}


# -- what the server refuses --------------------------------------------------------------------

def test_managed_fields_in_an_applied_configuration_are_refused() -> None:
    config = thing(replicas=1)
    config["metadata"]["managedFields"] = []
    with pytest.raises(InvalidApply, match="^metadata.managedFields must be nil$") as raised:
        apply(None, config, "a")
    assert raised.value.status()["code"] == 400
    assert raised.value.status()["reason"] == "BadRequest"


def test_an_apply_in_another_version_is_refused() -> None:
    created = apply(None, thing(replicas=1), "a")
    config = thing(replicas=1)
    config["apiVersion"] = "test/v2"
    with pytest.raises(InvalidApply, match="Specified patch version: test/v2, expected: test/v1"):
        apply(created, config, "a")


def test_map_list_items_without_keys_or_twice_are_refused_in_the_servers_words() -> None:
    config = copy.deepcopy(DEPLOYMENT)
    containers = config["spec"]["template"]["spec"]["containers"]
    containers[0]["env"].append({"name": "MY_NODE_NAME", "value": "x"})
    containers.append({"image": "nameless"})
    with pytest.raises(InvalidApply) as raised:
        server_side_apply(None, config, "kubectl", False, T0)
    assert raised.value.message == (
        "failed to create typed patch object (default/nginx; apps/v1, Kind=Deployment): errors:\n"
        '  .spec.template.spec.containers[name="nginx"].env: duplicate entries for key '
        '[name="MY_NODE_NAME"]\n'
        "  .spec.template.spec.containers: element 1: associative list with keys has an element "
        'that omits key field "name" (and doesn\'t have default value)')
    assert (raised.value.code, raised.value.reason) == (500, "")


def test_a_port_without_protocol_is_keyed_by_its_default() -> None:
    config = thing(ports=[{"port": 80}, {"port": 80, "protocol": "UDP"}])
    created = apply(None, config, "a")
    assert owned_paths(created, "a") == [
        ("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}'),
        ("f:spec", "f:ports", 'k:{"port":80,"protocol":"UDP"}'),
        ("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}', "f:port"),
        ("f:spec", "f:ports", 'k:{"port":80,"protocol":"UDP"}', "f:port"),
        ("f:spec", "f:ports", 'k:{"port":80,"protocol":"UDP"}', "f:protocol")]
    with pytest.raises(InvalidApply, match="duplicate entries for key"):
        apply(None, thing(ports=[{"port": 80}, {"port": 80, "protocol": "TCP"}]), "a")


def test_more_than_ten_updaters_merge_the_oldest_into_ancient_changes() -> None:
    obj = apply(None, thing(replicas=1), "a", now=T0)
    for n in range(12):
        after = copy.deepcopy(obj)
        after["metadata"].setdefault("labels", {})[f"l{n}"] = "x"
        obj = track_update(obj, after, f"u{n:02}", f"2026-01-01T01:{n:02}:00Z")
        names = [e["manager"] for e in obj["metadata"]["managedFields"]]
        if n == 10:  # the 11th updater: the two oldest become one
            assert names == ["a", "ancient-changes"] + [f"u{k:02}" for k in range(2, 11)]
    # Then the bucket, oldest, takes in the next oldest, with its time.
    assert names == ["a", "ancient-changes"] + [f"u{k:02}" for k in range(3, 12)]
    ancient = obj["metadata"]["managedFields"][1]
    assert ancient["time"] == "2026-01-01T01:02:00Z"
    assert set(ancient["fieldsV1"]["f:metadata"]["f:labels"]) == {".", "f:l0", "f:l1", "f:l2"}


def test_a_subresource_write_keeps_the_live_managed_fields() -> None:
    created = apply(None, thing(replicas=1), "a", now=T0)
    scaled = copy.deepcopy(created)
    scaled["spec"]["replicas"] = 2
    scaled["metadata"]["managedFields"] = [{}]
    after = track_update(created, scaled, "kubectl", T1, subresource="scale")
    assert entries(after) == [("kubectl", "Update", T1)]  # "a" lost replicas, nothing reset
    assert after["metadata"]["managedFields"][0]["subresource"] == "scale"


def test_null_in_an_applied_configuration_sets_nothing() -> None:
    created = apply(None, thing(replicas=1, extra=None), "a")
    assert created["spec"] == {"replicas": 1}


def test_the_status_subresource_applies_only_status() -> None:
    created = apply(None, thing(replicas=1), "a", now=T0)
    config = thing(replicas=9)
    config["status"] = {"ready": True}
    config["metadata"]["labels"] = {"x": "y"}
    after = server_side_apply(created, config, "kubelet", False, T1, schema=SCHEMA,
                              subresource="status")
    assert after["spec"] == {"replicas": 1} and "labels" not in after["metadata"]
    assert after["status"] == {"ready": True}
    assert after["metadata"]["managedFields"][1] == {
        "manager": "kubelet", "operation": "Apply", "apiVersion": "test/v1", "time": T1,
        "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:ready": {}}},
        "subresource": "status"}


# -- from kubectl's client-side apply to its server-side apply ------------------------------------

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def client_side_applied(replicas: int, live_replicas: int | None = None) -> dict[str, Any]:
    """A Thing as `kubectl apply` (client-side) creates it; live_replicas: changed since."""
    config = thing(replicas=replicas)
    obj = copy.deepcopy(config)
    obj["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(config) + "\n"}
    created = track_update(None, obj, "kubectl-client-side-apply", T0)
    if live_replicas is not None:
        created["spec"]["replicas"] = live_replicas
    return created


def test_kubectl_takes_over_what_its_client_side_apply_set() -> None:
    live = client_side_applied(1)
    with pytest.raises(ApplyConflict, match='"kubectl-client-side-apply" using test/v1'):
        apply(live, thing(replicas=2), "someone")
    after = apply(live, thing(replicas=2), "kubectl")
    assert after["spec"] == {"replicas": 2}
    assert owned_paths(after, "kubectl") == [("f:spec", "f:replicas")]
    # The annotation follows the applied configuration, as Go encodes it.
    assert after["metadata"]["annotations"][LAST_APPLIED] == (
        '{"apiVersion":"test/v1","kind":"Thing","metadata":{"name":"t"},'
        '"spec":{"replicas":2}}\n')


def test_kubectl_conflicts_on_what_changed_since_its_client_side_apply() -> None:
    live = client_side_applied(1, live_replicas=3)
    with pytest.raises(ApplyConflict, match=r"kubectl-client-side-apply.*\.spec\.replicas"):
        apply(live, thing(replicas=2), "kubectl")


def test_without_the_annotation_kubectl_conflicts_like_anyone() -> None:
    live = client_side_applied(1)
    del live["metadata"]["annotations"]
    with pytest.raises(ApplyConflict):
        apply(live, thing(replicas=2), "kubectl")


def test_items_of_an_atomic_type_are_one_field() -> None:
    # OwnerReference is atomic wherever it appears: the item is owned whole, and replaced whole.
    pod: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1",
             "controller": True}]},
        "spec": {"containers": [{"name": "c", "image": "i"}]}}
    created = server_side_apply(None, pod, "m", False, T0)
    assert created["metadata"]["managedFields"][0]["fieldsV1"]["f:metadata"] == {
        "f:ownerReferences": {'k:{"uid":"u1"}': {}}}
    tracked = track_update(None, pod, "u", T0)
    assert tracked["metadata"]["managedFields"][0]["fieldsV1"]["f:metadata"] == {
        "f:ownerReferences": {".": {}, 'k:{"uid":"u1"}': {}}}
    changed = copy.deepcopy(pod)
    changed["metadata"]["ownerReferences"][0] = {"uid": "u1", "name": "other"}
    after = server_side_apply(created, changed, "m", False, T1)
    assert after["metadata"]["ownerReferences"] == [{"uid": "u1", "name": "other"}]
