"""`delete --cascade=orphan` keeps everything the deleted object owns (review of issue 14: a
StatefulSet's claims and revisions kept its ownerReference and were collected, the claims' data
reclaimed; a CronJob's Jobs were deleted with it)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from localsvc.node import cronjobsync
from localsvc.node.madeobjects import disowned
from tests.unit.node_builders import controller, manifests

Obj = dict[str, Any]
STS: Obj = {
    "apiVersion": "apps/v1", "kind": "StatefulSet",
    "metadata": {"name": "db", "namespace": "default"},
    "spec": {"replicas": 1, "serviceName": "db", "podManagementPolicy": "Parallel",
             "selector": {"matchLabels": {"app": "db"}},
             "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"},
             "template": {"metadata": {"labels": {"app": "db"}},
                          "spec": {"containers": [{"name": "c", "image": "postgres"}]}},
             "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                 "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}}}]}}
CLAIM = "PersistentVolumeClaim/default/data-db-0"
CRONJOB: Obj = {
    "apiVersion": "batch/v1", "kind": "CronJob",
    "metadata": {"name": "tick", "namespace": "default"},
    "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "demo"}]}}}}}}


def test_orphan_delete_of_a_statefulset_keeps_its_claims_and_revisions(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(STS), prune=False)
    node._sync_statefulset(node.state.objects["StatefulSet/default/db"], set())
    node._provisioned(CLAIM, node.state.objects[CLAIM], ("v", "/m", False))  # bound
    revisions = [k for k in node.state.objects if k.startswith("ControllerRevision/")]
    assert revisions and node.state.objects[CLAIM]["metadata"].get("ownerReferences")
    node.delete(["StatefulSet/default/db"], orphan=True)  # kubectl delete --cascade=orphan
    assert "Pod/default/db-0" in node.state.objects  # the pod was orphaned, kept
    assert not node.state.objects[CLAIM]["metadata"].get("ownerReferences")
    node.state.objects.pop("Pod/default/db-0")  # the pod goes later
    node.state.pods.pop("default/db-0")
    node.collect_orphans()
    assert CLAIM in node.state.objects  # not garbage-collected...
    assert not node.claim_table[CLAIM].get("reclaim")  # ...its data stays
    assert all(k in node.state.objects for k in revisions)


def test_a_plain_delete_of_a_statefulset_still_collects_its_claims(tmp_path: Path) -> None:
    node = controller(tmp_path)
    node.apply(manifests(STS), prune=False)
    node._sync_statefulset(node.state.objects["StatefulSet/default/db"], set())
    node._provisioned(CLAIM, node.state.objects[CLAIM], ("v", "/m", False))
    node.delete(["StatefulSet/default/db"])
    node.state.pods.pop("default/db-0", None)
    node.collect_orphans()
    assert CLAIM not in node.state.objects
    assert node.claim_table[CLAIM].get("reclaim") is True


def test_orphan_delete_of_a_cronjob_keeps_its_jobs(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    node = controller(tmp_path)
    node.apply(manifests(CRONJOB), prune=False)
    later = time.time() + 61
    monkeypatch.setattr(cronjobsync.time, "time", lambda: later)
    node._sync_cronjob(node.state.objects["CronJob/default/tick"], set())
    (job,) = node.state.objects_of("Job")
    node.delete(["CronJob/default/tick"], orphan=True)
    node.collect_orphans()
    (kept,) = node.state.objects_of("Job")
    assert kept["metadata"]["name"] == job["metadata"]["name"]
    assert "ownerReferences" not in kept["metadata"]


def test_disowned_drops_only_that_owner_and_copies() -> None:
    obj = {"kind": "PersistentVolumeClaim", "metadata": {"name": "c", "ownerReferences": [
        {"uid": "set"}, {"uid": "pod"}]}}
    out = disowned({"k": obj, "other": {"metadata": {}}}, "set")
    assert out == {"k": {"kind": "PersistentVolumeClaim",
                         "metadata": {"name": "c", "ownerReferences": [{"uid": "pod"}]}}}
    assert len(obj["metadata"]["ownerReferences"]) == 2  # the stored object is not changed
    assert disowned({"k": obj}, "") == {}


def test_one_collector_takes_the_dependents_of_gone_owners_made_or_applied(
        tmp_path: Path) -> None:
    node = controller(tmp_path)
    ref = {"apiVersion": "batch/v1", "kind": "CronJob", "name": "gone", "uid": "gone-uid",
           "controller": True}
    job: Obj = {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": "made", "namespace": "default", "ownerReferences": [ref]},
                "spec": {"suspend": True, "template": {"spec": {"restartPolicy": "Never",
                                               "containers": [{"name": "c", "image": "x"}]}}}}
    revision: Obj = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                     "metadata": {"name": "r", "namespace": "default",
                                  "ownerReferences": [{**ref, "kind": "StatefulSet"}]},
                     "revision": 1}
    node.store_made_object(job, "cronjob-controller")
    node.store_made_object(revision, "statefulset-controller")
    applied = {**job, "metadata": {**job["metadata"], "name": "applied"}}
    node.apply(manifests(applied), prune=False)
    unowned = {**job, "metadata": {"name": "unowned", "namespace": "default"}}
    node.apply(manifests(unowned), prune=False)
    node.collect_orphans()
    assert "Job/default/made" not in node.state.objects
    assert "ControllerRevision/default/r" not in node.state.objects
    # An API-created dependent goes too (`kubectl create job --from=cronjob/X` makes one: it
    # stayed after its CronJob's delete); an object with no owner stays.
    assert "Job/default/applied" not in node.state.objects
    assert "Job/default/unowned" in node.state.objects
