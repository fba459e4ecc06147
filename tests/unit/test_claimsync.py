"""The node's volume controller without Docker: a Controller over a state directory, outside an
event loop (so no Docker job starts; a job's completion is called as the job would call it).
Bindings are saved and served again after a restart; a deleted claim is Terminating while a pod
uses it and then reclaimed; a claim pruned by `up` keeps its data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localsvc.model import claims as cl
from localsvc.node.claimsync import TABLE
from localsvc.node.controller import Controller
from localsvc.node.store import PodRecord
from localsvc.runtime import labels as L
from localsvc.runtime.claims import claim_labels, claim_volume_name, is_claim_volume
from tests.unit.node_builders import controller, manifests

KEY = "PersistentVolumeClaim/default/data"
Obj = dict[str, Any]


def claim() -> Obj:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}}


def bound_node(tmp_path: Path) -> Controller:
    node = controller(tmp_path)
    node.apply(manifests(claim()), prune=False)
    assert node.objects.get(KEY)["status"] == {"phase": "Pending"}  # its volume is being made
    node._provisioned(KEY, node.state.objects[KEY], ("localsvc-unit-pvc-default.data", "/mnt",
                                                     False))
    assert node._sync_claims() is True  # the binding is to be saved
    node._publish()
    return node


def test_a_provisioned_claim_is_served_bound_with_its_volume_and_the_class(
        tmp_path: Path) -> None:
    node = bound_node(tmp_path)
    served = node.objects.get(KEY)
    uid = served["metadata"]["uid"]
    assert served["status"]["phase"] == "Bound"
    assert served["spec"]["volumeName"] == cl.pv_name(uid)
    pv = node.objects.get(f"PersistentVolume//pvc-{uid}")
    assert pv["spec"]["claimRef"]["uid"] == uid and pv["spec"]["hostPath"]["path"] == "/mnt"
    assert node.objects.get("StorageClass//standard")["provisioner"] == cl.PROVISIONER
    events, _ = node.objects.list_objects("Event")
    assert [e["reason"] for e in events] == ["ProvisioningSucceeded"]


def test_a_restarted_node_serves_the_saved_binding_at_once(tmp_path: Path) -> None:
    node = bound_node(tmp_path)
    node.store.save(node.state)
    uid = node.state.objects[KEY]["metadata"]["uid"]
    again = controller(tmp_path)
    assert again.state.allocations[TABLE][KEY]["uid"] == uid
    assert again.objects.get(KEY)["status"]["phase"] == "Bound"
    assert again.objects.get(f"PersistentVolume//pvc-{uid}") is not None
    assert again._sync_claims() is False  # nothing new: the same binding, no second volume


def test_a_deleted_claim_stays_terminating_while_a_pod_uses_it(tmp_path: Path) -> None:
    node = bound_node(tmp_path)
    uid = node.state.objects[KEY]["metadata"]["uid"]
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "p", "namespace": "default", "uid": "pod-1"},
           "spec": {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}}
    # As delete() leaves it, with the pod still there (no sync: it would start the pod).
    node.state.allocations[TABLE][KEY] = {**node.state.allocations[TABLE][KEY], "reclaim": True}
    del node.state.objects[KEY]
    node.state.pods["default/p"] = PodRecord(obj=pod)
    node._sync_claims()
    node._publish()
    served = node.objects.get(KEY)
    assert served["metadata"]["deletionTimestamp"]
    assert cl.CLAIM_PROTECTION in served["metadata"]["finalizers"]
    assert node.objects.get(f"PersistentVolume//pvc-{uid}") is not None
    del node.state.pods["default/p"]
    node._sync_claims()
    node._publish()
    assert node.objects.get(KEY) is None  # gone; its volume's removal is the job's
    assert KEY in node.state.allocations[TABLE]
    node._reclaimed(KEY, uid, None)
    assert KEY not in node.state.allocations[TABLE]
    node._publish()
    assert node.objects.get(f"PersistentVolume//pvc-{uid}") is None


def test_pods_volumes_are_scanned_only_for_a_claim_marked_for_reclaim(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = bound_node(tmp_path)
    scans: list[int] = []
    scan = node._claims_in_use

    def counted() -> set[tuple[str, str]]:
        scans.append(1)
        return scan()

    monkeypatch.setattr(node, "_claims_in_use", counted)
    node._sync_claims()
    assert scans == []  # bound and stored: no pod's volumes looked at
    node.state.allocations[TABLE][KEY] = {**node.state.allocations[TABLE][KEY], "reclaim": True}
    del node.state.objects[KEY]
    node._sync_claims()
    assert scans == [1]


def test_delete_marks_the_claim_for_reclaim_and_prune_keeps_the_data(tmp_path: Path) -> None:
    node = bound_node(tmp_path)
    node.delete([KEY])
    assert node.state.allocations[TABLE][KEY]["reclaim"] is True  # removed by its job
    restarted = controller(tmp_path)  # before the job ran: the saved mark still says so
    assert restarted.state.allocations[TABLE][KEY]["reclaim"] is True
    assert restarted.objects.get(KEY) is None
    other = bound_node(tmp_path / "other")
    other.apply([], prune=True)  # `up` without the claim
    assert KEY not in other.state.allocations[TABLE]  # forgotten, its volume left alone


def test_claims_whose_names_joined_with_a_dash_match_get_their_own_volumes() -> None:
    # `team-a/data` and `team/a-data`: a "-" between namespace and claim made one name of both.
    assert claim_volume_name("unit", "team-a", "data") == "localsvc-unit-pvc-team-a.data"
    assert claim_volume_name("unit", "team", "a-data") == "localsvc-unit-pvc-team.a-data"


def test_claim_volumes_are_told_by_their_labels() -> None:
    assert is_claim_volume(claim_labels("e1", "default", "data"))
    assert not is_claim_volume(L.base("e1", "pod-volume"))
    assert not is_claim_volume(None)


def test_what_a_pod_using_a_claim_waits_for(tmp_path: Path) -> None:
    node = controller(tmp_path)
    assert node.claim_waiting("default", "data") == 'persistentvolumeclaim "data" not found'
    node.apply(manifests(claim()), prune=False)
    assert node.claim_waiting("default", "data") == \
        "pod has unbound immediate PersistentVolumeClaims"
    node._provisioned(KEY, node.state.objects[KEY], ("v", "/m", False))
    assert node.claim_waiting("default", "data") is None


def test_a_claim_a_statefulset_deletes_by_its_retention_policy_is_reclaimed(tmp_path: Path) -> None:
    # The StatefulSet controller's garbage collection removes a claim whose owner is gone
    # (whenDeleted/whenScaled: Delete): that is a delete, not a prune, so the data goes too.
    node = bound_node(tmp_path)
    node.remove_made_object(KEY)
    assert KEY not in node.state.objects
    assert node.state.allocations[TABLE][KEY]["reclaim"] is True
    assert node._sync_claims() is True  # the mark is saved with the next write
