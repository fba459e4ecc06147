"""A pod's claims as its worker plans them: only a claim the node's binder bound is mounted, on
the volume its binding recorded; otherwise the pod waits, in the scheduler's words (review of
issue 14: a Pending claim used to get a running pod on a volume the pod made itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localsvc.node.podworker import PodWorker
from localsvc.node.store import PodRecord
from tests.unit.node_builders import controller, manifests

Obj = dict[str, Any]
KEY = "PersistentVolumeClaim/default/data"


def claim(**spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}, **spec}}


POD = {"metadata": {"name": "p", "namespace": "default", "uid": "u1",
                    "creationTimestamp": "2026-01-01T00:00:00Z"},
       "spec": {"containers": [{"name": "c", "image": "busybox",
                                "volumeMounts": [{"name": "d", "mountPath": "/d"}]}],
                "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}}


def worker_of(node: Any) -> PodWorker:
    return PodWorker(node.ctx, PodRecord(POD), node.lookup, node.mark_dirty,
                     claim_volume=node.claim_volume)


def test_a_pod_waits_for_a_missing_claim(tmp_path: Path) -> None:
    node = controller(tmp_path)
    plan, error = worker_of(node)._plan()
    assert plan is None and error == 'persistentvolumeclaim "data" not found'


def test_a_pod_on_a_claim_that_stays_pending_waits(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(claim(storageClassName="fast")), prune=False)
    node._sync_claims()
    node._publish()
    assert node.objects.get(KEY)["status"]["phase"] == "Pending"
    plan, error = worker_of(node)._plan()
    assert plan is None and error == "pod has unbound immediate PersistentVolumeClaims"


def test_a_bound_claims_pod_mounts_the_bindings_volume_and_is_woken(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(claim()), prune=False)
    worker = worker_of(node)
    assert worker._plan()[0] is None  # not bound yet
    node.workers["u1"] = worker
    worker._wake.clear()
    node._provisioned(KEY, node.state.objects[KEY], ("the-bound-volume", "/m", False))
    assert worker._wake.is_set()  # it plans again at once, not after its resync delay
    plan, error = worker._plan()
    assert error == "" and plan is not None
    assert [(v.kind, v.volume) for v in plan.volumes] == [
        ("persistentVolumeClaim", "the-bound-volume")]


def test_a_binding_wakes_only_the_pods_using_that_claim(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(claim()), prune=False)
    user = worker_of(node)
    other_ns = {**POD, "metadata": {**POD["metadata"], "namespace": "team", "uid": "u2"}}
    no_claim = {"metadata": {**POD["metadata"], "name": "q", "uid": "u3"},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    others = [PodWorker(node.ctx, PodRecord(p), node.lookup, node.mark_dirty,
                        claim_volume=node.claim_volume) for p in (other_ns, no_claim)]
    for w in (user, *others):
        node.workers[w.record.uid] = w
        w._wake.clear()
    node._provisioned(KEY, node.state.objects[KEY], ("the-bound-volume", "/m", False))
    assert user._wake.is_set()
    assert not any(w._wake.is_set() for w in others)  # another namespace's "data", no claim


def test_a_claim_deleted_under_a_running_pod_keeps_its_volume_for_it(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(claim()), prune=False)
    node._provisioned(KEY, node.state.objects[KEY], ("vol", "/m", False))
    worker = worker_of(node)
    assert worker._plan()[1] == ""
    node.delete([KEY])
    node.state.pods["default/p"] = PodRecord(POD)  # the pod still runs: the claim terminates
    node._sync_claims()
    assert node.claim_waiting("default", "data") == 'persistentvolumeclaim "data" is being deleted'
    plan, error = worker._plan()
    assert error == "" and plan is not None and plan.volumes[0].volume == "vol"
    plan, error = worker_of(node)._plan()  # a new pod waits
    assert plan is None and error == 'persistentvolumeclaim "data" is being deleted'


def test_a_claim_recreated_while_its_volume_is_removed_waits_for_a_new_one(
        tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(claim()), prune=False)
    node._provisioned(KEY, node.state.objects[KEY], ("vol", "/m", False))
    node.delete([KEY])
    node.apply(manifests(claim()), prune=False)  # same name, new uid: the old volume goes first
    plan, error = worker_of(node)._plan()
    assert plan is None and error == "pod has unbound immediate PersistentVolumeClaims"
